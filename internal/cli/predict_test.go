package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/predict/predicttest"
)

func TestPredictTrainAndPredict(t *testing.T) {
	tree, err := predicttest.WriteTree(t.TempDir(), predicttest.Records(20, 8, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Model code beside stat/, as in a LEMUR checkout: predictors learn
	// code features from it.
	for i := range 20 {
		src := fmt.Sprintf("import torch.nn as nn\n\ndef supported_hyperparameters():\n    return {'lr', 'momentum'}\n\nclass Net(nn.Module):\n    def __init__(self, in_shape, out_shape, prm, device):\n        super().__init__()\n        self.conv = nn.Conv2d(3, %d, 3)\n        self.fc = nn.Linear(%d, 10)\n", 8*(i+1), 8*(i+1))
		writeFiles(t, filepath.Dir(tree), map[string]string{fmt.Sprintf("nn/Synth%d.py", i): src})
	}
	ws := filepath.Join(t.TempDir(), "ws")
	if code, _, errOut := run(t, "-w", ws, "lemur", "import", filepath.Dir(tree)); code != 0 {
		t.Fatalf("import: %d %s", code, errOut)
	}
	code, out, errOut := run(t, "-w", ws, "predict", "train", "--trees", "40", "--stages", "5", "--json")
	if code != 0 {
		t.Fatalf("predict train: %d %s", code, errOut)
	}
	var tr struct {
		Predictor string `json:"predictor"`
		TrainRuns int    `json:"train_runs"`
		Code      int    `json:"models_with_code"`
	}
	if err := json.Unmarshal([]byte(out), &tr); err != nil || tr.TrainRuns != 320 || !strings.HasPrefix(tr.Predictor, ws) || tr.Code != 20 {
		t.Fatalf("train output %q (%v): want 320 runs, code for 20 models and a predictor inside the workspace", out, err)
	}

	model := filepath.Join(t.TempDir(), "m.py")
	os.WriteFile(model, []byte("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, in_shape, out_shape, prm, device):\n        super().__init__()\n        self.fc = nn.Linear(10, 10)\n"), 0o644)
	args := []string{"-w", ws, "predict", model, "--dataset", "cifar-10", "--acc", "0.3,0.4", "--max-epoch", "20",
		"--prm", `{"lr": 0.01, "momentum": 0.5, "batch": 32, "transform": "norm"}`, "--json"}
	code, out, errOut = run(t, args...)
	if code != 0 {
		t.Fatalf("predict: %d %s", code, errOut)
	}
	var p struct {
		Best      float64 `json:"best_accuracy"`
		Low, High float64
		Epoch     int  `json:"best_epoch"`
		UsedCode  bool `json:"used_code"`
		Predictor string
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if p.Best < 0.4 || p.Low > p.Best || p.High < p.Best || p.Epoch < 1 || p.Epoch > 20 || !p.UsedCode || p.Predictor != tr.Predictor {
		t.Errorf("prediction %+v", p)
	}
	code, out, _ = run(t, args[:len(args)-1]...)
	if code != 0 || !strings.Contains(out, "best accuracy") || !strings.Contains(out, "best epoch") || !strings.Contains(out, "interval") {
		t.Errorf("text output: %d %q", code, out)
	}

	// Before training: no --acc needs a zero-shot predictor, and --k 0
	// stays 0.
	zeroArgs := []string{"-w", ws, "predict", model, "--dataset", "cifar-10", "--max-epoch", "20",
		"--prm", `{"lr": 0.01, "momentum": 0.5, "batch": 32, "transform": "norm"}`, "--json"}
	if code, _, errOut := run(t, zeroArgs...); code == 0 || !strings.Contains(errOut, "predict train --k 0") {
		t.Errorf("zero-shot without a zero-shot predictor: %d %q", code, errOut)
	}
	code, out, errOut = run(t, "-w", ws, "predict", "train", "--k", "0", "--trees", "30", "--stages", "none", "--json")
	var tr0 struct {
		Predictor string `json:"predictor"`
		K         int    `json:"k"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &tr0) != nil || tr0.K != 0 {
		t.Fatalf("predict train --k 0: %d %q %s", code, out, errOut)
	}
	code, out, errOut = run(t, zeroArgs...)
	var p0 struct {
		Best      float64 `json:"best_accuracy"`
		K         int     `json:"k"`
		Median    float64 `json:"dataset_median"`
		Linear    *float64
		Nearest   *struct{ NN string }
		Predictor string
	}
	if code != 0 || json.Unmarshal([]byte(out), &p0) != nil {
		t.Fatalf("zero-shot predict: %d %q %s", code, out, errOut)
	}
	if p0.K != 0 || p0.Predictor != tr0.Predictor || p0.Linear != nil || p0.Nearest == nil || p0.Median <= 0 || p0.Best <= 0 {
		t.Errorf("zero-shot prediction %s: want k 0 from %s, no linear fit, a nearest model and the median", out, tr0.Predictor)
	}
	// With two accuracies the k = 2 predictor still answers.
	if code, out, _ := run(t, args...); code != 0 || !strings.Contains(out, tr.Predictor) {
		t.Errorf("predict --acc after fitting a zero-shot predictor: %d %q, want %s", code, out, tr.Predictor)
	}
}

func TestPredictErrors(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing flags", []string{"predict", "--dataset", "cifar-10"}, 2, "--acc"},
		{"bad accuracy", []string{"predict", "--dataset", "d", "--acc", "0.3,x", "--max-epoch", "5"}, 2, `value 2 "x"`},
		{"accuracy above 1", []string{"predict", "--dataset", "d", "--acc", "30,40", "--max-epoch", "5"}, 2, "in [0, 1]"},
		{"prm not an object", []string{"predict", "--dataset", "d", "--acc", "0.3,0.4", "--max-epoch", "5", "--prm", "[1]"}, 2, "JSON object"},
		{"missing model file", []string{"predict", "nope.py", "--dataset", "d", "--acc", "0.3,0.4", "--max-epoch", "5"}, 2, "read model code"},
		{"no predictor yet", []string{"predict", "--dataset", "d", "--acc", "0.3,0.4", "--max-epoch", "5"}, 1, "nngpt predict train"},
		{"empty store", []string{"predict", "train"}, 1, "need at least 50"},
	}
	for _, tc := range tests {
		code, _, errOut := run(t, append([]string{"-w", ws}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, errOut, tc.code, tc.want)
		}
	}
}

func TestParseStages(t *testing.T) {
	for _, tc := range []struct {
		in   string
		k    int
		want int
		err  bool
	}{
		{"3,5,10", 2, 3, false}, {"none", 2, 0, false}, {"", 2, 0, false}, {"2", 2, 0, true}, {"3,x", 2, 0, true},
		{"1,2", 0, 2, false}, {"1", 1, 0, true},
	} {
		got, err := parseStages(tc.in, tc.k)
		if (err != nil) != tc.err || (!tc.err && len(got) != tc.want) {
			t.Errorf("parseStages(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestBenchPruneCustomPolicy(t *testing.T) {
	tree, err := predicttest.WriteTree(t.TempDir(), predicttest.Records(24, 8, 3))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "bench", "prune", "--lemur", tree, "--top-share", "0.1", "--stages", "none", "--json")
	if code != 0 {
		t.Fatalf("bench prune: %d %s", code, errOut)
	}
	var rep struct {
		Stages []int `json:"stages"`
		Rows   []struct {
			Name   string `json:"name"`
			Runs   int    `json:"runs"`
			Epochs int    `json:"epochs"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Rows) != 1 || rep.Rows[0].Name != "custom" || len(rep.Stages) != 1 || rep.Rows[0].Runs == 0 {
		t.Errorf("report %s (%v): want one custom policy, one stage", out, err)
	}
	if code, _, errOut := run(t, "bench", "prune", "--lemur", tree, "--stages", "1"); code != 2 || !strings.Contains(errOut, "--stages") {
		t.Errorf("bad stages: %d %s", code, errOut)
	}
}

func TestBenchPredictZeroShot(t *testing.T) {
	tree, err := predicttest.WriteTree(t.TempDir(), predicttest.Records(20, 6, 4))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "bench", "predict", "--lemur", tree, "--k", "0", "--json")
	if code != 0 {
		t.Fatalf("bench predict --k 0: %d %s", code, errOut)
	}
	var rep struct {
		K      int `json:"k"`
		Groups []struct {
			Methods []string `json:"methods"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.K != 0 || len(rep.Groups) == 0 || strings.Join(rep.Groups[0].Methods, ",") != "median,gbt" {
		t.Errorf("report %.300s (%v): want k 0 scored against the dataset median", out, err)
	}
	for _, args := range [][]string{{"--code-features", "shape"}, {"--k", "-1"}} {
		if code, _, errOut := run(t, append([]string{"bench", "predict", "--lemur", tree}, args...)...); code != 2 {
			t.Errorf("%v: exit %d %s, want 2", args, code, errOut)
		}
	}
}
