package sqlite

import (
	"context"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

func TestJournal(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	l := store.Loop{ID: "L1", Status: "running", Config: `{"cycles":3}`, Seed: 7, Cycles: 3}
	if err := db.PutLoop(ctx, l); err != nil {
		t.Fatal(err)
	}
	l.CycleDone, l.Status = 1, "interrupted"
	if err := db.PutLoop(ctx, l); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.GetLoop(ctx, "L1")
	if err != nil || !ok || got.CycleDone != 1 || got.Status != "interrupted" || got.Seed != 7 || got.Created.IsZero() {
		t.Fatalf("loop %+v %v %v", got, ok, err)
	}
	if _, ok, _ := db.GetLoop(ctx, "nope"); ok {
		t.Fatal("found a loop that does not exist")
	}
	acc := 0.4
	c := store.CandidateRow{ID: "L1-c01-00", LoopID: "L1", Cycle: 1, State: store.StateGenerated, Name: "evolve-x", Code: "x = 1",
		Parents: []string{"a", "b"}, Pipeline: lemur.Pipeline{Task: "img-classification", Dataset: "shapes", Metric: "acc"},
		Prm: lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "batch", Value: int64(32)}}}
	if err := db.PutCandidate(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.State, c.Epochs, c.Admitted, c.Predicted = store.StateDone, []float64{0.3, 0.5}, true, &acc
	if err := db.PutCandidate(ctx, c); err != nil {
		t.Fatal(err)
	}
	cs, err := db.Candidates(ctx, "L1")
	if err != nil || len(cs) != 1 {
		t.Fatalf("candidates %v %v", cs, err)
	}
	g := cs[0]
	if g.State != store.StateDone || g.Best() != 0.5 || !g.Admitted || *g.Predicted != 0.4 || g.Parents[1] != "b" || lemur.Repr(g.Prm) != "{'lr': 0.01, 'batch': 32}" {
		t.Fatalf("read back %+v", g)
	}
	if !store.Final(g.State) || store.Final(store.StateQueued) {
		t.Fatal("Final misclassifies states")
	}
}
