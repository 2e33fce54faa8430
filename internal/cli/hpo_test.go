package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/workspace"
)

const hpoTestModel = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.body = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']),
                                  nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], out_shape[0]))

    def forward(self, x):
        return self.body(x)

    def train_setup(self, prm):
        self.criteria = (nn.CrossEntropyLoss(),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        for x, y in train_data:
            self.optimizer.zero_grad()
            self.criteria[0](self(x), y).backward()
            self.optimizer.step()
`

// TestHPOOneShotThenResume tunes a model for real: a one-shot study whose
// first trial is the learned recommender's proposal (from a small corpus
// seeded here), then a second invocation that resumes the study with TPE.
func TestHPOOneShotThenResume(t *testing.T) {
	dir := checkEnv(t)
	ws := filepath.Join(dir, "ws")
	model := filepath.Join(dir, "Lin_Tune.py") // '_' becomes '-' in the LEMUR name
	os.WriteFile(model, []byte(hpoTestModel), 0o644)
	ctx := context.Background()

	// A corpus where lr 0.05 with norm worked best on shapes.
	w, err := workspace.Open(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	var recs []lemur.Record
	for k, nn := range []string{"LinA", "LinB", "LinC"} {
		p := lemur.Pipeline{Task: "img-classification", Dataset: "shapes", Metric: "acc", NN: nn}
		for i := range 24 {
			lr := math.Pow(10, -4+float64(i*7%24)*0.15+0.05*float64(k))
			prm := lemur.Dict{{Key: "batch", Value: int64(32)}, {Key: "dropout", Value: 0.1}, {Key: "lr", Value: lr},
				{Key: "momentum", Value: 0.9}, {Key: "transform", Value: "norm"}}
			recs = append(recs, lemur.NewRecord(p, 1, 0.9-0.1*math.Abs(math.Log10(lr)+1.3), nil, prm))
		}
	}
	if _, err := w.Store.AddStats(ctx, recs); err != nil {
		t.Fatal(err)
	}
	w.Close()

	args := []string{"-w", ws, "hpo", model, "--n-train", "300", "--n-test", "100", "--space", "batch=pow2:16:64", "--json", "--seed", "3"}
	var out, errb bytes.Buffer
	if code := Execute(ctx, append(args, "--sampler", "oneshot", "--warm", "1", "--trials", "2"), &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
	var events []hpoEvent
	var result map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev hpoEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		if ev.Event == "result" {
			json.Unmarshal([]byte(line), &result)
			continue
		}
		events = append(events, ev)
	}
	if len(events) < 4 || events[0].Event != "trial" || events[0].Source != "learned" {
		t.Fatalf("events %+v: want the learned proposal first", events)
	}
	if lr := events[0].Params["lr"].(float64); math.Abs(math.Log10(lr)+1.5) > 0.6 || events[0].Params["transform"] != "norm" {
		t.Errorf("learned proposal %v, want lr near 0.05 and norm", events[0].Params)
	}
	r, _ := result["result"].(map[string]any)
	if r["trials"].(float64) != 2 || r["best_accuracy"] == nil {
		t.Fatalf("result %v", result)
	}

	out.Reset()
	errb.Reset()
	if code := Execute(ctx, append(args, "--trials", "1"), &out, &errb); code != 0 {
		t.Fatalf("resume: exit %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
	w, err = workspace.Open(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	trials, err := w.Store.HPOTrials(ctx, "hpo-Lin-Tune-shapes")
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 3 || trials[2].Source != "tpe" {
		t.Fatalf("stored trials %+v: want 3, the last from tpe", trials)
	}
	rows := 0
	for rec, err := range w.Store.Stats(ctx, store.Filter{NN: "Lin-Tune"}) {
		if err != nil {
			t.Fatal(err)
		}
		rows++
		if rec.Dataset != "shapes" {
			t.Errorf("stat row %+v", rec)
		}
	}
	if rows != 3 {
		t.Errorf("%d stat rows for Lin-Tune, want 3 (one epoch per trial)", rows)
	}
}

func TestHPOBadInput(t *testing.T) {
	dir := t.TempDir()
	noSupp := filepath.Join(dir, "NoSupp.py")
	os.WriteFile(noSupp, []byte("import torch\nclass Net(torch.nn.Module):\n    pass\n"), 0o644)
	good := filepath.Join(dir, "Good.py")
	os.WriteFile(good, []byte(hpoTestModel), 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"hpo", filepath.Join(dir, "missing.py")}, "read the model"},
		{[]string{"hpo", noSupp}, "no supported_hyperparameters()"},
		{[]string{"hpo", good, "--sampler", "grid"}, "--sampler \"grid\""},
		{[]string{"hpo", good, "--space", "lr=log:0:1"}, "log-scaled range needs low > 0"},
		{[]string{"hpo", good, "--transforms", "blur"}, "not a LEMUR transform"},
		{[]string{"hpo", good, "--trials", "0"}, "--trials 0"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), append([]string{"-w", filepath.Join(dir, "ws")}, tc.args...), &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

// TestHPOUnusableDevice: a device torch cannot see stops the command
// before any trial is recorded.
func TestHPOUnusableDevice(t *testing.T) {
	dir := checkEnv(t)
	model := filepath.Join(dir, "Good.py")
	os.WriteFile(model, []byte(hpoTestModel), 0o644)
	ws := filepath.Join(dir, "ws")
	var out, errb bytes.Buffer
	code := Execute(context.Background(), []string{"-w", ws, "hpo", model, "--device", "cuda:99", "--trials", "1"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "device cuda:99") {
		t.Fatalf("exit %d, stderr %q: want a device error", code, errb.String())
	}
	w, err := workspace.Open(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if studies, err := w.Store.HPOStudies(context.Background()); err != nil || len(studies) != 0 {
		t.Errorf("%d studies recorded (%v), want none", len(studies), err)
	}
}
