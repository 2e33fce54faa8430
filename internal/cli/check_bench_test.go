package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nngpt/nngpt/runner"
)

// BenchmarkCheckVsPlain times `nngpt check` (in-process CLI, sandboxed
// worker, start-up included) on one epoch of a small CNN over 5,000 shapes
// images, against the same training in a plain PyTorch script (a fresh
// python3 each time, start-up included), and python + torch import alone.
// The three alternate in every iteration so machine load hits them alike.
//
//	go test -run '^$' -bench CheckVsPlain -benchtime 5x ./internal/cli/
func BenchmarkCheckVsPlain(b *testing.B) {
	if exec.Command("/usr/bin/python3", "-c", "import torch").Run() != nil {
		b.Skip("skipping: needs /usr/bin/python3 with torch")
	}
	dir := b.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	b.Setenv("NNGPT_CACHE", filepath.Join(dir, "cache"))
	model, _ := filepath.Abs(filepath.Join("testdata", "bench", "BenchCNN.py"))
	plain, _ := filepath.Abs(filepath.Join("testdata", "bench", "plain_train.py"))
	threads := runtime.NumCPU()
	ctx := context.Background()
	check := func() (time.Duration, checkReport) {
		var out, errb bytes.Buffer
		t0 := time.Now()
		code := Execute(ctx, []string{"-w", filepath.Join(dir, "ws"), "check", model, "--json"}, &out, &errb)
		d := time.Since(t0)
		var rep checkReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || code != 0 {
			b.Fatalf("check: exit %d: %v\n%s\n%s", code, err, out.String(), errb.String())
		}
		return d, rep
	}
	check() // prepares the dataset and the python probe cache: not timed
	data := filepath.Join(dir, "cache", "datasets", runner.DatasetSpec{Name: "shapes"}.Key())
	env := append(os.Environ(), "OMP_WAIT_POLICY=PASSIVE") // the setting nngpt's workers run with
	var tCheck, tPlain, tImport, tStartup time.Duration
	var acc float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, rep := check()
		tCheck += d
		tStartup += time.Duration(rep.Result.StartupSec * float64(time.Second))
		acc += rep.Best

		t0 := time.Now()
		cmd := exec.Command("/usr/bin/python3", plain, data, filepath.Join(dir, "plain.npy"), itoa(threads))
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("plain script: %v\n%s", err, out)
		}
		tPlain += time.Since(t0)

		t0 = time.Now()
		imp := exec.Command("/usr/bin/python3", "-c", "import torch")
		imp.Env = env
		if err := imp.Run(); err != nil {
			b.Fatal(err)
		}
		tImport += time.Since(t0)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(tCheck.Seconds()/n, "check-s/op")
	b.ReportMetric(tPlain.Seconds()/n, "plain-s/op")
	b.ReportMetric(tImport.Seconds()/n, "torch-import-s/op")
	b.ReportMetric(tStartup.Seconds()/n, "worker-startup-s/op")
	b.ReportMetric(100*(tCheck.Seconds()/tPlain.Seconds()-1), "overhead-%")
	b.ReportMetric(acc/n, "acc")
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
