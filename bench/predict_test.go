package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/predict/predicttest"
)

func synthTree(t *testing.T, models, perModel int, seed uint64) string {
	t.Helper()
	dir, err := predicttest.WriteTree(t.TempDir(), predicttest.Records(models, perModel, seed))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPredictBenchmark(t *testing.T) {
	tree := synthTree(t, 30, 10, 1)
	rep, err := Predict(context.Background(), PredictConfig{Train: tree, Seed: 3, Options: predict.Options{K: 2, Trees: 60}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TestRuns == 0 || rep.TrainRuns == 0 || rep.TestModels+rep.TrainModels != 30 {
		t.Fatalf("runs %d/%d, models %d+%d: want every model on exactly one side", rep.TrainRuns, rep.TestRuns, rep.TrainModels, rep.TestModels)
	}
	pooled := rep.Groups[0].Scores
	if pooled[predict.Boosted].RMSE >= pooled[predict.Persistence].RMSE {
		t.Errorf("learned RMSE %.4f not below persistence %.4f", pooled[predict.Boosted].RMSE, pooled[predict.Persistence].RMSE)
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pooled", "cifar-10", "mnist", "persistence", "linear", "gbt", "test runs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPredictBenchmarkTestTree(t *testing.T) {
	train := synthTree(t, 20, 8, 1)
	test := synthTree(t, 6, 8, 2) // same names Synth0..5: all also in train
	_, err := Predict(context.Background(), PredictConfig{Train: train, Test: test, Options: predict.Options{K: 2, Trees: 30}})
	if err == nil || !strings.Contains(err.Error(), "no test runs") {
		t.Errorf("error %v: a test tree whose models are all in the training tree must leave nothing to test", err)
	}
	if _, err := Predict(context.Background(), PredictConfig{Train: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no stat records") {
		t.Errorf("empty tree: error %v", err)
	}
}

func TestPruneBenchmark(t *testing.T) {
	tree := synthTree(t, 30, 10, 1)
	rep, err := Prune(context.Background(), PruneConfig{Train: tree, Seed: 1, Options: predict.Options{K: 2, Trees: 60, Stages: []int{5}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != len(DefaultPrunePolicies()) {
		t.Fatalf("%d rows", len(rep.Rows))
	}
	for _, r := range rep.Rows {
		if r.Saved > r.Epochs || r.Stopped > r.Runs || r.TopLost > r.TopDecile || r.TopDecile == 0 || r.Runs != rep.TestRuns {
			t.Errorf("%s: inconsistent counts %+v", r.Name, r)
		}
	}
	var def PruneRow
	for _, r := range rep.Rows {
		if strings.Contains(r.Name, "default") {
			def = r
		}
	}
	if def.Stopped == 0 || def.SavedShare < 0.2 {
		t.Errorf("default policy saved %.2f of epochs (%d runs stopped): the synthetic curves are easy to call", def.SavedShare, def.Stopped)
	}
	if len(rep.ScreenRows) != len(DefaultScreenPolicies(0.1, 1)) {
		t.Fatalf("%d screening rows", len(rep.ScreenRows))
	}
	for _, r := range rep.ScreenRows {
		if r.Runs != rep.TestRuns || r.Saved > r.Epochs || r.ScreenSaved > r.Saved || r.TopScreened > r.TopLost ||
			r.TopLost > r.TopDecile || r.Explored > r.Runs-r.Screened || r.Stopped > r.Runs-r.Screened {
			t.Errorf("%s: inconsistent counts %+v", r.Name, r)
		}
	}
	// Without screening the combined replay is the default early stopping.
	if no := rep.ScreenRows[0]; no.Screened != 0 || no.Saved != def.Saved || no.TopLost != def.TopLost || no.Stopped != def.Stopped {
		t.Errorf("no screening %+v, want the default early stopping's figures %+v", no, def)
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil || !strings.Contains(out.String(), "top-decile") || !strings.Contains(out.String(), "screening before training") {
		t.Errorf("table: %v\n%s", err, out.String())
	}
}

func TestPredictBenchmarkZeroShot(t *testing.T) {
	tree := synthTree(t, 30, 10, 2)
	rep, err := Predict(context.Background(), PredictConfig{Train: tree, Seed: 2, CompareCode: true, Options: predict.Options{K: 0, Trees: 40}})
	if err != nil {
		t.Fatal(err)
	}
	pooled := rep.Groups[0]
	if rep.K != 0 || fmt.Sprint(pooled.Methods) != "[median gbt gbt-nocode]" {
		t.Fatalf("k %d, methods %v: want k 0 with the median, the model and the model without code", rep.K, pooled.Methods)
	}
	if g, m := pooled.Scores[predict.Boosted], pooled.Scores[predict.Median]; g.RMSE >= m.RMSE || !(float64(g.Kendall) > 0) {
		t.Errorf("zero-shot RMSE %.4f vs median %.4f, Kendall %.3f", g.RMSE, m.RMSE, g.Kendall)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("report does not encode (the median's undefined ranking scores must be null): %v", err)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	for _, want := range []string{"before training", "Kendall tau", "top-10% recall", "gbt-nocode", "n/a"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPredictBenchmarkWithLLM(t *testing.T) {
	tree := synthTree(t, 20, 6, 1)
	srv := llmtest.NewServer(t, llmtest.Reply("best_accuracy: 0.5\nbest_epoch: 4"), llmtest.Reply("best_accuracy: 0.6"), llmtest.Reply("no numbers"))
	cfg := llm.DefaultConfig()
	cfg.BaseURL, cfg.Model, cfg.Tokenizer, cfg.MaxRetries = srv.URL, "test", "estimate", 0
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Predict(context.Background(), PredictConfig{Train: tree, Options: predict.Options{K: 2, Trees: 30}, LLM: c, LLMRuns: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.LLM == nil || rep.LLM.Asked != 3 || rep.LLM.Failed != 1 {
		t.Fatalf("LLM scores %+v, want 3 asked and 1 unparsable", rep.LLM)
	}
	for _, meth := range []predict.Method{MethodLLM, predict.Boosted, predict.LinearFit, predict.Persistence} {
		if s := rep.LLM.Scores[meth]; s.Runs != 2 {
			t.Errorf("%s scored on %d runs, want the same 2", meth, s.Runs)
		}
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	if !strings.Contains(out.String(), "LLM predictor on 3 random test runs (1 failed") {
		t.Errorf("table:\n%s", out.String())
	}
}
