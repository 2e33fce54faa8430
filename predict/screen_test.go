package predict_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/predict/predicttest"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
)

func TestScreener(t *testing.T) {
	runs := synthRuns(t, 20, 6, 5)
	zm, err := predict.Train(context.Background(), runs, nil, predict.Options{K: 0, Trees: 40})
	if err != nil {
		t.Fatal(err)
	}
	m2, _, _ := trained(t)
	if _, err := predict.NewScreener(m2, predict.DefaultScreenPolicy(), nil); err == nil || !strings.Contains(err.Error(), "--k 0") {
		t.Errorf("a k = 2 predictor as screener: %v, want an error naming --k 0", err)
	}
	if _, err := predict.NewScreener(zm, predict.ScreenPolicy{Explore: 2}, nil); err == nil {
		t.Error("explore share 2 accepted")
	}
	ctx := context.Background()
	cand := predict.Candidate{Key: "loop-c1-0", Task: "img-classification", Dataset: "cifar-10", Metric: "acc",
		NN: "new", Prm: runs[0].Prm, MaxEpoch: 10}
	full := predict.NewBoard()
	for range 30 {
		full.Add("img-classification", "cifar-10", 0.999)
	}
	for _, tc := range []struct {
		name   string
		pol    predict.ScreenPolicy
		board  *predict.Board
		parent float64
		train  bool
		reason string
	}{
		{"empty board", predict.DefaultScreenPolicy(), nil, 0, true, ""},
		{"admission bar", predict.ScreenPolicy{Admission: 0.9999}, nil, 0, false, "admission bar"},
		{"far below the parent", predict.ScreenPolicy{ParentGap: 0.05}, nil, 1, false, "below the parent"},
		{"parent not compared", predict.ScreenPolicy{}, nil, 1, true, ""},
		{"below the top decile", predict.ScreenPolicy{TopShare: 0.1}, full, 0, false, "#3 run"},
		{"board too small", predict.ScreenPolicy{TopShare: 0.1, MinBoard: 31}, full, 0, true, ""},
	} {
		s, err := predict.NewScreener(zm, tc.pol, tc.board)
		if err != nil {
			t.Fatal(err)
		}
		c := cand
		c.ParentBest = tc.parent
		d, err := s.Screen(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if d.Train != tc.train || !strings.Contains(d.Reason, tc.reason) || d.Explore {
			t.Errorf("%s: %+v, want train %v for %q", tc.name, d, tc.train, tc.reason)
		}
	}
	// The explore draw: deterministic per key, about the share asked.
	s, _ := predict.NewScreener(zm, predict.ScreenPolicy{Admission: 0.9999, Explore: 0.3, Seed: 7}, nil)
	explored := 0
	for i := range 400 {
		c := cand
		c.Key = fmt.Sprintf("loop-c%d-%d", i/8, i%8)
		d, _ := s.Screen(ctx, c)
		again, _ := s.Screen(ctx, c)
		if d.Train != again.Train {
			t.Fatalf("key %s: two draws differ", c.Key)
		}
		if d.Explore {
			if !d.Train || d.Reason == "" {
				t.Errorf("explored candidate %+v: want it trained, with the rule that would have screened it", d)
			}
			explored++
		}
	}
	if explored < 90 || explored > 150 {
		t.Errorf("explored %d of 400, want about 30%%", explored)
	}
}

func TestOpenScreenerFromWorkspace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "nngpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AddStats(ctx, predicttest.Records(12, 6, 6)); err != nil {
		t.Fatal(err)
	}
	runs, _, code, err := predict.FromStore(ctx, st, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := predict.OpenScreener(ctx, dir, st, predict.DefaultScreenPolicy()); err != predict.ErrNoZeroShot {
		t.Errorf("no predictor: %v, want ErrNoZeroShot", err)
	}
	fit := func(k int) string {
		m, err := predict.Train(ctx, runs, code, predict.Options{K: k, Trees: 20})
		if err != nil {
			t.Fatal(err)
		}
		d, err := predict.Save(dir, m, runs)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	zero := fit(0)
	if _, err := predict.OpenPruner(ctx, dir, st, predict.DefaultPolicy()); err != predict.ErrNoPredictor {
		t.Errorf("pruner with only a zero-shot predictor: %v, want ErrNoPredictor", err)
	}
	two := fit(2)
	s, err := predict.OpenScreener(ctx, dir, st, predict.DefaultScreenPolicy())
	if err != nil || s.Model.K() != 0 || s.Board.Len("img-classification", "mnist") != 72 {
		t.Fatalf("screener %+v, %v: want the zero-shot predictor and a board of 72 mnist runs", s, err)
	}
	// Folders saved before meta.json existed are read through the model.
	if err := os.Remove(filepath.Join(two, "meta.json")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		seen int
		want string
	}{{0, zero}, {1, zero}, {2, two}, {5, two}} {
		if got, err := predict.LatestFor(dir, tc.seen); err != nil || got != tc.want {
			t.Errorf("LatestFor(%d) = %s, %v; want %s", tc.seen, got, err, tc.want)
		}
	}
	if p, err := predict.OpenPruner(ctx, dir, st, predict.DefaultPolicy()); err != nil || p.Model.K() != 2 {
		t.Errorf("pruner: %v; want the k = 2 predictor", err)
	}
}
