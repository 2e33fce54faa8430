package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindPython(t *testing.T) {
	needTorch(t)
	ctx := context.Background()
	fake := filepath.Join(t.TempDir(), "bin")
	os.MkdirAll(fake, 0o755)
	// A python3 without torch first on PATH, as pyenv's shim is here.
	os.WriteFile(filepath.Join(fake, "python3"), []byte("#!/bin/sh\necho 'ModuleNotFoundError: No module named torch' >&2\nexit 1\n"), 0o755)

	t.Run("explicit missing", func(t *testing.T) {
		_, tried, err := FindPython(ctx, PythonOptions{Path: "/nonexistent/python3"})
		if !errors.Is(err, ErrNoTorch) || len(tried) != 1 || !strings.Contains(err.Error(), "/nonexistent/python3") {
			t.Fatalf("err %v tried %v", err, tried)
		}
	})
	t.Run("env without torch is not searched past", func(t *testing.T) {
		t.Setenv("NNGPT_PYTHON", filepath.Join(fake, "python3"))
		_, _, err := FindPython(ctx, PythonOptions{})
		if !errors.Is(err, ErrNoTorch) || !strings.Contains(err.Error(), "NNGPT_PYTHON") && !strings.Contains(err.Error(), fake) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("search skips a python3 without torch", func(t *testing.T) {
		t.Setenv("NNGPT_PYTHON", "")
		t.Setenv("PATH", fake+":"+os.Getenv("PATH"))
		cache := t.TempDir()
		py, tried, err := FindPython(ctx, PythonOptions{CacheDir: cache})
		if err != nil {
			t.Skipf("no interpreter with torch on the search path: %v", err)
		}
		if py.Torch == "" || tried[0].Err == nil || !strings.Contains(py.Why, "skipped "+filepath.Join(fake, "python3")) {
			t.Fatalf("py %+v tried %+v", py, tried)
		}
		files, _ := filepath.Glob(filepath.Join(cache, "python", "*.json"))
		if len(files) != 1 {
			t.Fatalf("probe cache holds %v", files)
		}
		py2, _, err := FindPython(ctx, PythonOptions{CacheDir: cache})
		if err != nil || py2.Real != py.Real || py2.Torch != py.Torch {
			t.Fatalf("cached probe %+v %v", py2, err)
		}
	})
}

func TestCheckDevice(t *testing.T) {
	cpuOnly := &Python{Path: "/usr/bin/python3", Torch: "2.1.0"}
	twoGPUs := &Python{Path: "/usr/bin/python3", Torch: "2.1.0", CUDA: true, GPUs: []string{"H100", "H100"}}
	tests := []struct {
		py     *Python
		device string
		want   string // "" for no error, else a part of it
	}{
		{cpuOnly, "cpu", ""},
		{cpuOnly, "", ""},
		{cpuOnly, "cuda", "sees no GPU"},
		{cpuOnly, "cuda:0", "sees no GPU"},
		{twoGPUs, "cuda", ""},
		{twoGPUs, "cuda:1", ""},
		{twoGPUs, "cuda:2", "cuda:0 to cuda:1"},
		{twoGPUs, "gpu", "want cpu, cuda or cuda:N"},
		{twoGPUs, "cuda:-1", "want cpu, cuda or cuda:N"},
	}
	for _, tc := range tests {
		err := tc.py.CheckDevice(tc.device)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckDevice(%q) with CUDA=%v: %v, want %q", tc.device, tc.py.CUDA, err, tc.want)
		}
	}
}
