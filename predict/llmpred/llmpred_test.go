package llmpred

import (
	"context"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/predict"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		reply   string
		max     int
		acc     float64
		epoch   int
		wantErr bool
	}{
		{"best_accuracy: 0.63\nbest_epoch: 12", 50, 0.63, 12, false},
		{"**best_accuracy**: 63%\n**best_epoch**: 80", 50, 0.63, 50, false},
		{"Sure!\nBEST_ACCURACY = 0.5", 20, 0.5, 20, false},
		{"best_accuracy: 71.5\nbest_epoch: 0", 10, 0.715, 1, false},
		{"I think it will do well.", 10, 0, 0, true},
		{"best_accuracy: 250", 10, 0, 0, true},
	}
	for _, tc := range tests {
		acc, ep, err := ParseReply(tc.reply, tc.max)
		if (err != nil) != tc.wantErr || (!tc.wantErr && (acc != tc.acc || ep != tc.epoch)) {
			t.Errorf("ParseReply(%q) = %v, %d, %v; want %v, %d", tc.reply, acc, ep, err, tc.acc, tc.epoch)
		}
	}
}

func TestPredictThroughServer(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply("best_accuracy: 0.62\nbest_epoch: 30"), llmtest.Reply("best_accuracy: 0.2\nbest_epoch: 3"), llmtest.Reply("no idea"))
	cfg := llm.DefaultConfig()
	cfg.BaseURL, cfg.Model, cfg.Tokenizer = srv.URL, "test", "estimate"
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &Predictor{Client: c}
	in := predict.Input{Task: "img-classification", Dataset: "cifar-10", Metric: "acc",
		Prm: lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "transform", Value: "norm_32"}}, Acc: []float64{0.41, 0.47}, MaxEpoch: 50}
	got, err := p.Predict(context.Background(), in, "class Net: pass")
	if err != nil || got.BestAccuracy != 0.62 || got.BestEpoch != 30 {
		t.Fatalf("got %+v, %v", got, err)
	}
	prompt := srv.Requests()[0].Prompt()
	for _, want := range []string{"cifar-10", "'lr': 0.01", "max_epoch: 50", "accuracy after epoch 2: 0.4700", "class Net: pass", "best_accuracy:"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, prompt)
		}
	}
	// An answer below what the run already reached is raised to it.
	if got, _ := p.Predict(context.Background(), in, ""); got.BestAccuracy != 0.47 || got.BestEpoch != 2 {
		t.Errorf("got %+v, want the seen 0.47 at epoch 2", got)
	}
	if _, err := p.Predict(context.Background(), in, ""); err == nil || !strings.Contains(err.Error(), "best_accuracy") {
		t.Errorf("unparsable reply: %v", err)
	}
}
