package loop

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
	"github.com/nngpt/nngpt/synth"
)

// fakeGen yields deterministic candidates: code depends on seed and index.
type fakeGen struct{ dup bool }

func (fakeGen) Name() string { return "fake" }
func (g fakeGen) Generate(ctx context.Context, req synth.Request) iter.Seq2[*synth.Candidate, error] {
	return func(yield func(*synth.Candidate, error) bool) {
		for i := range req.N {
			code := fmt.Sprintf("# seed %d\nwidth = %d\n", req.Seed, i)
			if g.dup && i == 1 {
				code = fmt.Sprintf("# seed %d\nwidth = %d\n", req.Seed, 0)
			}
			c := synth.New("fake", code)
			c.HP = lemur.Dict{{Key: "lr", Value: 0.01}}
			c.Transform = "norm"
			if !yield(c, nil) {
				return
			}
		}
	}
}

// fakeExec "trains" instantly: accuracy comes from the code's width line;
// it counts trainings per model and can block to simulate a crash.
type fakeExec struct {
	mu     sync.Mutex
	trains map[string]int
	block  chan struct{} // when set, runs wait on it (or ctx)
}

type fakeRun struct {
	ev   chan runner.Event
	done chan struct{}
	res  *runner.Result
	err  error
}

func (r *fakeRun) ID() string                  { return "r" }
func (r *fakeRun) Events() <-chan runner.Event { return r.ev }
func (r *fakeRun) Stop()                       {}
func (r *fakeRun) Cancel()                     {}
func (r *fakeRun) Wait(context.Context) (*runner.Result, error) {
	<-r.done
	return r.res, r.err
}

func (f *fakeExec) Submit(ctx context.Context, job runner.Job) (runner.Run, error) {
	f.mu.Lock()
	f.trains[job.Name]++
	block := f.block
	f.mu.Unlock()
	r := &fakeRun{ev: make(chan runner.Event, 8), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer close(r.ev)
		r.ev <- runner.Event{Type: runner.EventStage, Stage: runner.StageStart}
		if block != nil {
			select {
			case <-block:
			case <-ctx.Done():
				r.err = ctx.Err()
				return
			}
		}
		var width int
		fmt.Sscanf(job.Code[len("# seed "):], "%d\nwidth = %d", new(int64), &width)
		acc := 0.05 + 0.1*float64(width) // width 0 stays below the bar of 1.2 x 0.1
		ep := runner.EpochResult{Epoch: 1, Accuracy: acc, Duration: 1000}
		r.ev <- runner.Event{Type: runner.EventEpoch, Epoch: &ep}
		r.ev <- runner.Event{Type: runner.EventDone}
		r.res = &runner.Result{RunID: fmt.Sprintf("run-%p", r), OK: true, Epochs: []runner.EpochResult{ep}, Params: 100}
	}()
	return r, nil
}

func newEngine(st store.Store, ex *fakeExec, gen synth.Generator) *Engine {
	return &Engine{Store: st, Generator: gen, Exec: ex, Data: &runner.Dataset{Name: "shapes", Classes: 10}}
}

func testConfig() Settings {
	c := DefaultSettings()
	c.Cycles, c.Candidates, c.Seed = 2, 3, 42
	return c
}

// runLoop resolves and runs a loop as `nngpt run` does.
func runLoop(ctx context.Context, eng *Engine, s Settings) (*Result, error) {
	plan, err := Resolve(ctx, eng.Store, Selection{}, s)
	if err != nil {
		return nil, err
	}
	return eng.Run(ctx, plan, 0)
}

// checkFunc is a Gate from a function; Learn does nothing.
type checkFunc func(ctx context.Context, c *synth.Candidate) synth.Verdict

func (f checkFunc) Check(ctx context.Context, c *synth.Candidate) synth.Verdict { return f(ctx, c) }
func (checkFunc) Learn(string, string)                                          {}

// beforeFunc is a Hook that runs a function before each cycle.
type beforeFunc func(ctx context.Context, l store.Loop, cycle int) error

func (f beforeFunc) BeforeCycle(ctx context.Context, l store.Loop, cycle int) error {
	return f(ctx, l, cycle)
}
func (beforeFunc) AfterCycle(context.Context, store.Loop, int) error { return nil }

