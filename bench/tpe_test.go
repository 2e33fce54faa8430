package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestWilcoxon(t *testing.T) {
	tests := []struct {
		name   string
		a, b   []float64
		lo, hi float64 // p within [lo, hi]
	}{
		{"all ties", []float64{1, 2, 3}, []float64{1, 2, 3}, 1, 1},
		// 12 pairs, a always lower: W+ = 0, z = (39-0.5)/12.75 -> p about 0.0025.
		{"one side always lower", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, []float64{2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24}, 0.001, 0.005},
		{"balanced", []float64{1, 5, 2, 6}, []float64{2, 4, 3, 5}, 0.5, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if p := wilcoxon(tc.a, tc.b); p < tc.lo || p > tc.hi {
				t.Errorf("p = %.4f, want within [%g, %g]", p, tc.lo, tc.hi)
			}
		})
	}
}

func TestBestAt(t *testing.T) {
	got := bestAt([]float64{5, 3, 4, 1, 2}, []int{1, 3, 5})
	want := []float64{5, 3, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bestAt %v, want %v", got, want)
		}
	}
}

func TestAnalyticProblemsHaveZeroMinimum(t *testing.T) {
	optima := map[string]map[string]float64{
		"sphere-5d":     {"x0": 1, "x1": 1, "x2": 1, "x3": 1, "x4": 1},
		"branin":        {"x0": math.Pi, "x1": 2.275},
		"rosenbrock-4d": {"x0": 1, "x1": 1, "x2": 1, "x3": 1},
		"ackley-5d":     {"x0": 0, "x1": 0, "x2": 0, "x3": 0, "x4": 0},
		"mixed-cat":     {"lr": math.Pow(10, -1.7), "width": 20},
	}
	for _, p := range AnalyticProblems() {
		opt, ok := optima[p.Name]
		if !ok {
			t.Fatalf("problem %s has no known optimum here", p.Name)
		}
		x := make([]float64, len(p.Space.Params))
		for i, prm := range p.Space.Params {
			if prm.Name == "transform" {
				x[i] = float64(len(prm.Choices) - 1) // norm_flip: no penalty
				continue
			}
			v := opt[prm.Name]
			if prm.Log {
				v = math.Log(v)
			}
			x[i] = v
		}
		if y := p.F(x); math.Abs(y) > 1e-5 {
			t.Errorf("%s at its optimum is %g, want 0", p.Name, y)
		}
		if y := p.F(p.Space.Random(testRand())); y <= 0 {
			t.Errorf("%s is %g away from its optimum, want > 0", p.Name, y)
		}
	}
}

func TestRunTPETellsSearchFromRandom(t *testing.T) {
	ctx := context.Background()
	probs := AnalyticProblems()[:2] // sphere-5d, branin
	res, err := RunTPE(ctx, TPEConfig{Problems: probs, Seeds: 6, Budgets: []int{20, 60}, AskTrials: 30, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 3*2*6 {
		t.Fatalf("%d runs, want 36", len(res.Runs))
	}
	var geo *TPERatio
	for i, r := range res.Ratios {
		if r.Ours == EngineTPE && r.Theirs == EngineRandom && r.Problem == "" && r.Budget == 60 {
			geo = &res.Ratios[i]
		}
	}
	if geo == nil {
		t.Fatalf("no geometric mean of tpe / random at 60 trials in %+v", res.Ratios)
	}
	if geo.Ratio >= 0.8 {
		t.Errorf("TPE / random = %.3f after 60 trials: the search does not beat random search", geo.Ratio)
	}
	if len(res.Ask) != 3 || res.Ask[0].MS <= 0 {
		t.Errorf("ask times %+v", res.Ask)
	}
	var b strings.Builder
	if err := WriteTPETable(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"sphere-5d", "geometric mean", "ratio nngpt tpe / nngpt random", "ask time after 30 trials"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
}

// TestRunTPEWithOptuna drives the real Optuna where a python3 has it.
func TestRunTPEWithOptuna(t *testing.T) {
	ctx := context.Background()
	py, _, err := FindOptuna(ctx, "")
	if err != nil {
		t.Skip(err)
	}
	probs := AnalyticProblems()[4:] // the mixed space: log float, int and categorical
	res, err := RunTPE(ctx, TPEConfig{Problems: probs, Seeds: 1, Budgets: []int{12}, Optuna: py, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.OptunaVersion == "" {
		t.Error("no Optuna version recorded")
	}
	n := 0
	for _, r := range res.Runs {
		if strings.HasPrefix(r.Engine, "optuna") {
			n++
			if math.IsNaN(r.BestAt[0]) || r.BestAt[0] < 0 {
				t.Errorf("optuna run %+v has no sane best value", r)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d Optuna runs, want 2 samplers x 1 seed", n)
	}
}

func testRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
