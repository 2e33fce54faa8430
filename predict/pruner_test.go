package predict_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/predict/predicttest"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
)

func lemurPipeline() lemur.Pipeline {
	return lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: "evolve-x"}
}

func TestBoardRanks(t *testing.T) {
	b := predict.NewBoard()
	for _, v := range []float64{0.5, 0.9, 0.1, 0.7} {
		b.Add("img-classification", "cifar-10", v)
	}
	b.Add("img-classification", "mnist", 0.99)
	if n := b.Len("img-classification", "cifar-10"); n != 4 {
		t.Fatalf("Len = %d", n)
	}
	for rank, want := range map[int]float64{1: 0.9, 2: 0.7, 4: 0.1} {
		if got, ok := b.Ranked("img-classification", "cifar-10", rank); !ok || got != want {
			t.Errorf("rank %d = %v, %v; want %v", rank, got, ok, want)
		}
	}
	if _, ok := b.Ranked("img-classification", "cifar-10", 5); ok {
		t.Error("rank 5 of 4 runs reported")
	}
}

func TestBoardFromRecords(t *testing.T) {
	recs := predictRecs()
	b, err := predict.BoardFromRecords(predict.Records(recs))
	if err != nil {
		t.Fatal(err)
	}
	runs, _, _ := predict.BuildRuns(predict.Records(recs))
	n := 0
	for _, r := range runs {
		if r.Dataset == "mnist" {
			n++
		}
	}
	if got := b.Len("img-classification", "mnist"); got != n {
		t.Errorf("board holds %d mnist runs, want one per run (%d)", got, n)
	}
}

func TestPrunerDecides(t *testing.T) {
	m, train, _ := trained(t)
	board := predict.NewBoard()
	for _, r := range train {
		best, _ := r.Best()
		board.Add(r.Task, r.Dataset, best)
	}
	p, err := predict.NewPruner(m, predict.DefaultPolicy(), board)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	state := func(acc ...float64) predict.RunState {
		return predict.RunState{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: "X",
			Prm: train[0].Prm, Acc: acc, MaxEpoch: 20}
	}
	tests := []struct {
		name     string
		s        predict.RunState
		stop     bool
		reason   string
		predicts bool
	}{
		{"too early to judge", state(0.1), false, "", false},
		{"stuck at chance", state(0.1, 0.1), true, "below", true},
		{"strong start", state(0.6, 0.7), false, "", true},
		{"last epoch: nothing to save", func() predict.RunState { s := state(0.1, 0.1); s.MaxEpoch = 2; return s }(), false, "", false},
	}
	for _, tc := range tests {
		d, err := p.Decide(ctx, tc.s)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.Stop != tc.stop || !strings.Contains(d.Reason, tc.reason) || (d.Prediction != nil) != tc.predicts {
			t.Errorf("%s: %+v, want stop %v", tc.name, d, tc.stop)
		}
		if d.Stop && (d.Bar <= d.Prediction.High || d.Epoch != len(tc.s.Acc)) {
			t.Errorf("%s: stopped with bar %.3f not above the upper bound %.3f", tc.name, d.Bar, d.Prediction.High)
		}
	}
	// With an empty board only the admission bar (1.2 x chance) applies.
	p2, _ := predict.NewPruner(m, predict.DefaultPolicy(), nil)
	if d, _ := p2.Decide(ctx, state(0.3, 0.35)); d.Stop {
		t.Errorf("stopped a run above the validity bar with an empty board: %s", d.Reason)
	}
}

func TestNewPrunerChecksPolicy(t *testing.T) {
	m, _, _ := trained(t)
	for _, tc := range []struct {
		pol  predict.Policy
		want string
	}{
		{predict.Policy{After: 1}, "needs 2"},
		{predict.Policy{TopShare: 1.5}, "top share"},
		{predict.Policy{TopK: -1}, "top-k"},
	} {
		if _, err := predict.NewPruner(m, tc.pol, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.pol, err, tc.want)
		}
	}
	if _, err := predict.NewPruner(nil, predict.DefaultPolicy(), nil); err == nil {
		t.Error("no error without a model")
	}
}

