package predict_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/predict/predicttest"
)

func predictRecs() []lemur.Record { return predicttest.Records(6, 3, 9) }

func synthRuns(t testing.TB, models, perModel int, seed uint64) []predict.Run {
	t.Helper()
	runs, st, err := predict.BuildRuns(predict.Records(predicttest.Records(models, perModel, seed)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs != models*perModel*2 {
		t.Fatalf("built %d runs, want %d: %v", st.Runs, models*perModel*2, st)
	}
	return runs
}

var shared struct {
	once        sync.Once
	m           *predict.Model
	train, test []predict.Run
	err         error
}

// trained fits one model for all tests (read-only use).
func trained(t testing.TB) (*predict.Model, []predict.Run, []predict.Run) {
	t.Helper()
	shared.once.Do(func() { shared.m, shared.train, shared.test, shared.err = fit(t) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.m, shared.train, shared.test
}

func fit(t testing.TB) (*predict.Model, []predict.Run, []predict.Run, error) {
	runs := synthRuns(t, 40, 15, 1)
	train, test := predict.SplitByModel(runs, 0.25, 1)
	if len(test) == 0 || len(train) == 0 {
		return nil, nil, nil, fmt.Errorf("split %d/%d", len(train), len(test))
	}
	m, err := predict.Train(context.Background(), train, nil, predict.Options{K: 2, Trees: 120})
	return m, train, test, err
}

func TestLearnedModelBeatsReferencesOnHeldOutModels(t *testing.T) {
	m, _, test := trained(t)
	groups, err := predict.Evaluate(m, test, nil)
	if err != nil {
		t.Fatal(err)
	}
	pooled := groups[0]
	if pooled.Dataset != "" || len(groups) != 3 {
		t.Fatalf("groups %+v, want pooled + cifar-10 + mnist", groups)
	}
	g, l, p := pooled.Scores[predict.Boosted], pooled.Scores[predict.LinearFit], pooled.Scores[predict.Persistence]
	t.Logf("RMSE gbt %.4f linear %.4f persistence %.4f; r %.3f; epoch MAE %.2f vs %.2f; coverage %.2f",
		g.RMSE, l.RMSE, p.RMSE, g.Pearson, g.EpochMAE, l.EpochMAE, g.Coverage)
	if !(g.RMSE < l.RMSE && l.RMSE < p.RMSE) {
		t.Errorf("RMSE gbt %.4f, linear %.4f, persistence %.4f: want that order", g.RMSE, l.RMSE, p.RMSE)
	}
	if g.Pearson < 0.9 {
		t.Errorf("Pearson r %.3f, want >= 0.9 on these smooth curves", g.Pearson)
	}
	if g.EpochMAE >= p.EpochMAE {
		t.Errorf("best-epoch MAE %.2f not better than persistence %.2f", g.EpochMAE, p.EpochMAE)
	}
	if g.Coverage < 0.75 || g.Coverage > 0.99 {
		t.Errorf("90%% interval covers %.2f of held-out runs", g.Coverage)
	}
	if g.Runs != p.Runs || g.Runs == 0 {
		t.Errorf("runs %d vs %d", g.Runs, p.Runs)
	}
}

func TestPredictInputs(t *testing.T) {
	m, _, test := trained(t)
	r := test[0]
	base := predict.InputOf(&r, 2, nil)
	p, err := m.Predict(base)
	if err != nil {
		t.Fatal(err)
	}
	seen := math.Max(r.Acc[0], r.Acc[1])
	if p.BestAccuracy < seen || p.Low > p.BestAccuracy || p.High < p.BestAccuracy || p.High > 1 {
		t.Errorf("prediction %+v inconsistent with seen accuracy %.3f", p, seen)
	}
	if p.BestEpoch < 1 || p.BestEpoch > r.MaxEpoch() {
		t.Errorf("best epoch %d outside 1..%d", p.BestEpoch, r.MaxEpoch())
	}

	other := base
	other.Task, other.Metric = "img-captioning", "bleu"
	if p, err := m.Predict(other); err != nil || p.Fallback == "" || p.BestAccuracy != seen || p.High < p.BestAccuracy {
		t.Errorf("unseen task: %+v, %v; want a persistence fallback at %.3f", p, err, seen)
	}
	if p.Fallback != "" {
		t.Errorf("fallback for a well-covered task: %s", p.Fallback)
	}

	done := base
	done.Acc, done.MaxEpoch = []float64{0.2, 0.5}, 2
	if p, err := m.Predict(done); err != nil || !p.Known || p.BestAccuracy != 0.5 || p.BestEpoch != 2 {
		t.Errorf("finished run: %+v, %v; want known best 0.5 at epoch 2", p, err)
	}
	bad := []struct {
		name string
		edit func(*predict.Input)
		want string
	}{
		{"one accuracy", func(in *predict.Input) { in.Acc = in.Acc[:1] }, "first 2 epochs"},
		{"max epoch too small", func(in *predict.Input) { in.Acc = []float64{0.1, 0.2, 0.3}; in.MaxEpoch = 2 }, "below the 3 epochs"},
		{"NaN accuracy", func(in *predict.Input) { in.Acc = []float64{math.NaN(), 0.2} }, "epoch 1 is NaN"},
	}
	for _, tc := range bad {
		in := base
		in.Acc = append([]float64(nil), base.Acc...)
		tc.edit(&in)
		if _, err := m.Predict(in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestLearningRateMatters(t *testing.T) {
	// The synthetic ceiling peaks at lr = 1e-2 and curves are faster at
	// higher lr: with the same early accuracies, a run at lr 0.1 is near
	// its (lower) ceiling while one at 1e-2 still climbs a long way.
	m, _, _ := trained(t)
	in := predict.Input{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", Acc: []float64{0.2, 0.3}, MaxEpoch: 20}
	prm := func(lr float64) lemur.Dict {
		return lemur.Dict{{Key: "batch", Value: int64(32)}, {Key: "lr", Value: lr}, {Key: "momentum", Value: 0.5}, {Key: "transform", Value: "norm"}}
	}
	in.Prm = prm(0.01)
	slow, err := m.Predict(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Prm = prm(0.1)
	fast, _ := m.Predict(in)
	t.Logf("lr 1e-2: %.3f, lr 0.1: %.3f", slow.BestAccuracy, fast.BestAccuracy)
	if slow.BestAccuracy < fast.BestAccuracy+0.05 {
		t.Errorf("lr 1e-2 predicts %.3f, lr 0.1 %.3f: want the slower curve to climb clearly further", slow.BestAccuracy, fast.BestAccuracy)
	}
}

func TestTrainNeedsRuns(t *testing.T) {
	runs := synthRuns(t, 2, 3, 1)
	if _, err := predict.Train(context.Background(), runs, nil, predict.Options{K: 2}); err == nil || !strings.Contains(err.Error(), "need at least 50") {
		t.Errorf("error %v, want a clear 'need at least 50' message", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, train, test := trained(t)
	dir := t.TempDir()
	if _, err := predict.Latest(dir); err != predict.ErrNoPredictor {
		t.Errorf("empty workspace: %v, want ErrNoPredictor", err)
	}
	path, err := predict.Save(dir, m, train)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := predict.Latest(dir)
	if err != nil || latest != path {
		t.Fatalf("Latest = %q, %v; want %q", latest, err, path)
	}
	back, err := predict.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range test[:20] {
		in := predict.InputOf(&test[i], 2, nil)
		a, _ := m.Predict(in)
		b, err := back.Predict(in)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("run %d: %+v before saving, %+v, %v after", i, a, b, err)
		}
	}
	runs, err := predict.LoadRuns(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != len(train) || runs[3].UID != train[3].UID || runs[3].Acc[1] != train[3].Acc[1] {
		t.Fatalf("saved runs differ: %d vs %d", len(runs), len(train))
	}
	if v, _ := runs[0].Prm.Get("batch"); v != train[0].Prm[0].Value {
		t.Errorf("batch %T %v after saving, want the int %v", v, v, train[0].Prm[0].Value)
	}
}
