package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/workspace"
)

func TestHPOStudiesAndShow(t *testing.T) {
	ctx := context.Background()
	ws := filepath.Join(t.TempDir(), "ws")
	w, err := workspace.Open(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := hpo.LEMURSpace([]string{"lr", "momentum"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := hpo.OpenStudy(ctx, hpo.StoreStorage{S: w.Store}, hpo.StudyInfo{Name: "tune-a", Space: sp, Seed: 7,
		Attrs: map[string]string{"model": "NetA", "dataset": "shapes", "epochs": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, outcome := range []struct {
		state hpo.State
		value float64
	}{{hpo.Complete, 0.61}, {hpo.Pruned, 0.2}, {hpo.Complete, 0.74}, {hpo.Failed, 0}} {
		cfg := lemur.Dict{{Key: "batch", Value: int64(16)}, {Key: "lr", Value: 0.01 * float64(i+1)}, {Key: "momentum", Value: 0.9}, {Key: "transform", Value: "norm"}}
		if _, err := st.Enqueue(ctx, cfg, "test"); err != nil {
			t.Fatal(err)
		}
		tr, err := st.Ask(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Report(ctx, &tr, 1, outcome.value); err != nil {
			t.Fatal(err)
		}
		if err := st.Tell(ctx, &tr, outcome.state, outcome.value, ""); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()

	tests := []struct {
		args     []string
		code     int
		want     []string // in stdout, or stderr when code != 0
		wantJSON func(t *testing.T, v map[string]any)
	}{
		{args: []string{"hpo", "studies"}, want: []string{"tune-a", "NetA", "shapes", "0.7400 (trial 2)"}},
		{args: []string{"hpo", "studies", "--json"}, wantJSON: func(t *testing.T, v map[string]any) {
			s := v["studies"].([]any)[0].(map[string]any)
			states := s["states"].(map[string]any)
			if s["name"] != "tune-a" || s["best_trial"].(float64) != 2 || states["complete"].(float64) != 2 || states["pruned"].(float64) != 1 {
				t.Errorf("studies JSON %v", s)
			}
		}},
		{args: []string{"hpo", "show", "tune-a"}, want: []string{"seed 7", "lr=log:1e-05:1", "pruned", "failed", "best: trial 2, accuracy 0.7400"}},
		{args: []string{"hpo", "show", "tune-a", "--json"}, wantJSON: func(t *testing.T, v map[string]any) {
			trials := v["trials"].([]any)
			if len(trials) != 4 {
				t.Fatalf("%d trials in JSON, want 4", len(trials))
			}
			tr := trials[2].(map[string]any)
			if tr["value"].(float64) != 0.74 || tr["params"].(map[string]any)["lr"].(float64) != 0.03 {
				t.Errorf("trial 2 JSON %v", tr)
			}
			if _, ok := trials[3].(map[string]any)["value"]; ok {
				t.Errorf("a failed trial has a value: %v", trials[3])
			}
		}},
		{args: []string{"hpo", "show", "tune-b"}, code: 1, want: []string{`no study "tune-b"`, "tune-a"}},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := Execute(ctx, append([]string{"-w", ws}, tc.args...), &out, &errb)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %s)", tc.args, code, tc.code, errb.String())
			continue
		}
		text := out.String()
		if tc.code != 0 {
			text = errb.String()
		}
		for _, s := range tc.want {
			if !strings.Contains(text, s) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, s, text)
			}
		}
		if tc.wantJSON != nil {
			var v map[string]any
			if err := json.Unmarshal(out.Bytes(), &v); err != nil {
				t.Fatalf("%v: %v\n%s", tc.args, err, out.String())
			}
			tc.wantJSON(t, v)
		}
	}
}

// TestHPOParetoShowAndReport stores a two-objective study (accuracy vs
// parameters, persisted through SQLite) and checks that hpo show prints
// its Pareto front and hpo report draws every plot.
func TestHPOParetoShowAndReport(t *testing.T) {
	ctx := context.Background()
	ws := filepath.Join(t.TempDir(), "ws")
	w, err := workspace.Open(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := hpo.LEMURSpace([]string{"lr", "momentum"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	objs := []hpo.Objective{{Name: "acc", Direction: hpo.Maximize}, {Name: "params", Direction: hpo.Minimize}}
	st, err := hpo.OpenStudy(ctx, hpo.StoreStorage{S: w.Store}, hpo.StudyInfo{Name: "mo", Space: sp, Seed: 3, Objectives: objs})
	if err != nil {
		t.Fatal(err)
	}
	// Trials 1 and 3 are dominated (by 0 and 2).
	vals := [][]float64{{0.8, 5000}, {0.7, 9000}, {0.6, 1000}, {0.55, 2000}}
	for _, v := range vals {
		tr, err := st.Ask(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tr.Values = v
		if err := st.Tell(ctx, &tr, hpo.Complete, v[0], ""); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	run := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := Execute(ctx, append([]string{"-w", ws}, args...), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	show := run("hpo", "show", "mo")
	if !strings.Contains(show, "Pareto front: 2 of 4 trials") {
		t.Errorf("hpo show lacks the front:\n%s", show)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(run("hpo", "show", "mo", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	front := v["pareto"].([]any)
	if len(front) != 2 || front[0].(map[string]any)["trial"].(float64) != 0 || front[1].(map[string]any)["trial"].(float64) != 2 {
		t.Errorf("JSON front %v, want trials 0 and 2", front)
	}
	dir := filepath.Join(t.TempDir(), "plots")
	out := run("hpo", "report", "mo", "--out", dir)
	for _, stem := range []string{"history", "parallel", "importance", "pareto-params"} {
		for _, ext := range []string{".png", ".svg"} {
			fi, err := os.Stat(filepath.Join(dir, stem+ext))
			if err != nil || fi.Size() < 1000 {
				t.Errorf("%s%s: %v (size %v); output:\n%s", stem, ext, err, fi, out)
			}
		}
	}
}
