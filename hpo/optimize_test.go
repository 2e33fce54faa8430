package hpo

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// fnRunner trains nothing: each step's value is toy(params) scaled up to
// the full value at the last step; it blocks until release (when set) so
// tests can hold several trials running at once.
type fnRunner struct {
	steps   int
	values  func(cfg lemur.Dict) []float64 // multi-objective values, when set
	running atomic.Int64
	maxRun  atomic.Int64
	hold    time.Duration
	fail    func(t Trial) error
}

func (r *fnRunner) RunTrial(ctx context.Context, t Trial, report func(int, float64) bool) (TrialResult, error) {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for {
		m := r.maxRun.Load()
		if n <= m || r.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	if r.fail != nil {
		if err := r.fail(t); err != nil {
			return TrialResult{}, err
		}
	}
	time.Sleep(r.hold)
	v := toy(t.Params)
	for s := 1; s <= r.steps; s++ {
		if report(s, v*float64(s)/float64(r.steps)) {
			return TrialResult{Stopped: true}, nil
		}
	}
	res := TrialResult{Value: v}
	if r.values != nil {
		res.Values = r.values(t.Params)
	}
	return res, nil
}

func TestOptimizeRunsTrialsAndWorkers(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		workers int
		pruner  Pruner
		trials  int
	}{
		{"one worker", 1, nil, 12},
		{"four workers", 4, nil, 16},
		{"median pruner", 2, MedianPruner{Startup: 3}, 14},
		{"asha", 3, ASHAPruner{MinStep: 1, Reduction: 3}, 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := OpenStudy(ctx, NewMemoryStorage(), StudyInfo{Name: "s", Space: testSpace(t), Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			r := &fnRunner{steps: 3, hold: 5 * time.Millisecond}
			var started, finished atomic.Int64
			err = st.Optimize(ctx, r, OptimizeOptions{Trials: tc.trials, Workers: tc.workers, Pruner: tc.pruner,
				OnStart: func(Trial) { started.Add(1) }, OnFinish: func(Trial) { finished.Add(1) }})
			if err != nil {
				t.Fatal(err)
			}
			ts, _ := st.Trials(ctx)
			if len(ts) != tc.trials || started.Load() != int64(tc.trials) || finished.Load() != int64(tc.trials) {
				t.Fatalf("%d trials stored, %d started, %d finished; want %d", len(ts), started.Load(), finished.Load(), tc.trials)
			}
			pruned := 0
			for _, tr := range ts {
				if !tr.State.Finished() {
					t.Errorf("trial %d left %s", tr.Number, tr.State)
				}
				if tr.State == Pruned {
					pruned++
					if !strings.Contains(tr.Note, tc.pruner.Name()) {
						t.Errorf("pruned trial %d note %q does not name the pruner", tr.Number, tr.Note)
					}
				}
				if tr.State == Complete && len(tr.Intermediate) != 3 {
					t.Errorf("complete trial %d has %d steps, want 3", tr.Number, len(tr.Intermediate))
				}
			}
			if tc.pruner != nil && pruned == 0 {
				t.Errorf("the %s pruner pruned nothing in %d trials", tc.pruner.Name(), tc.trials)
			}
			if got := r.maxRun.Load(); got > int64(tc.workers) || (tc.workers > 1 && got < 2) {
				t.Errorf("at most %d trials ran at once, want up to %d", got, tc.workers)
			}
		})
	}
}

func TestOptimizeStopsOnRunnerError(t *testing.T) {
	ctx := context.Background()
	st, err := OpenStudy(ctx, NewMemoryStorage(), StudyInfo{Name: "s", Space: testSpace(t), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("executor lost")
	r := &fnRunner{steps: 1, fail: func(t Trial) error {
		if t.Number == 2 {
			return boom
		}
		return nil
	}}
	err = st.Optimize(ctx, r, OptimizeOptions{Trials: 10})
	if !errors.Is(err, boom) {
		t.Fatalf("Optimize error %v, want the runner's", err)
	}
	ts, _ := st.Trials(ctx)
	if len(ts) != 3 || ts[2].State != Failed || !strings.Contains(ts[2].Note, "not judged") {
		t.Fatalf("want 3 trials, the last failed as not judged; got %d, %+v", len(ts), ts[len(ts)-1])
	}
}

// With the constant liar, trials asked while others run land elsewhere
// than the running ones; without it the sampler sees nothing of them.
func TestAskCountsRunningTrialsAsPending(t *testing.T) {
	ctx := context.Background()
	sp, err := NewSpace(Param{Name: "x", Kind: Float, Low: 0, High: 1})
	if err != nil {
		t.Fatal(err)
	}
	spread := func(liar bool) float64 {
		st, err := OpenStudy(ctx, NewMemoryStorage(), StudyInfo{Name: "s", Space: sp, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		tpe := NewTPE()
		tpe.ConstantLiar = liar
		st.Sampler = tpe
		for range 20 { // a sharp optimum at 0.3
			tr, _ := st.Ask(ctx)
			x, _ := tr.Params.Float("x")
			st.Tell(ctx, &tr, Complete, -math.Abs(x-0.3), "")
		}
		var xs []float64
		for range 6 { // asked at once: all running
			tr, err := st.Ask(ctx)
			if err != nil {
				t.Fatal(err)
			}
			x, _ := tr.Params.Float("x")
			xs = append(xs, x)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range xs {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		return hi - lo
	}
	with, without := spread(true), spread(false)
	t.Logf("spread of 6 concurrent proposals: constant liar %.3f, without %.3f", with, without)
	if with <= without {
		t.Errorf("the constant liar does not spread concurrent proposals: %.3f <= %.3f", with, without)
	}
}

func TestMultiObjectiveStudyAndPareto(t *testing.T) {
	ctx := context.Background()
	objs := []Objective{{"acc", Maximize}, {"params", Minimize}}
	st, err := OpenStudy(ctx, NewMemoryStorage(), StudyInfo{Name: "mo", Space: testSpace(t), Seed: 9, Objectives: objs})
	if err != nil {
		t.Fatal(err)
	}
	// params grows with momentum: accuracy and size conflict.
	r := &fnRunner{steps: 1, values: func(cfg lemur.Dict) []float64 {
		m, _ := cfg.Float("momentum")
		return []float64{toy(cfg), 1000 * (1 + 10*m)}
	}}
	if err := st.Optimize(ctx, r, OptimizeOptions{Trials: 30, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	ts, _ := st.Trials(ctx)
	front := ParetoTrials(ts, objs)
	if len(front) < 2 {
		t.Fatalf("Pareto front of %d trials, want a trade-off of at least 2", len(front))
	}
	for _, a := range front {
		for _, b := range ts {
			if b.State == Complete && b.Values[0] > a.Values[0] && b.Values[1] < a.Values[1] {
				t.Errorf("trial %d on the front is dominated by trial %d", a.Number, b.Number)
			}
		}
	}
	tr, _ := st.Ask(ctx)
	tr.Values = []float64{0.5}
	if err := st.Tell(ctx, &tr, Complete, 0.5, ""); err == nil || !strings.Contains(err.Error(), "objective") {
		t.Errorf("telling one value to a two-objective study: %v, want an error", err)
	}
	if _, err := OpenStudy(ctx, st.storage, StudyInfo{Name: "mo", Space: testSpace(t)}); err == nil || !strings.Contains(err.Error(), "optimises") {
		t.Errorf("resuming with other objectives: %v, want an error naming them", err)
	}
}

func TestParetoFront(t *testing.T) {
	tests := []struct {
		name string
		pts  [][]float64
		dirs []Direction
		want []int
	}{
		{"minimise both", [][]float64{{1, 5}, {2, 2}, {3, 3}, {5, 1}, {2, 2}}, []Direction{Minimize, Minimize}, []int{0, 1, 3, 4}},
		{"maximise first", [][]float64{{0.9, 100}, {0.8, 50}, {0.7, 60}, {0.9, 120}}, []Direction{Maximize, Minimize}, []int{0, 1}},
		{"one point", [][]float64{{1, 1}}, []Direction{Minimize, Minimize}, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParetoFront(tc.pts, tc.dirs)
			if len(got) != len(tc.want) {
				t.Fatalf("front %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("front %v, want %v", got, tc.want)
				}
			}
		})
	}
	ranks := NondominatedRanks([][]float64{{1, 1}, {2, 2}, {3, 3}, {1, 3}})
	if ranks[0] != 0 || ranks[1] != 1 || ranks[2] != 2 || ranks[3] != 1 {
		t.Errorf("ranks %v, want [0 1 2 1]", ranks)
	}
}

func TestStudyRefusesOtherData(t *testing.T) {
	ctx := context.Background()
	mem := NewMemoryStorage()
	info := StudyInfo{Name: "d", Space: testSpace(t), Attrs: map[string]string{"data": "subset: 500 train + 100 test images, seed 1"}}
	if _, err := OpenStudy(ctx, mem, info); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		data string
		ok   bool
	}{
		{"subset: 500 train + 100 test images, seed 1", true},
		{"", true}, // nothing said: the stored study's data stands
		{"full set: 60000 train + 10000 test images, seed 1", false},
		{"subset: 500 train + 100 test images, seed 2", false},
	}
	for _, tc := range tests {
		_, err := OpenStudy(ctx, mem, StudyInfo{Name: "d", Space: testSpace(t), Attrs: map[string]string{"data": tc.data}})
		if (err == nil) != tc.ok {
			t.Errorf("resume with data %q: error %v, want ok=%v", tc.data, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "data") {
			t.Errorf("error %q does not name the data", err)
		}
	}
}

func TestASHARungs(t *testing.T) {
	a := ASHAPruner{MinStep: 1, Reduction: 3}
	for step, want := range map[int]bool{1: true, 2: false, 3: true, 4: false, 9: true, 27: true, 28: false} {
		if a.rung(step) != want {
			t.Errorf("rung(%d) = %v, want %v", step, !want, want)
		}
	}
	mk := func(n int, vals ...float64) Trial {
		tr := Trial{Number: n, State: Complete}
		for i, v := range vals {
			tr.Intermediate = append(tr.Intermediate, Step{Step: i + 1, Value: v})
		}
		return tr
	}
	others := []Trial{mk(0, 0.5), mk(1, 0.6), mk(2, 0.4), mk(3, 0.3), mk(4, 0.55)}
	tests := []struct {
		trial Trial
		stop  bool
	}{
		{mk(9, 0.7), false},      // the best at rung 1
		{mk(9, 0.58), false},     // second of six: the top 6/3 = 2 continue
		{mk(9, 0.52), true},      // third
		{mk(9, 0.7, 0.1), false}, // step 2 is no rung
	}
	for _, tc := range tests {
		if stop, why := a.Prune(tc.trial, others, Maximize); stop != tc.stop {
			t.Errorf("trial with %v: stop %v (%s), want %v", tc.trial.Intermediate, stop, why, tc.stop)
		}
	}
}
