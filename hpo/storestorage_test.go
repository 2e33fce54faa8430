package hpo

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store/sqlite"
)

// TestStoreStorageSurvivesRestartAndIsShared runs a study in the real
// SQLite store, closes it, reopens it (a restart) and then lets two
// database handles (two processes' worth of connections) ask concurrently.
func TestStoreStorageSurvivesRestartAndIsShared(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nngpt.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	sp := testSpace(t)
	info := StudyInfo{Name: "resnet-shapes", Space: sp, Seed: 5, Attrs: map[string]string{"model": "ResNet"}}
	st, err := OpenStudy(ctx, StoreStorage{db}, info)
	if err != nil {
		t.Fatal(err)
	}
	warm := lemur.Dict{{Key: "batch", Value: int64(32)}, {Key: "lr", Value: 0.03}, {Key: "momentum", Value: 0.9}, {Key: "transform", Value: "norm"}}
	if _, err := st.Enqueue(ctx, warm, "learned"); err != nil {
		t.Fatal(err)
	}
	var firstParams []string
	for i := range 12 {
		tr, err := st.Ask(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && tr.Source != "learned" {
			t.Errorf("first trial from %s, want the enqueued one", tr.Source)
		}
		if err := st.Report(ctx, &tr, 1, toy(tr.Params)-0.1); err != nil {
			t.Fatal(err)
		}
		if err := st.Tell(ctx, &tr, Complete, toy(tr.Params), ""); err != nil {
			t.Fatal(err)
		}
		firstParams = append(firstParams, lemur.Repr(tr.Params))
	}
	db.Close()

	// Restart: same study, trials intact with Python types.
	db1, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	st1, err := OpenStudy(ctx, StoreStorage{db1}, StudyInfo{Name: "resnet-shapes", Space: sp, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	if st1.Info.Seed != 5 || st1.Info.Attrs["model"] != "ResNet" {
		t.Errorf("reopened study info %+v", st1.Info)
	}
	ts, err := st1.Trials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 12 {
		t.Fatalf("%d trials after restart, want 12", len(ts))
	}
	for i, tr := range ts {
		if got := lemur.Repr(tr.Params); got != firstParams[i] {
			t.Errorf("trial %d params %s, stored %s", i, got, firstParams[i])
		}
		if tr.State != Complete || len(tr.Intermediate) != 1 {
			t.Errorf("trial %d: state %s, %d steps", i, tr.State, len(tr.Intermediate))
		}
	}

	// Two handles share the study: every number handed out once.
	db2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	st2, err := OpenStudy(ctx, StoreStorage{db2}, StudyInfo{Name: "resnet-shapes", Space: sp})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for _, s := range []*Study{st1, st2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 6 {
				tr, err := s.Ask(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[tr.Number] {
					t.Errorf("trial %d handed out twice", tr.Number)
				}
				seen[tr.Number] = true
				mu.Unlock()
				if err := s.Tell(ctx, &tr, Complete, toy(tr.Params), ""); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	ts, _ = st1.Trials(ctx)
	if len(ts) != 24 {
		t.Errorf("%d trials, want 24", len(ts))
	}
	best, ok, _ := st1.Best(ctx)
	if !ok || best.Value < 0.5 {
		t.Errorf("best %v %v", best.Value, ok)
	}
}
