package hpo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

const convCode = `import torch.nn as nn
def supported_hyperparameters():
    return {'lr', 'momentum'}
class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.Conv2d(64, 128, 3),
                               nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(128, 256, 3), nn.ReLU())
        self.h = nn.Linear(256, out_shape[0])
    def forward(self, x):
        return self.h(self.f(x).mean((2, 3)))
`

const mlpCode = `import torch.nn as nn
def supported_hyperparameters():
    return {'lr', 'momentum'}
class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.f = nn.Sequential(nn.Flatten(), nn.Linear(3072, 32), nn.Tanh(), nn.Linear(32, out_shape[0]))
    def forward(self, x):
        return self.f(x)
`

// TestLearnedIsCodeAware: conv nets did best at lr 0.1, MLPs at 0.001, and
// the model names say nothing; a new model's first proposal follows its
// architecture only when the recommender sees code.
func TestLearnedIsCodeAware(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	codes := map[string]string{}
	var recs []lemur.Record
	names := []string{"Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"}
	for i, m := range names {
		code, best := convCode, -1.0
		if i%2 == 1 {
			code, best = mlpCode, -3.0
		}
		codes[m] = code
		p := lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: m}
		for range 40 {
			l := -5 + 5*rng.Float64()
			prm := lemur.Dict{{Key: "batch", Value: int64(64)}, {Key: "lr", Value: math.Pow(10, l)}, {Key: "momentum", Value: 0.9}, {Key: "transform", Value: "norm"}}
			recs = append(recs, lemur.NewRecord(p, 1, 0.9-0.1*math.Abs(l-best), nil, prm))
		}
	}
	sp, err := LEMURSpace([]string{"lr", "momentum"}, []string{"norm"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code   string
		wantLR float64
	}{
		{convCode, -1},
		{mlpCode, -3},
	}
	l, err := FitLearned(recs, LearnedOptions{Codes: codes})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		q := Query{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", Model: "Zulu", Code: tc.code, Epochs: 1}
		got, err := l.Recommend(context.Background(), q, sp, 1)
		if err != nil {
			t.Fatal(err)
		}
		lr, _ := got[0].Float("lr")
		if d := math.Abs(math.Log10(lr) - tc.wantLR); d > 0.5 {
			t.Errorf("code like %s: first proposal lr %.3g, want near 1e%g", map[bool]string{true: "the conv nets"}[tc.code == convCode], lr, tc.wantLR)
		}
	}
	// Without code, both queries get the same proposal.
	plain, _ := FitLearned(recs, LearnedOptions{})
	var seen []string
	for _, code := range []string{convCode, mlpCode} {
		got, _ := plain.Recommend(context.Background(), Query{Task: "img-classification", Dataset: "cifar-10", Model: "Zulu", Code: code}, sp, 1)
		seen = append(seen, fmt.Sprint(got[0]))
	}
	if seen[0] != seen[1] {
		t.Errorf("without codes the recommender still told the architectures apart: %v", seen)
	}
}
