package hpo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/llm/llmtest"
)

func TestParseHPReply(t *testing.T) {
	sp, _ := LEMURSpace([]string{"lr", "momentum"}, []string{"norm", "echo"})
	tests := []struct {
		name, reply string
		want        string // Repr of the config
		reject      string // part of the rejection reason
	}{
		{"hp tags", `Sure. <hp>{"lr": 0.01, "momentum": 0.9, "batch": 64, "transform": "norm"}</hp>`,
			"{'batch': 64, 'lr': 0.01, 'momentum': 0.9, 'transform': 'norm'}", ""},
		{"fence and strings", "```json\n{\"lr\": \"0.05\", \"momentum\": 1.7, \"batch\": 100, \"transform\": \"echo\", \"epochs\": 3}\n```",
			"{'batch': 128, 'lr': 0.05, 'momentum': 1.0, 'transform': 'echo'}", ""},
		{"key value lines", "lr: 0.002\nmomentum = 0.8\nbatch: 32\ntransform: norm\n",
			"{'batch': 32, 'lr': 0.002, 'momentum': 0.8, 'transform': 'norm'}", ""},
		{"missing", `<hp>{"lr": 0.01}</hp>`, "", "lacks batch, momentum, transform"},
		{"bad category", `<hp>{"lr": 0.01, "momentum": 0.9, "batch": 64, "transform": "blur"}</hp>`, "", "not one of"},
		{"not a number", `<hp>{"lr": "fast", "momentum": 0.9, "batch": 64, "transform": "norm"}</hp>`, "", "not a number"},
		{"prose", "I would use a small learning rate.", "", "no JSON object"},
	}
	for _, tc := range tests {
		cfg, notes, err := ParseHPReply(tc.reply, sp)
		if tc.reject != "" {
			var re *RejectError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, tc.reject) {
				t.Errorf("%s: error %v, want a rejection containing %q", tc.name, err, tc.reject)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := lemur.Repr(cfg); got != tc.want {
			t.Errorf("%s: %s, want %s (notes %v)", tc.name, got, tc.want, notes)
		}
	}
}

func TestLLMRecommenderOverTheWire(t *testing.T) {
	srv := llmtest.NewServer(t,
		llmtest.Reply("no idea"),
		llmtest.Reply(`<hp>{"lr": 0.02, "momentum": 0.9, "batch": 32, "transform": "norm"}</hp>`))
	cfg := llm.DefaultConfig()
	cfg.BaseURL, cfg.Model, cfg.Tokenizer, cfg.MaxRetries = srv.URL, "hpgpt", "estimate", 0
	client, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := LEMURSpace([]string{"lr", "momentum"}, []string{"norm", "echo"})
	rec := &LLMRecommender{Client: client}
	q := Query{Task: "img-classification", Dataset: "shapes", Model: "TinyNet", Code: "class Net: pass\n", Epochs: 2, TargetAccuracy: 0.9}
	out, err := rec.Recommend(context.Background(), q, sp, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || lemur.Repr(out[0]) != "{'batch': 32, 'lr': 0.02, 'momentum': 0.9, 'transform': 'norm'}" {
		t.Errorf("recommendation %v", out)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (one rejected reply, one good)", len(reqs))
	}
	p := reqs[0].Prompt()
	for _, want := range []string{"TinyNet", "shapes", "accuracy = 0.9000", "epochs = 2", "class Net: pass", "<hp>", "transform: one of norm, echo"} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt lacks %q:\n%s", want, p)
		}
	}
}

// syntheticCorpus makes LEMUR-like records: on every pipeline accuracy
// peaks at lr 0.03 and the norm transform; batch and momentum matter
// little. Pipelines of family "Alpha" peak at lr 0.003 instead.
func syntheticCorpus(rng *rand.Rand) []lemur.Record {
	var recs []lemur.Record
	for _, m := range []string{"Alpha-1", "Alpha-2", "Beta", "Gamma", "Delta", "Eta", "Theta", "Iota"} {
		peak := -1.5
		if strings.HasPrefix(m, "Alpha") {
			peak = -2.5
		}
		p := lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: m}
		for i := range 40 {
			lr := math.Pow(10, -5+5*rng.Float64())
			tr := []string{"norm", "echo"}[i%2]
			prm := lemur.Dict{{Key: "batch", Value: int64(1) << rng.IntN(8)}, {Key: "lr", Value: lr},
				{Key: "momentum", Value: rng.Float64()}, {Key: "transform", Value: tr}}
			acc := 0.8 - 0.08*math.Pow(math.Log10(lr)-peak, 2)
			if tr == "echo" {
				acc -= 0.1
			}
			recs = append(recs, lemur.NewRecord(p, 1, math.Max(0.1, acc+0.01*rng.NormFloat64()), nil, prm))
		}
	}
	return recs
}

func TestLearnedRecommendsWhatWorkedForSimilarModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l, err := FitLearned(syntheticCorpus(rng), LearnedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := LEMURSpace([]string{"lr", "momentum"}, []string{"echo", "norm"})
	tests := []struct {
		model  string
		peakLR float64
	}{
		{"Epsilon", -1.5}, // unknown family: the majority's optimum
		{"Alpha-3", -2.5}, // the Alpha family's own optimum
	}
	for _, tc := range tests {
		out, err := l.Recommend(context.Background(), Query{Task: "img-classification", Dataset: "cifar-10", Model: tc.model, Epochs: 1}, sp, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3 {
			t.Fatalf("%s: %d proposals, want 3", tc.model, len(out))
		}
		lr, _ := out[0].Float("lr")
		tr, _ := out[0].String("transform")
		if math.Abs(math.Log10(lr)-tc.peakLR) > 0.5 || tr != "norm" {
			t.Errorf("%s: first proposal %s, want lr near 1e%.1f with norm", tc.model, lemur.Repr(out[0]), tc.peakLR)
		}
		if lemur.Repr(out[0]) == lemur.Repr(out[1]) {
			t.Errorf("%s: proposals repeat: %s", tc.model, lemur.Repr(out[0]))
		}
	}
	if _, err := FitLearned(syntheticCorpus(rng)[:3], LearnedOptions{}); err == nil {
		t.Error("fitting on 3 records should fail: nothing to learn")
	}
}

func ExampleHPPrompt() {
	sp, _ := LEMURSpace([]string{"lr"}, []string{"norm"})
	fmt.Print(HPPrompt(Query{Task: "img-classification", Dataset: "cifar-10", Model: "ResNet", Epochs: 1}, sp))
	// Output:
	// Generate only the values (do not provide any explanation) of the hyperparameters (batch, lr, transform) of a given model: ResNet for the task: img-classification on dataset: cifar-10, with transformation: norm, so that the model achieves the highest accuracy with number of training epochs = 1.
	//
	// Allowed values:
	// - batch: a power of two from 1 to 4096
	// - lr: a number from 1e-05 to 1 (log scale)
	// - transform: one of norm
	//
	// Answer with one JSON object between <hp> and </hp>, for example <hp>{"batch": ..., "lr": ..., "transform": ...}</hp>.
}
