package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The package's tests share one cache (worker code, tiny shapes data) in a
// temporary folder that the sandbox's uid can enter.
var (
	testCache string
	envOnce   sync.Once
	envPy     *Python
	envSB     *Sandbox
	envErr    error
	dataMu    sync.Mutex
	dataSets  = map[string]*Dataset{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nngpt-runner-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755)
	testCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needTorch returns an interpreter with torch and the sandbox, or skips.
func needTorch(t testing.TB) (*Python, *Sandbox) {
	t.Helper()
	envOnce.Do(func() {
		ctx := context.Background()
		envPy, _, envErr = FindPython(ctx, PythonOptions{CacheDir: testCache})
		if envErr == nil {
			envSB, envErr = NewSandbox(ctx, SandboxAuto)
		}
	})
	if envErr != nil {
		t.Skipf("skipping: needs python3 with torch: %v", envErr)
	}
	return envPy, envSB
}

// needBwrap skips unless bubblewrap works here.
func needBwrap(t testing.TB) (*Python, *Sandbox) {
	t.Helper()
	py, sb := needTorch(t)
	if sb.Isolation != IsolationBwrap {
		t.Skipf("skipping: needs a working bubblewrap: %s", sb.Reason)
	}
	return py, sb
}

// tinyShapes is a small shapes dataset (train and test sizes differ so a
// model cannot mistake the train labels for the test ones).
func tinyShapes(t testing.TB, n, nt int) *Dataset {
	t.Helper()
	py, sb := needTorch(t)
	dataMu.Lock()
	defer dataMu.Unlock()
	spec := DatasetSpec{Name: "shapes", NTrain: n, NTest: nt, Seed: 1}
	if d := dataSets[spec.Key()]; d != nil {
		return d
	}
	d, err := Datasets{CacheDir: testCache, Sandbox: sb}.Prepare(context.Background(), py, spec)
	if err != nil {
		t.Fatalf("prepare shapes: %v", err)
	}
	dataSets[spec.Key()] = d
	return d
}

func newTestLocal(t testing.TB, sb *Sandbox, lim Limits, slots ...int) *Local {
	t.Helper()
	py, _ := needTorch(t)
	scr := filepath.Join(testCache, "scratch")
	_ = os.MkdirAll(scr, 0o755)
	cfg := LocalConfig{Python: py, Sandbox: sb, CacheDir: testCache, ScratchRoot: scr, Limits: lim}
	if len(slots) > 0 {
		cfg.Slots, cfg.Threads = slots[0], 1
	}
	l, err := NewLocal(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func readModel(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func runJob(t testing.TB, l *Local, job Job) (*Result, []Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := l.Submit(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for ev := range r.Events() {
		evs = append(evs, ev)
	}
	res, err := r.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res, evs
}
