package sqlite

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

func TestRunsRoundTripAndFilter(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loss := 1.25
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	ok := store.Run{
		ID: "r1", Origin: "check", NN: "SimpleCNN", CodeID: "abc", Task: "img-classification", Dataset: "shapes",
		Metric: "acc", Transform: "norm", UID: "u1",
		Prm:   lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "batch", Value: int64(64)}, {Key: "transform", Value: "norm"}},
		Batch: 64, EpochsRequested: 2, Status: "ok", Stage: "done", Params: 57290, Torch: "1.13", Device: "cpu",
		Threads: 2, Isolation: "bwrap", Seed: 7, DatasetID: "shapes-x", SplitID: "s1",
		Epochs:       []store.RunEpoch{{Epoch: 1, Accuracy: 0.4, Duration: 10, TrainLoss: &loss}, {Epoch: 2, Accuracy: 0.5, Duration: 20}},
		BestAccuracy: 0.5, StartedAt: t0, FinishedAt: t0.Add(time.Second),
	}
	bad := store.Run{ID: "r2", NN: "Broken", Status: "failed", Stage: "forward", FailureKind: "shape",
		FailureMessage: "want (64, 10)", LogTail: "tb", StartedAt: t0.Add(time.Hour), FinishedAt: t0.Add(time.Hour)}
	for _, r := range []store.Run{ok, bad} {
		if err := db.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, found, err := db.GetRun(ctx, "r1")
	if err != nil || !found {
		t.Fatalf("GetRun: %v %v", found, err)
	}
	if !reflect.DeepEqual(got, ok) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, ok)
	}
	if _, found, _ := db.GetRun(ctx, "nope"); found {
		t.Fatal("found a run that was never stored")
	}
	tests := []struct {
		f    store.RunFilter
		want []string
	}{
		{store.RunFilter{}, []string{"r2", "r1"}},
		{store.RunFilter{Status: "failed"}, []string{"r2"}},
		{store.RunFilter{FailureKind: "shape"}, []string{"r2"}},
		{store.RunFilter{NN: "SimpleCNN", Dataset: "shapes"}, []string{"r1"}},
		{store.RunFilter{Limit: 1}, []string{"r2"}},
	}
	for _, tc := range tests {
		var ids []string
		for r, err := range db.ListRuns(ctx, tc.f) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("ListRuns(%+v) = %v, want %v", tc.f, ids, tc.want)
		}
	}
	// Replacing keeps one row.
	ok.Status = "stopped"
	if err := db.PutRun(ctx, ok); err != nil {
		t.Fatal(err)
	}
	got, _, _ = db.GetRun(ctx, "r1")
	if got.Status != "stopped" {
		t.Fatalf("replace: status %q", got.Status)
	}
	if err := db.PutRun(ctx, store.Run{ID: "x"}); err == nil {
		t.Fatal("a run without nn and status was accepted")
	}
}
