package zoo

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nngpt/nngpt/runner"
)

// TestZooTrains runs every zoo model through the sandboxed runner for one
// epoch. By default on tiny shapes data (the model must build, run forward,
// train and evaluate without a failure); with NNGPT_ZOO_FULL=1 on the full
// shapes set (5000 train, 1000 test, 10 classes), where each model must
// also beat 1.2 x chance, which is the zoo's promise (slow: minutes).
func TestZooTrains(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: trains every zoo model (-short)")
	}
	ctx := context.Background()
	py, _, err := runner.FindPython(ctx, runner.PythonOptions{})
	if err != nil {
		t.Skipf("skipping: needs python3 with torch: %v", err)
	}
	full := os.Getenv("NNGPT_ZOO_FULL") == "1"
	// Not t.TempDir: its parent is private, and the sandbox's uid must
	// enter the cache.
	cache, err := os.MkdirTemp("", "nngpt-zoo-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(cache) })
	_ = os.Chmod(cache, 0o755)
	spec := runner.DatasetSpec{Name: "shapes", NTrain: 192, NTest: 64, Size: 16, Seed: 1}
	if full {
		spec = runner.DatasetSpec{Name: "shapes", Seed: 1}
	}
	sb, err := runner.NewSandbox(ctx, runner.SandboxAuto)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := runner.Datasets{CacheDir: cache, Sandbox: sb}.Prepare(ctx, py, spec)
	if err != nil {
		t.Fatalf("prepare shapes: %v", err)
	}
	scratch := filepath.Join(cache, "scratch")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	ex, err := runner.NewLocal(ctx, runner.LocalConfig{Python: py, Sandbox: sb, CacheDir: cache, ScratchRoot: scratch, Slots: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	threshold := 1.2 * ds.Chance()
	t.Run("models", func(t *testing.T) {
		for _, m := range Models() {
			t.Run(m.Name, func(t *testing.T) {
				t.Parallel() // the executor runs two at a time
				start := time.Now()
				run, err := ex.Submit(ctx, runner.Job{Name: m.Name, Code: m.Code, Data: ds, Epochs: 1, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				res, err := run.Wait(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !res.OK {
					t.Fatalf("run failed: %v\n%s", res.Failure, res.LogTail)
				}
				acc := res.Best()
				t.Logf("%s: accuracy %.4f (1.2 x chance %.3f), %d params, %s", m.Name, acc, threshold, res.Params, time.Since(start).Round(time.Millisecond))
				if full && acc <= threshold {
					t.Errorf("accuracy %s after one epoch, want above 1.2 x chance = %.3f", strconv.FormatFloat(acc, 'f', 4, 64), threshold)
				}
			})
		}
	})
}
