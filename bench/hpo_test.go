package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

// hpoCorpus makes pipelines whose accuracy peaks at lr 0.03 with norm; the
// models named Small* get only 10 trials (below the benchmark's bar).
func hpoCorpus(models []string, trials int, seed uint64) []lemur.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	var recs []lemur.Record
	for _, m := range models {
		n := trials
		if strings.HasPrefix(m, "Small") {
			n = 10
		}
		p := lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: m}
		for i := range n {
			lr := math.Pow(10, -5+5*rng.Float64())
			tr := []string{"norm", "echo", "complex"}[i%3]
			prm := lemur.Dict{{Key: "batch", Value: int64(1) << rng.IntN(7)}, {Key: "lr", Value: lr},
				{Key: "momentum", Value: rng.Float64()}, {Key: "transform", Value: tr}}
			acc := 0.8 - 0.06*math.Pow(math.Log10(lr)+1.5, 2)
			if tr != "norm" {
				acc -= 0.15
			}
			recs = append(recs, lemur.NewRecord(p, 1, math.Max(0.1, acc+0.01*rng.NormFloat64()), nil, prm))
		}
	}
	return recs
}

func TestHPOProblemsAndSurrogate(t *testing.T) {
	recs := hpoCorpus([]string{"A", "B", "Small1"}, 40, 1)
	probs, err := hpoProblems(recs, 30)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 2 || probs[0].p.NN != "A" || probs[1].p.NN != "B" {
		t.Fatalf("problems %v, want A and B (Small1 has 10 trials)", len(probs))
	}
	pr := probs[0]
	if got := pr.space.String(); !strings.Contains(got, "lr=log:1e-05:1") || !strings.Contains(got, "transform=cat:complex,echo,norm") {
		t.Errorf("space:\n%s", got)
	}
	// A recorded trial is its own nearest neighbour.
	for i, x := range pr.pts {
		if got := pr.eval(x); got != pr.acc[i] {
			t.Fatalf("surrogate at trial %d = %v, want its accuracy %v", i, got, pr.acc[i])
		}
	}
	best := 0
	for i := range pr.acc {
		if pr.acc[i] > pr.acc[best] {
			best = i
		}
	}
	curve := pr.regretCurve([][]float64{pr.pts[(best+1)%len(pr.pts)], pr.pts[best]}, []int{1, 2, 5})
	if curve[1] != 0 || curve[2] != 0 || curve[0] < 0 || curve[0] > 1 {
		t.Errorf("regret curve %v: want 0 once the best trial is proposed, in [0, 1] before", curve)
	}
}

func TestRunHPOOnSyntheticCorpus(t *testing.T) {
	train := hpoCorpus([]string{"A", "B", "C", "D", "E", "F", "Small1", "Small2"}, 36, 2)
	res, err := RunHPO(context.Background(), HPOConfig{Train: train, Seeds: 3, Folds: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pipelines != 6 || len(res.Methods) != 5 {
		t.Fatalf("%d pipelines, %d methods; want 6 and 5", res.Pipelines, len(res.Methods))
	}
	by := map[string]HPOMethod{}
	for _, m := range res.Methods {
		by[m.Name] = m
		for i := 1; i < len(m.Regret); i++ {
			if m.Regret[i] > m.Regret[i-1]+1e-12 {
				t.Errorf("%s: regret rises with the budget: %v", m.Name, m.Regret)
			}
		}
	}
	// Every pipeline shares one optimum: what was learned on the other
	// folds must beat a random first guess.
	if l, r := by[MethodLearned].Regret[0], by[MethodRandom].Regret[0]; l >= r {
		t.Errorf("learned regret after 1 proposal %.3f not below random's %.3f", l, r)
	}
	// With a separate test tree the recommender learns from all of Train.
	test := hpoCorpus([]string{"X", "Y"}, 32, 3)
	res, err = RunHPO(context.Background(), HPOConfig{Train: train, Test: test, Seeds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pipelines != 2 || res.Split != "train tree / test tree" {
		t.Errorf("test-tree run: %d pipelines, split %q", res.Pipelines, res.Split)
	}
	if _, err := RunHPO(context.Background(), HPOConfig{Train: train, MinTrials: 1000}); err == nil || !strings.Contains(err.Error(), "nothing to benchmark") {
		t.Errorf("no eligible pipeline: %v", err)
	}
}

func TestHindsightFindsTheSharedBest(t *testing.T) {
	// Every pipeline records one configuration that beats all its others:
	// the hindsight reference must propose it first, at zero regret, and
	// never rise afterwards.
	models := []string{"A", "B", "C", "D"}
	recs := hpoCorpus(models, 32, 4)
	shared := lemur.Dict{{Key: "batch", Value: int64(8)}, {Key: "lr", Value: 0.02}, {Key: "momentum", Value: 0.5}, {Key: "transform", Value: "norm"}}
	for _, m := range models {
		p := lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: m}
		recs = append(recs, lemur.NewRecord(p, 1, 0.99, nil, shared))
	}
	probs, err := hpoProblems(recs, 30)
	if err != nil {
		t.Fatal(err)
	}
	curves := hindsightCurves(probs, []int{1, 3})
	if len(curves) != len(models) {
		t.Fatalf("%d curves, want %d", len(curves), len(models))
	}
	for name, c := range curves {
		if c[0] != 0 || c[1] != 0 {
			t.Errorf("%s: hindsight regret %v, want 0 at every budget", name, c)
		}
	}
}
