package predict_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/predict"
)

// TestFewObservedEpochs fits K = 0 and K = 1 models on the synthetic
// curves and checks each against the baselines that exist at its K.
func TestFewObservedEpochs(t *testing.T) {
	runs := synthRuns(t, 40, 15, 1)
	train, test := predict.SplitByModel(runs, 0.25, 1)
	for _, tc := range []struct {
		k       int
		methods []predict.Method
		beat    predict.Method // the baseline the model must beat
	}{
		{0, []predict.Method{predict.Median, predict.Boosted}, predict.Median},
		{1, []predict.Method{predict.Median, predict.Persistence, predict.LinearFit, predict.Boosted}, predict.LinearFit},
	} {
		t.Run(fmt.Sprint("k=", tc.k), func(t *testing.T) {
			m, err := predict.Train(context.Background(), train, nil, predict.Options{K: tc.k, Trees: 80})
			if err != nil {
				t.Fatal(err)
			}
			if m.K() != tc.k {
				t.Fatalf("model K = %d, want %d as asked", m.K(), tc.k)
			}
			if (m.Linear == nil) != (tc.k == 0) {
				t.Errorf("linear fit %v at k = %d: want one exactly when k >= 1", m.Linear, tc.k)
			}
			groups, err := predict.Evaluate(m, test, nil)
			if err != nil {
				t.Fatal(err)
			}
			pooled := groups[0]
			if fmt.Sprint(pooled.Methods) != fmt.Sprint(tc.methods) {
				t.Errorf("methods %v, want %v", pooled.Methods, tc.methods)
			}
			g, b := pooled.Scores[predict.Boosted], pooled.Scores[tc.beat]
			t.Logf("k=%d: RMSE gbt %.4f, %s %.4f; kendall %.3f", tc.k, g.RMSE, tc.beat, b.RMSE, g.Kendall)
			if g.RMSE >= b.RMSE {
				t.Errorf("gbt RMSE %.4f not below %s %.4f", g.RMSE, tc.beat, b.RMSE)
			}
			if !(float64(g.Kendall) > 0.3) {
				t.Errorf("within-dataset Kendall tau %.3f, want > 0.3", g.Kendall)
			}
		})
	}
}

