package corpus_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
)

// TestRecordKeepsSubsetsOutOfLEMURRows: a run on a subset is recorded as
// a run (with its sizes and seed) but adds no stat rows.
func TestRecordKeepsSubsetsOutOfLEMURRows(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "nngpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: "net"}
	for i, subset := range []bool{true, false} {
		res := &runner.Result{RunID: fmt.Sprintf("r%d", i), Name: "net", Batch: 32, Transform: "norm", Prm: lemur.Dict{{Key: "lr", Value: 0.01 * float64(i+1)}},
			Epochs: []runner.EpochResult{{Epoch: 1, Accuracy: 0.3, Duration: 1e9}},
			Data:   runner.DataProvenance{Name: "cifar-10", NTrain: 1000, NTest: 200, Subset: subset, Seed: 7}}
		if err := corpus.Record(ctx, db, "test", "x = 1", p, res); err != nil {
			t.Fatal(err)
		}
		run, ok, err := db.GetRun(ctx, res.RunID)
		if err != nil || !ok || run.TrainSize != 1000 || run.TestSize != 200 || run.DataSubset != subset || run.DataSeed != 7 {
			t.Fatalf("run record %+v %v %v", run, ok, err)
		}
		n := 0
		for _, err := range db.Stats(ctx, store.Filter{}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if want := i; n != want {
			t.Fatalf("after a run with subset=%v: %d stat rows, want %d", subset, n, want)
		}
	}
}