func openStore(t testing.TB, path string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestLoopRecordsAndAdmits(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "nngpt.db"))
	ex := &fakeExec{trains: map[string]int{}}
	eng := newEngine(st, ex, fakeGen{dup: true})
	dedup := map[string]string{}
	eng.Gate = checkFunc(func(ctx context.Context, c *synth.Candidate) synth.Verdict {
		if prev, ok := dedup[c.ID]; ok {
			return synth.Verdict{Status: synth.StatusDuplicate, DuplicateOf: prev}
		}
		dedup[c.ID] = c.Name + "-first"
		return synth.Verdict{Status: synth.StatusAccepted}
	})
	var events []EventKind
	eng.Observe = func(e Event) { events = append(events, e.Type) }
	res, err := runLoop(ctx, eng, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if res.Loop.Status != "done" || res.Loop.CycleDone != 2 || len(res.Candidates) != 6 {
		t.Fatalf("loop %+v, %d candidates", res.Loop, len(res.Candidates))
	}
	states := map[string]int{}
	admitted := 0
	for _, c := range res.Candidates {
		states[c.State]++
		if c.Admitted {
			admitted++
		}
	}
	// Per cycle: index 1 duplicates index 0; width 0 (acc 0.05) stays below the bar, width 2 (0.25) passes.
	if states[store.StateDone] != 4 || states[store.StateDuplicate] != 2 || admitted != 2 {
		t.Fatalf("states %v, admitted %d", states, admitted)
	}
	for name, n := range ex.trains {
		if n != 1 {
			t.Errorf("%s trained %d times", name, n)
		}
	}
	// Admitted models are in the corpus with code and LEMUR stat rows.
	c, err := st.Counts(ctx)
	if err != nil || c.Codes != 2 || c.Records != 2 {
		t.Fatalf("corpus %+v %v", c, err)
	}
	if events[0] != EventLoop || events[len(events)-1] != EventLoopDone {
		t.Fatalf("events %v", events)
	}
}

// TestLoopResumes interrupts a cycle while trainings run, then resumes:
// finished candidates are not trained again, interrupted ones restart.
func TestLoopResumes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nngpt.db")
	st := openStore(t, path)
	ex := &fakeExec{trains: map[string]int{}, block: make(chan struct{})}
	eng := newEngine(st, ex, fakeGen{})
	var before []int
	hook := beforeFunc(func(_ context.Context, _ store.Loop, cycle int) error {
		before = append(before, cycle)
		return nil
	})
	eng.Hooks = []Hook{hook}
	cctx, cancel := context.WithCancel(ctx)
	running := 0
	eng.Observe = func(e Event) {
		if e.Type == EventCandidate && e.Candidate.State == store.StateRunning {
			running++
			if running == 3 {
				cancel() // every candidate of cycle 1 is running: "kill" the coordinator
			}
		}
	}
	res, err := runLoop(cctx, eng, testConfig())
	if err == nil {
		t.Fatal("interrupted run returned no error")
	}
	if res.Loop.Status != "interrupted" || res.Loop.CycleDone != 0 {
		t.Fatalf("after interruption: %+v", res.Loop)
	}
	for _, c := range res.Candidates {
		if c.State != store.StateRunning && c.State != store.StateQueued {
			t.Fatalf("candidate %s in state %s after the interruption", c.ID, c.State)
		}
	}
	// Resume with a store reopened from disk, as a new process would.
	st2 := openStore(t, path)
	ex.mu.Lock()
	ex.block = nil
	ex.mu.Unlock()
	eng2 := newEngine(st2, ex, fakeGen{})
	eng2.Hooks = []Hook{hook}
	res, err = runLoop(ctx, eng2, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Cycle 1 was interrupted: the resumed loop prepares it again.
	if fmt.Sprint(before) != "[1 1 2]" {
		t.Errorf("BeforeCycle saw cycles %v, want [1 1 2]", before)
	}
	if !res.Resumed || res.Loop.Status != "done" || len(res.Candidates) != 6 {
		t.Fatalf("resumed loop %+v, %d candidates", res.Loop, len(res.Candidates))
	}
	for name, n := range ex.trains {
		// cycle 1's three were started twice (interrupted, restarted); cycle 2's once.
		want := 1
		for _, c := range res.Candidates {
			if c.Name == name && c.Cycle == 1 {
				want = 2
			}
		}
		if n != want {
			t.Errorf("%s trained %d times, want %d", name, n, want)
		}
	}
	// With nothing unfinished, the next run starts a new loop.
	res, err = runLoop(ctx, eng2, testConfig())
	if err != nil || res.Resumed || res.Loop.Status != "done" {
		t.Fatalf("next loop: %v resumed=%v %+v", err, res.Resumed, res.Loop)
	}
}