func TestStagesSharpenLaterPredictions(t *testing.T) {
	runs := synthRuns(t, 40, 15, 1)
	train, test := predict.SplitByModel(runs, 0.25, 1)
	m, err := predict.Train(context.Background(), train, nil, predict.Options{K: 2, Trees: 80, Stages: []int{5}})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.StageEpochs(); len(got) != 2 || got[1] != 5 {
		t.Fatalf("stages %v, want [2 5]", got)
	}
	var err2, err5 float64
	n := 0
	for i := range test {
		r := &test[i]
		if r.MaxEpoch() <= 5 {
			continue
		}
		best, _ := r.Best()
		p2, _ := m.Predict(predict.InputOf(r, 2, nil))
		p5, _ := m.Predict(predict.InputOf(r, 5, nil))
		err2 += (p2.BestAccuracy - best) * (p2.BestAccuracy - best)
		err5 += (p5.BestAccuracy - best) * (p5.BestAccuracy - best)
		n++
	}
	if n == 0 || err5 >= err2 {
		t.Errorf("squared error after 5 epochs %.4f, after 2 %.4f (%d runs): the stage does not help", err5, err2, n)
	}
	if _, err := predict.Train(context.Background(), train, nil, predict.Options{K: 2, Stages: []int{2}}); err == nil {
		t.Error("stage 2 with K 2 accepted")
	}
}

func TestOpenPrunerNeedsAPredictor(t *testing.T) {
	if _, err := predict.OpenPruner(context.Background(), t.TempDir(), nil, predict.DefaultPolicy()); err != predict.ErrNoPredictor {
		t.Errorf("error %v, want ErrNoPredictor", err)
	}
}

func TestOpenPrunerFromWorkspace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "nngpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs := predicttest.Records(20, 8, 4)
	if _, err := st.AddStats(ctx, recs); err != nil {
		t.Fatal(err)
	}
	runs, _, code, err := predict.FromStore(ctx, st, store.Filter{})
	if err != nil || len(runs) != 320 {
		t.Fatalf("FromStore: %d runs, %v", len(runs), err)
	}
	m, err := predict.Train(ctx, runs, code, predict.Options{K: 2, Trees: 40})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := predict.Save(dir, m, runs); err != nil {
		t.Fatal(err)
	}
	p, err := predict.OpenPruner(ctx, dir, st, predict.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Board.Len("img-classification", "cifar-10"); n != 160 {
		t.Errorf("board holds %d cifar-10 runs, want 160", n)
	}
	d, err := p.Decide(ctx, predict.RunState{Task: "img-classification", Dataset: "cifar-10", Metric: "acc",
		Prm: runs[0].Prm, Acc: []float64{0.1, 0.1}, MaxEpoch: 10})
	if err != nil || !d.Stop {
		t.Errorf("a run stuck at chance was not stopped: %+v, %v", d, err)
	}
}

func TestCandidateState(t *testing.T) {
	row := &store.CandidateRow{Name: "evolve-x", Pipeline: lemurPipeline(), Epochs: []float64{0.2}, Durations: []int64{2e9}}
	for _, tc := range []struct {
		row  *store.CandidateRow
		want []float64
	}{
		{row, []float64{0.2, 0.3}},
		{&store.CandidateRow{Name: "evolve-x", Pipeline: lemurPipeline(), Epochs: []float64{0.2, 0.3}}, []float64{0.2, 0.3}},
	} {
		s := predict.CandidateState(tc.row, 2, 0.3, 10, nil)
		if len(s.Acc) != 2 || s.Acc[0] != tc.want[0] || s.Acc[1] != tc.want[1] || s.Dataset != "cifar-10" || s.MaxEpoch != 10 {
			t.Errorf("state %+v, want accuracies %v", s, tc.want)
		}
	}
}
