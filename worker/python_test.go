package worker

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestPythonUnits runs worker/tests with an interpreter that has torch
// (NNGPT_PYTHON, else /usr/bin/python3, else python3).
func TestPythonUnits(t *testing.T) {
	var py string
	for _, c := range []string{os.Getenv("NNGPT_PYTHON"), "/usr/bin/python3", "python3"} {
		if c == "" {
			continue
		}
		if err := exec.Command(c, "-c", "import torch, numpy").Run(); err == nil {
			py = c
			break
		}
	}
	if py == "" {
		t.Skip("skipping: needs python3 with torch and numpy")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-B", "-m", "unittest", "-v", "tests.test_worker")
	cmd.Env = append(os.Environ(), "PYTHONPATH=.", "OMP_NUM_THREADS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python unit tests failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
