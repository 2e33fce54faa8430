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
)

// writeStatTree writes a small LEMUR stat/ tree: models whose accuracy
// peaks at lr 0.03, 32 trials each at epoch 1.
func writeStatTree(t *testing.T, dir string, models []string) {
	t.Helper()
	for mi, m := range models {
		p := lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: m}
		var objs []lemur.Value
		for i := range 32 {
			lr := math.Pow(10, -5+5*float64((i*7+mi)%32)/31)
			prm := lemur.Dict{{Key: "batch", Value: int64(1) << (i % 6)}, {Key: "lr", Value: lr},
				{Key: "momentum", Value: float64(i%10) / 10}, {Key: "transform", Value: []string{"norm", "echo"}[i%2]}}
			r := lemur.NewRecord(p, 1, 0.8-0.05*math.Pow(math.Log10(lr)+1.5, 2), nil, prm)
			objs = append(objs, r.Object())
		}
		b, err := lemur.EncodeJSON(objs, 4, true)
		if err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(dir, "stat", p.String())
		os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, "1.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBenchHPOCommand(t *testing.T) {
	dir := t.TempDir()
	writeStatTree(t, dir, []string{"Alpha", "Beta", "Gamma", "Delta"})
	var out, errb bytes.Buffer
	code := Execute(context.Background(), []string{"bench", "hpo", "--lemur", filepath.Join(dir, "stat"), "--folds", "2", "--seeds", "2", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res struct {
		Pipelines int `json:"pipelines"`
		Methods   []struct {
			Name   string    `json:"name"`
			Regret []float64 `json:"regret"`
		} `json:"methods"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Pipelines != 4 || len(res.Methods) != 5 || len(res.Methods[0].Regret) != 4 || res.Methods[4].Name != "hindsight per dataset" {
		t.Fatalf("result %+v", res)
	}
	out.Reset()
	errb.Reset()
	if code := Execute(context.Background(), []string{"bench", "hpo", "--lemur", filepath.Join(dir, "stat"), "--budgets", "5,1"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "increasing") {
		t.Errorf("bad --budgets: exit %d, %s", code, errb.String())
	}
	out.Reset()
	if code := Execute(context.Background(), []string{"bench", "hpo", "--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "nearest recorded trial") {
		t.Errorf("help does not document the surrogate:\n%s", out.String())
	}
}