func TestZeroShotPredict(t *testing.T) {
	runs := synthRuns(t, 20, 6, 2)
	m, err := predict.Train(context.Background(), runs, nil, predict.Options{K: 0, Trees: 40})
	if err != nil {
		t.Fatal(err)
	}
	in := predict.InputOf(&runs[0], 0, nil)
	if len(in.Acc) != 0 {
		t.Fatalf("input at k = 0 holds accuracies %v", in.Acc)
	}
	p, err := m.Predict(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Linear != nil || p.Known || p.Low > p.BestAccuracy || p.High < p.BestAccuracy || p.BestAccuracy < 0 || p.High > 1 {
		t.Errorf("zero-shot prediction %+v: want no linear fit, an interval around the estimate inside [0, 1]", p)
	}
	// Observed accuracies are allowed (a later stage could read them) but
	// a zero-shot model without stages ignores them.
	seen := in
	seen.Acc = []float64{0.9}
	if q, err := m.Predict(seen); err != nil || q.BestAccuracy < 0.9 {
		t.Errorf("with an observed 0.9: %+v, %v; want a best accuracy of at least what was seen", q, err)
	}
	other := in
	other.Task, other.Metric = "img-captioning", "bleu"
	if q, err := m.Predict(other); err != nil || !strings.Contains(q.Fallback, "median") {
		t.Errorf("unseen task: %+v, %v; want the median fallback", q, err)
	}
	if _, err := predict.Train(context.Background(), runs, nil, predict.Options{K: -1}); err == nil {
		t.Error("K = -1 accepted")
	}
}

// variant is tinyNet with another first width: models of one family.
func variant(width int) string {
	return strings.ReplaceAll(tinyNet, "32", fmt.Sprint(width))
}

const mlpNet = `import torch.nn as nn


def supported_hyperparameters():
    return {'lr'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.a = nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], 256)
        self.b = nn.Linear(256, out_shape[0])
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        return self.b(self.drop(self.a(x.flatten(1)).tanh()))
`

func TestNearestModelByCode(t *testing.T) {
	runs := synthRuns(t, 4, 10, 3)
	srcs := map[string]string{"Synth0": variant(16), "Synth1": variant(24), "Synth2": mlpNet, "Synth3": mlpNet + "\n# a copy\n"}
	code := map[string]predict.CodeFeatures{}
	for nn, src := range srcs {
		cf, err := predict.CodeFeaturesOf([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		code[nn] = cf
	}
	m, err := predict.Train(context.Background(), runs, code, predict.Options{K: 0, Trees: 20, CodeGroups: []string{predict.CodeNeighbours}})
	if err != nil {
		t.Fatal(err)
	}
	if g := m.Schema.CodeGroups(); fmt.Sprint(g) != "[neighbours]" {
		t.Errorf("code groups %v, want [neighbours]", g)
	}
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{variant(20), []string{"Synth0", "Synth1"}},
		{strings.ReplaceAll(mlpNet, "256", "128"), []string{"Synth2", "Synth3"}},
	} {
		cf, _ := predict.CodeFeaturesOf([]byte(tc.src))
		in := predict.Input{Task: "img-classification", Dataset: "mnist", Metric: "acc", MaxEpoch: 5, Code: cf}
		nb, ok := m.NearestBest(&in)
		if !ok || (nb.NN != tc.want[0] && nb.NN != tc.want[1]) || nb.Similarity < 0.8 {
			t.Errorf("nearest %+v, %v; want one of %v with a high similarity", nb, ok, tc.want)
		}
		if _, err := m.Predict(in); err != nil {
			t.Error(err)
		}
	}
	noCode := predict.Input{Task: "img-classification", Dataset: "mnist", Metric: "acc", MaxEpoch: 5}
	if _, ok := m.NearestBest(&noCode); ok {
		t.Error("nearest model found for an input without code")
	}
}

func TestRankScores(t *testing.T) {
	brute := func(x, y []float64) float64 {
		var c, d, tx, ty float64
		for i := range x {
			for j := i + 1; j < len(x); j++ {
				dx, dy := x[i]-x[j], y[i]-y[j]
				switch {
				case dx == 0 && dy == 0:
				case dx == 0:
					tx++
				case dy == 0:
					ty++
				case dx*dy > 0:
					c++
				default:
					d++
				}
			}
		}
		return (c - d) / math.Sqrt((c+d+tx)*(c+d+ty))
	}
	rng := rand.New(rand.NewPCG(4, 5))
	for _, tc := range []struct {
		name   string
		n, lev int // values drawn from lev levels: ties when small
	}{
		{"no ties", 200, 1 << 30}, {"ties", 150, 6}, {"heavy ties", 60, 2}, {"two", 2, 1 << 30},
	} {
		x, y := make([]float64, tc.n), make([]float64, tc.n)
		for i := range x {
			x[i] = float64(rng.IntN(tc.lev))
			y[i] = x[i]*0.5 + float64(rng.IntN(tc.lev))
		}
		if got, want := predict.KendallTau(x, y), brute(x, y); math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: Kendall %v, brute force %v", tc.name, got, want)
		}
	}
	if v := predict.KendallTau([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(v) {
		t.Errorf("constant side: Kendall %v, want NaN", v)
	}
	up := []float64{1, 2, 3, 4, 5}
	if s := predict.Spearman(up, []float64{10, 20, 30, 40, 1000}); s != 1 {
		t.Errorf("Spearman of a monotone map %v, want 1", s)
	}
	truth := []float64{0.1, 0.9, 0.2, 0.8, 0.3, 0.4, 0.5, 0.6, 0.7, 0.35}
	if r := predict.TopRecall(truth, truth, 0.2); r != 1 {
		t.Errorf("recall of the truth itself %v, want 1", r)
	}
	rev := make([]float64, len(truth))
	for i, v := range truth {
		rev[i] = -v
	}
	if r := predict.TopRecall(rev, truth, 0.2); r != 0 {
		t.Errorf("recall of the reversed ranking %v, want 0", r)
	}
	if r := predict.TopRecall(make([]float64, len(truth)), truth, 0.2); !math.IsNaN(r) {
		t.Errorf("recall of a constant prediction %v, want NaN", r)
	}
}