func TestLoopStoresRunRecords(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "nngpt.db"))
	eng := newEngine(st, &fakeExec{trains: map[string]int{}}, fakeGen{})
	res, err := runLoop(ctx, eng, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range res.Candidates {
		for r, err := range st.ListRuns(ctx, store.RunFilter{NN: c.Name, Origin: "loop"}) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != "ok" {
				t.Errorf("run of %s: status %s", c.Name, r.Status)
			}
			n++
		}
	}
	if n != len(res.Candidates) {
		t.Fatalf("%d run records for %d trained candidates", n, len(res.Candidates))
	}
}

// TestLoopOneWriter: a loop another coordinator holds is refused, naming
// the holder; nothing is written.
func TestLoopOneWriter(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "nngpt.db"))
	ex := &fakeExec{trains: map[string]int{}}
	eng := newEngine(st, ex, fakeGen{})
	plan, err := Resolve(ctx, st, Selection{}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	other, err := store.Hold(ctx, st, store.LoopLease(plan.Loop.ID), store.HoldOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Run(ctx, plan, 0); err == nil || !strings.Contains(err.Error(), "held by") {
		t.Fatalf("a held loop ran: %v", err)
	}
	if len(ex.trains) != 0 {
		t.Fatalf("trained %v while another coordinator held the loop", ex.trains)
	}
	other.Release(ctx)
	if res, err := eng.Run(ctx, plan, 0); err != nil || res.Loop.Status != store.LoopDone {
		t.Fatalf("after the release: %v", err)
	}
}

// screenWidth0 screens the candidates whose code says width = 0, and
// explores (trains anyway) those with width = 1.
type screenWidth0 struct{ asked map[string]int }

func (s screenWidth0) Screen(_ context.Context, row *store.CandidateRow) (bool, float64, string) {
	s.asked[row.ID]++
	switch {
	case strings.Contains(row.Code, "width = 0"):
		return false, 0.05, "predicted_below_bar"
	case strings.Contains(row.Code, "width = 1"):
		return true, 0.08, "explored: trained although predicted_below_bar"
	}
	return true, 0.3, ""
}

// TestLoopScreens: a screened candidate is final without training, with
// its prediction; an explored one trains and says so.
func TestLoopScreens(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "nngpt.db"))
	ex := &fakeExec{trains: map[string]int{}}
	eng := newEngine(st, ex, fakeGen{})
	sc := screenWidth0{asked: map[string]int{}}
	eng.Screener = sc
	res, err := runLoop(ctx, eng, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Candidates {
		switch {
		case strings.Contains(c.Code, "width = 0"):
			if c.State != store.StateScreened || c.Predicted == nil || *c.Predicted != 0.05 || ex.trains[c.Name] != 0 {
				t.Errorf("%s: state %s predicted %v trained %d", c.ID, c.State, c.Predicted, ex.trains[c.Name])
			}
		case strings.Contains(c.Code, "width = 1"):
			if c.State != store.StateDone || !strings.HasPrefix(c.Detail, "explored") || ex.trains[c.Name] != 1 {
				t.Errorf("%s: state %s detail %q trained %d", c.ID, c.State, c.Detail, ex.trains[c.Name])
			}
		default:
			if c.State != store.StateDone || ex.trains[c.Name] != 1 {
				t.Errorf("%s: state %s trained %d", c.ID, c.State, ex.trains[c.Name])
			}
		}
		if sc.asked[c.ID] != 1 {
			t.Errorf("%s screened %d times", c.ID, sc.asked[c.ID])
		}
	}
}
