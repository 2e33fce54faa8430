package gbt

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// data makes y = 2*[x0 > 0.5] + sin(3*x1) + noise, with x2 pure noise and
// x3 missing (NaN) exactly when y gets +1.
func data(n int, seed uint64) ([][]float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	X := make([][]float64, n)
	y := make([]float64, n)
	for i := range n {
		x := []float64{rng.Float64(), rng.Float64(), rng.Float64(), 1}
		y[i] = math.Sin(3*x[1]) + 0.1*rng.NormFloat64()
		if x[0] > 0.5 {
			y[i] += 2
		}
		if rng.IntN(2) == 0 {
			x[3] = math.NaN()
			y[i]++
		}
		X[i] = x
	}
	return X, y
}

func rmse(m *Model, X [][]float64, y []float64) float64 {
	var s float64
	for i := range X {
		d := m.Predict(X[i]) - y[i]
		s += d * d
	}
	return math.Sqrt(s / float64(len(X)))
}

func TestFitLearnsStepsCurvesAndMissingValues(t *testing.T) {
	X, y := data(3000, 1)
	Xt, yt := data(1000, 2)
	m, err := Fit(context.Background(), X, y, Params{Trees: 150, MaxDepth: 4, LearningRate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	// The target's standard deviation is about 1.2; the noise is 0.1.
	if got := rmse(m, Xt, yt); got > 0.2 {
		t.Errorf("test RMSE %.3f, want <= 0.2", got)
	}
	imp := m.Importance()
	if imp[2] > 0.05 {
		t.Errorf("noise feature has importance %.3f, want little: %v", imp[2], imp)
	}
	if imp[3] < 0.05 {
		t.Errorf("the missing-value feature has importance %.3f; NaN should be split on: %v", imp[3], imp)
	}
}

func TestQuantileCoverage(t *testing.T) {
	X, y := data(4000, 3)
	Xt, yt := data(2000, 4)
	for _, alpha := range []float64{0.1, 0.9} {
		m, err := Fit(context.Background(), X, y, Params{Loss: Quantile, Alpha: alpha, Trees: 100, MaxDepth: 4, LearningRate: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		below := 0
		for i := range Xt {
			if yt[i] <= m.Predict(Xt[i]) {
				below++
			}
		}
		share := float64(below) / float64(len(Xt))
		if math.Abs(share-alpha) > 0.05 {
			t.Errorf("alpha %.1f: %.3f of test targets below the prediction", alpha, share)
		}
	}
}

func TestSeededAndSerialisable(t *testing.T) {
	X, y := data(500, 5)
	p := Params{Trees: 20, Seed: 7}
	a, err := Fit(context.Background(), X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Fit(context.Background(), X, y, p)
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var c Model
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	for i := range X {
		pa, pb, pc := a.Predict(X[i]), b.Predict(X[i]), c.Predict(X[i])
		if pa != pb || pa != pc {
			t.Fatalf("row %d: %v, %v (same seed), %v (after JSON)", i, pa, pb, pc)
		}
	}
}

func TestFitRejectsBadInput(t *testing.T) {
	X, y := data(10, 1)
	tests := []struct {
		name string
		X    [][]float64
		y    []float64
		p    Params
		want string
	}{
		{"no rows", nil, nil, Params{}, "no training rows"},
		{"length mismatch", X, y[:5], Params{}, "10 rows but 5 targets"},
		{"ragged", [][]float64{{1, 2}, {1}}, []float64{1, 2}, Params{}, "row 1 has 1 features"},
		{"NaN target", [][]float64{{1}}, []float64{math.NaN()}, Params{}, "target 0 is NaN"},
		{"bad alpha", X, y, Params{Loss: Quantile, Alpha: 1.5}, "0 < alpha < 1"},
		{"bad loss", X, y, Params{Loss: "hinge"}, "unknown loss"},
		{"deep", X, y, Params{MaxDepth: 40}, "max depth"},
	}
	for _, tc := range tests {
		_, err := Fit(context.Background(), tc.X, tc.y, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestFitStopsWhenCancelled(t *testing.T) {
	X, y := data(100, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fit(ctx, X, y, Params{}); err != context.Canceled {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func BenchmarkFit(b *testing.B) {
	X, y := data(20000, 1)
	for b.Loop() {
		if _, err := Fit(context.Background(), X, y, Params{Trees: 100}); err != nil {
			b.Fatal(err)
		}
	}
}
