package predict_test

import (
	"math"
	"testing"

	"github.com/nngpt/nngpt/predict"
)

const tinyNet = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_shape[1], 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(64 * 16 * 16, out_shape[0])

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))
`

func TestCodeFeaturesOf(t *testing.T) {
	cf, err := predict.CodeFeaturesOf([]byte(tinyNet))
	if err != nil {
		t.Fatal(err)
	}
	if cf["layers_conv"] != 2 || cf["layers_linear"] != 1 || cf["norm"] != 1 || cf["depth"] != 3 {
		t.Errorf("features %v: want 2 convs, 1 linear, norm, depth 3", cf)
	}
	if _, err := predict.CodeFeaturesOf([]byte("class Net(:\n")); err == nil {
		t.Error("no error for code that does not parse")
	}
}

func TestSchemaCodeColumns(t *testing.T) {
	runs := synthRuns(t, 4, 20, 2)
	cf, _ := predict.CodeFeaturesOf([]byte(tinyNet))
	code := map[string]predict.CodeFeatures{"Synth0": cf, "Synth1": cf}
	s := predict.NewSchema(runs, predict.Options{K: 2}, code)
	names := s.Names()
	col := -1
	for i, n := range names {
		if n == "code_layers_conv" {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no code column in %v", names)
	}
	with := predict.InputOf(&runs[0], 2, cf)
	without := predict.InputOf(&runs[0], 2, nil)
	a, err := s.Row(&with)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Row(&without)
	if len(a) != len(names) || len(b) != len(names) {
		t.Fatalf("row lengths %d, %d for %d names", len(a), len(b), len(names))
	}
	if a[col] != 2 || !math.IsNaN(b[col]) {
		t.Errorf("conv column %v with code, %v without; want 2 and NaN (missing)", a[col], b[col])
	}
}
