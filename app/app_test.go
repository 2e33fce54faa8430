package app

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/workspace"
)

// load is the configuration of dir with the given flags set, as a command
// that declares them would see it.
func load(t *testing.T, dir string, flags map[string]string) *config.Loaded {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	d := config.Default()
	fs.String("dataset", d.Dataset, "")
	fs.Int("epochs", d.Epochs, "")
	fs.String("sandbox", d.Sandbox, "")
	fs.String("cache-dir", "", "")
	fs.String("data-dir", "", "")
	for k, v := range flags {
		if err := fs.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(dir, fs)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func openWS(t *testing.T) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(context.Background(), filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// storeLoop stores an unfinished loop with settings s.
func storeLoop(t *testing.T, st store.Store, id string, s loop.Settings) {
	t.Helper()
	js, err := loop.EncodeSettings(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutLoop(context.Background(), store.Loop{ID: id, Status: store.LoopInterrupted, Config: js, Seed: s.Seed, Cycles: s.Cycles}); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLoopRefusesContradictions: resuming with a flag that
// contradicts the loop's stored settings is refused before anything is
// built, naming both values and the ways out; portable settings are not
// contradictions.
func TestOpenLoopRefusesContradictions(t *testing.T) {
	ws := openWS(t)
	s := loop.DefaultSettings()
	s.Dataset, s.Epochs, s.Seed = "shapes", 2, 5
	storeLoop(t, ws.Store, "20260101-000000-cafe0001", s)
	tests := []struct {
		name  string
		flags map[string]string
		want  []string // in the error; nil: no contradiction
	}{
		{"other dataset", map[string]string{"dataset": "mnist"}, []string{`--dataset "mnist"`, `dataset = "shapes"`, "--new", "20260101-000000-cafe0001"}},
		{"other epochs", map[string]string{"epochs": "3"}, []string{"--epochs 3", "epochs = 2"}},
		{"same value", map[string]string{"epochs": "2"}, nil},
		{"portable data folder", map[string]string{"data-dir": "/elsewhere"}, nil},
	}
	for _, tc := range tests {
		cfg := load(t, ws.Dir, tc.flags)
		plan, err := loop.Resolve(context.Background(), ws.Store, loop.Selection{}, cfg.Settings)
		if err != nil || !plan.Resumed {
			t.Fatalf("%s: resolve %v %+v", tc.name, err, plan)
		}
		got, err := cfg.ForLoop(plan.Loop.ID, plan.Settings)
		if tc.want == nil {
			if err != nil || got.Dataset != "shapes" || got.Epochs != 2 {
				t.Errorf("%s: %v, settings %s/%d", tc.name, err, got.Dataset, got.Epochs)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, err, w)
			}
		}
		// OpenLoop refuses the same way, before it looks for python.
		if _, err := OpenLoop(context.Background(), ws, cfg, loop.Selection{}, nil); err == nil || !strings.Contains(err.Error(), tc.want[0]) {
			t.Errorf("%s: OpenLoop %v", tc.name, err)
		}
	}
	got, err := load(t, ws.Dir, map[string]string{"data-dir": "/elsewhere"}).ForLoop("x", s)
	if err != nil || got.Data.Dir != "/elsewhere" {
		t.Errorf("portable data.dir not taken: %q %v", got.Data.Dir, err)
	}
}

// TestOpenLoopBuildsFromStoredSettings: a resumed loop, stored by an older
// nngpt (version-0 settings), is built from its own settings, not from the
// defaults: its dataset is the small shapes set it was started with.
func TestOpenLoopBuildsFromStoredSettings(t *testing.T) {
	if _, _, err := runner.FindPython(context.Background(), runner.PythonOptions{}); err != nil {
		t.Skipf("no python with torch: %v", err)
	}
	ws := openWS(t)
	v0 := `{"Cycles":1,"Candidates":2,"Epochs":3,"Seed":9,"Recommender":"learned","Task":"img-classification","Dataset":"shapes",
"Metric":"acc","Admit":1.2,"MaxParams":500000,"Batch":32,"Data":{"Train":200,"Test":50,"Size":16},
"LLM":{"Selection":"best","Shots":3},"Evolve":{"Learn":true},"EarlyStop":{"Enabled":false}}`
	if err := ws.Store.PutLoop(context.Background(), store.Loop{ID: "20260101-000000-0ld00001", Status: store.LoopRunning,
		Config: v0, Seed: 9, Cycles: 1}); err != nil {
		t.Fatal(err)
	}
	var notice bytes.Buffer
	lp, err := OpenLoop(context.Background(), ws, load(t, ws.Dir, nil), loop.Selection{}, &notice)
	if err != nil {
		t.Fatal(err)
	}
	s := lp.Plan.Settings
	if !lp.Plan.Resumed || s.Epochs != 3 || s.Batch != 32 || s.MaxParams != 500_000 || s.Seed != 9 {
		t.Fatalf("plan %+v", lp.Plan)
	}
	if lp.Data.Name != "shapes" || lp.Data.NTrain != 200 || lp.Data.NTest != 50 || lp.Data.Height != 16 {
		t.Fatalf("dataset %s %dx%d, %d/%d: not the loop's", lp.Data.Name, lp.Data.Height, lp.Data.Width, lp.Data.NTrain, lp.Data.NTest)
	}
	if lp.Engine.Pruner != nil {
		t.Errorf("early stopping was off in the stored settings")
	}
}

// TestNewWorkerSandbox: bwrap refuses to run where bubblewrap cannot;
// none is taken only from the command line.
func TestNewWorkerSandbox(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		flags    map[string]string
		env, err string
		noBwrap  bool
	}{
		{name: "bwrap required, not installed", flags: map[string]string{"sandbox": "bwrap"}, noBwrap: true, err: "bubblewrap is not installed"},
		{name: "none from the environment", env: "none", err: "must be asked for on the command line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noBwrap {
				t.Setenv("PATH", t.TempDir())
			}
			if tc.env != "" {
				t.Setenv("NNGPT_SANDBOX", tc.env)
			}
			_, err := NewWorker(context.Background(), load(t, dir, tc.flags), nil)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}
