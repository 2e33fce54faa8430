// Package loop is NNGPT's closed loop: generate -> gate -> train -> record
// -> grow the corpus -> (fine-tune) -> generate again from the grown corpus.
//
// Every candidate moves through journal states (store.State*) committed
// before the next step, so a coordinator killed at any moment resumes where
// it was: final candidates are kept, interrupted trainings restart, nothing
// finished is trained twice. Generation is deterministic for a given seed
// and corpus, and the corpus only grows between cycles, so a resumed cycle
// regenerates exactly the candidates it had.
package loop

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/internal/text"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
)

// Engine runs loops. Store, Generator, Exec and Data are required; the
// other collaborators are optional.
type Engine struct {
	Store     store.Store
	Generator synth.Generator
	Exec      runner.Executor
	Data      *runner.Dataset
	Device    string // cpu, cuda, cuda:N
	Gate      Gate   // nil accepts everything
	HP        HPSource
	Screener  Screener
	Pruner    Pruner
	Hooks     []Hook
	// Observe receives progress events; nil drops them. Called from several
	// goroutines, one event at a time.
	Observe func(Event)
	// Repro is recorded with every candidate (python, torch, device, ...).
	Repro map[string]any
	Log   *slog.Logger

	mu sync.Mutex // serialises Observe
}

// Gate runs the static gates and dedup on new candidates.
type Gate interface {
	// Check judges a new candidate. It must treat code identical to the
	// candidate's own earlier check (after a crash) as passing, not as a
	// duplicate.
	Check(ctx context.Context, c *synth.Candidate) synth.Verdict
	// Learn tells the dedup index about a candidate that passed the gate
	// before this process started (earlier cycles, other loops), so the
	// index matches the one an uninterrupted run would have.
	Learn(name, code string)
}

// HPSource settles a new candidate's hyperparameters (model keys, batch
// and transform) before it is journaled: the generator's (an LLM's <hp>)
// when usable, else a recommender's; source names which. It must be
// deterministic for a given corpus, since a resumed cycle asks again. An
// error keeps the generator's.
type HPSource interface {
	Hyperparameters(ctx context.Context, c *synth.Candidate) (prm lemur.Dict, source string, err error)
}

// Screener decides before training whether a gated candidate is worth
// its training (a prediction from code and hyperparameters alone). why
// names the rule that screened it, or, for one trained anyway to measure
// what screening costs, that rule prefixed by "explored".
type Screener interface {
	Screen(ctx context.Context, row *store.CandidateRow) (train bool, predicted float64, why string)
}

// Pruner stops hopeless runs between epochs.
type Pruner interface {
	// Prune decides after an epoch (1-based) with accuracy acc whether a
	// run is hopeless; predicted is the predicted best accuracy it judged by.
	Prune(ctx context.Context, row *store.CandidateRow, epoch int, acc float64) (stop bool, predicted float64)
	// Finished is told of every candidate that finished training (done,
	// failed or pruned), so later decisions see this loop's results.
	Finished(row store.CandidateRow)
}

// Hook runs around cycles (evolve's policy, the fine-tune step). What
// BeforeCycle changes must follow from the journal alone, so a resumed
// cycle generates what an uninterrupted one would; it also runs before the
// cycle a resumed loop goes on with. An error stops the loop.
type Hook interface {
	BeforeCycle(ctx context.Context, l store.Loop, cycle int) error
	AfterCycle(ctx context.Context, l store.Loop, cycle int) error
}

// EventKind names what an Event reports.
type EventKind string

const (
	EventLoop      EventKind = "loop"       // started, resumed, time budget spent (Message)
	EventCycle     EventKind = "cycle"      // a cycle begins
	EventCandidate EventKind = "candidate"  // a candidate's journal row changed
	EventBatch     EventKind = "batch"      // training progress within an epoch
	EventEpoch     EventKind = "epoch"      // an epoch finished
	EventAdmitted  EventKind = "admitted"   // a candidate joined the corpus
	EventCycleDone EventKind = "cycle_done" // every candidate of the cycle is final
	EventLoopDone  EventKind = "loop_done"  // the loop ended
)

// Event is one step of the loop, for progress displays and --json.
type Event struct {
	Type      EventKind           `json:"type"`
	Loop      string              `json:"loop"`
	Cycle     int                 `json:"cycle,omitempty"`
	Cycles    int                 `json:"cycles,omitempty"`
	Candidate *store.CandidateRow `json:"candidate,omitempty"`
	Epoch     *runner.EpochResult `json:"epoch,omitempty"`
	Progress  *runner.Progress    `json:"progress,omitempty"`
	Message   string              `json:"message,omitempty"`
	Time      time.Time           `json:"time"`
}

// Result sums up a run of the loop.
type Result struct {
	Loop       store.Loop
	Candidates []store.CandidateRow
	Resumed    bool
}

// ErrInterrupted is returned when ctx ended before the loop finished; the
// journal holds everything committed so far.
var ErrInterrupted = errors.New("loop interrupted")

func (e *Engine) emit(ev Event) {
	if e.Observe == nil {
		return
	}
	ev.Time = time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Observe(ev)
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// Run runs the planned loop (new or resumed, see Resolve) to its end, ctx's
// end or the time budget (0: none), whichever comes first.
func (e *Engine) Run(ctx context.Context, plan Plan, budget time.Duration) (*Result, error) {
	l, set := plan.Loop, plan.Settings
	// One writer per loop: a second coordinator is refused with who holds
	// the loop; one whose lease is lost (it hung past its TTL and another
	// took over) stops writing.
	lease, err := store.Hold(ctx, e.Store, store.LoopLease(l.ID), store.HoldOptions{Logger: e.Log})
	if err != nil {
		return nil, fmt.Errorf("loop %s: %w", l.ID, err)
	}
	defer lease.Release(context.WithoutCancel(ctx))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-lease.Lost():
			cancel(fmt.Errorf("loop %s: lease lost: %w", l.ID, lease.Err()))
		case <-ctx.Done():
		}
	}()
	if !plan.Resumed {
		if err := e.Store.PutLoop(ctx, l); err != nil {
			return nil, err
		}
	} else if l.Status != store.LoopRunning {
		l.Status = store.LoopRunning
		if err := e.Store.PutLoop(ctx, l); err != nil {
			return nil, err
		}
	}
	if err := e.learnPast(ctx, l); err != nil {
		return nil, err
	}
	e.emit(Event{Type: EventLoop, Loop: l.ID, Cycles: l.Cycles, Message: map[bool]string{true: "resumed", false: "started"}[plan.Resumed]})
	start := time.Now()
	res := &Result{Resumed: plan.Resumed}
	interrupted := func(err error) (*Result, error) {
		l.Status = store.LoopInterrupted
		e.Store.PutLoop(context.WithoutCancel(ctx), l)
		res.Loop = l
		res.Candidates, _ = e.Store.Candidates(context.WithoutCancel(ctx), l.ID)
		if ctx.Err() != nil {
			return res, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		}
		return res, err
	}
	for cycle := l.CycleDone + 1; cycle <= l.Cycles; cycle++ {
		if budget > 0 && time.Since(start) > budget {
			e.emit(Event{Type: EventLoop, Loop: l.ID, Message: "time budget spent"})
			break
		}
		for _, h := range e.Hooks {
			if err := h.BeforeCycle(ctx, l, cycle); err != nil {
				return interrupted(fmt.Errorf("before cycle %d: %w", cycle, err))
			}
		}
		if err := e.cycle(ctx, &l, set, cycle); err != nil {
			return interrupted(err)
		}
		l.CycleDone = cycle
		if err := e.Store.PutLoop(ctx, l); err != nil {
			return res, err
		}
		e.emit(Event{Type: EventCycleDone, Loop: l.ID, Cycle: cycle, Cycles: l.Cycles})
		for _, h := range e.Hooks {
			if err := h.AfterCycle(ctx, l, cycle); err != nil {
				return interrupted(fmt.Errorf("after cycle %d: %w", cycle, err))
			}
		}
	}
	l.Status = store.LoopDone
	if l.CycleDone < l.Cycles {
		l.Status = store.LoopStopped
	}
	if err := e.Store.PutLoop(ctx, l); err != nil {
		return res, err
	}
	res.Loop = l
	res.Candidates, err = e.Store.Candidates(ctx, l.ID)
	e.emit(Event{Type: EventLoopDone, Loop: l.ID, Cycles: l.Cycles})
	return res, err
}

// passedGate reports whether a candidate in state s got through the gate.
func passedGate(s string) bool {
	switch s {
	case store.StateGated, store.StateQueued, store.StateRunning, store.StateDone, store.StateFailed, store.StatePruned, store.StateScreened:
		return true
	}
	return false
}

// learnPast feeds Learn the candidates of other loops and of this loop's
// finished cycles.
func (e *Engine) learnPast(ctx context.Context, l store.Loop) error {
	if e.Gate == nil {
		return nil
	}
	loops, err := e.Store.Loops(ctx)
	if err != nil {
		return err
	}
	for _, other := range loops {
		rows, err := e.Store.Candidates(ctx, other.ID)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if passedGate(r.State) && (other.ID != l.ID || r.Cycle <= l.CycleDone) {
				e.Gate.Learn(r.Name, r.Code)
			}
		}
	}
	return nil
}

// cycle runs one cycle to the end: every candidate final, the good ones
// admitted into the corpus.
func (e *Engine) cycle(ctx context.Context, l *store.Loop, cfg Settings, cycle int) error {
	e.emit(Event{Type: EventCycle, Loop: l.ID, Cycle: cycle, Cycles: l.Cycles})
	all, err := e.Store.Candidates(ctx, l.ID)
	if err != nil {
		return err
	}
	byIndex := map[int]store.CandidateRow{}
	for _, c := range all {
		if c.Cycle == cycle {
			byIndex[c.Index] = c
		}
	}
	if len(byIndex) < cfg.Candidates {
		if err := e.generate(ctx, l, cfg, cycle, byIndex); err != nil {
			return err
		}
	}
	rows := make([]store.CandidateRow, 0, len(byIndex))
	for i := range cfg.Candidates {
		if c, ok := byIndex[i]; ok {
			rows = append(rows, c)
		}
	}

	// Candidates of this cycle gated before a crash belong in the index
	// before the rest is checked against it, as they were then.
	for _, r := range rows {
		if e.Gate != nil && passedGate(r.State) {
			e.Gate.Learn(r.Name, r.Code)
		}
	}
	// Gate what was generated but not checked yet.
	for i := range rows {
		if rows[i].State != store.StateGenerated {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		e.gate(ctx, &rows[i])
		if err := e.save(ctx, &rows[i]); err != nil {
			return err
		}
	}

	// Screen what passed the gate: the journal keeps the verdict, so a
	// resumed cycle does not ask again.
	for i := range rows {
		if rows[i].State != store.StateGated || e.Screener == nil || rows[i].Detail != "" {
			continue
		}
		train, predicted, why := e.Screener.Screen(ctx, &rows[i])
		if !train {
			rows[i].State, rows[i].Reason, rows[i].Predicted = store.StateScreened, why, &predicted
		} else if why != "" {
			rows[i].Detail, rows[i].Predicted = why, &predicted
		} else {
			continue
		}
		if err := e.save(ctx, &rows[i]); err != nil {
			return err
		}
	}

	// Train every candidate that passed and is not final: gated, or queued
	// and running ones a crash interrupted.
	var wg sync.WaitGroup
	errs := make(chan error, len(rows))
	for i := range rows {
		switch rows[i].State {
		case store.StateGated, store.StateQueued, store.StateRunning:
		default:
			continue
		}
		rows[i].State = store.StateQueued
		rows[i].Epochs, rows[i].Durations = nil, nil
		if err := e.save(ctx, &rows[i]); err != nil {
			return err
		}
		wg.Add(1)
		go func(row *store.CandidateRow) {
			defer wg.Done()
			if err := e.train(ctx, cfg, row); err != nil {
				errs <- err
			}
		}(&rows[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.admit(ctx, cfg, rows)
}

// generate asks the generator for the cycle's candidates and journals the
// ones whose index is not there yet.
func (e *Engine) generate(ctx context.Context, l *store.Loop, cfg Settings, cycle int, have map[int]store.CandidateRow) error {
	req := cfg.Request(cfg.Candidates, l.Seed*1000+int64(cycle))
	i := 0
	for c, err := range e.Generator.Generate(ctx, req) {
		if err != nil {
			return fmt.Errorf("cycle %d: generate: %w", cycle, err)
		}
		if _, ok := have[i]; !ok {
			source := "generator"
			if e.HP != nil && c.Verdict.OK() {
				if prm, src, err := e.HP.Hyperparameters(ctx, c); err == nil {
					hp, batch, tr := lemur.SplitPrm(prm)
					c.HP, c.Transform, source = lemur.JoinPrm(hp, batch, ""), tr, src
				} else {
					e.log().Info("keeping the generator's hyperparameters", "candidate", c.Name, "err", err)
				}
			}
			row := e.rowFrom(l.ID, cfg, cycle, i, c, source)
			if err := e.save(ctx, &row); err != nil {
				return err
			}
			have[i] = row
		}
		i++
		if i >= cfg.Candidates {
			break
		}
	}
	return nil
}

func (e *Engine) rowFrom(loopID string, cfg Settings, cycle, i int, c *synth.Candidate, hpSource string) store.CandidateRow {
	hp, batch, _ := lemur.SplitPrm(c.HP)
	prm := lemur.JoinPrm(hp, cmp.Or(batch, cfg.Batch), cmp.Or(c.Transform, "norm"))
	repro := map[string]any{"seed": c.Seed, "generator": c.Generator, "operators": c.Operators, "dataset": cfg.Dataset,
		"hp_source": hpSource}
	if c.Prompt != "" {
		repro["prompt_hash"] = lemur.HashText(c.Prompt)
		repro["llm_url"], repro["llm_model"] = cfg.LLM.URL, cfg.LLM.Model
	}
	for k, v := range e.Repro {
		repro[k] = v
	}
	js, _ := json.Marshal(repro)
	row := store.CandidateRow{
		ID: fmt.Sprintf("%s-c%02d-%02d", loopID, cycle, i), LoopID: loopID, Cycle: cycle, Index: i,
		State: store.StateGenerated, Name: c.Name, CodeID: c.ID, Code: c.Code, Generator: c.Generator,
		Parents: c.Parents, Operators: c.Operators,
		Pipeline: lemur.Pipeline{Task: cfg.Task, Dataset: cfg.Dataset, Metric: cfg.Metric, NN: c.Name},
		Prm:      prm, Repro: string(js),
	}
	if !c.Verdict.OK() { // the generator itself gave up on it (no code in a reply, ...)
		row.State, row.Reason, row.Detail = store.StateRejected, c.Verdict.Reason, c.Verdict.Message
	}
	return row
}

// gate runs the static checks and dedup and sets the row's state.
func (e *Engine) gate(ctx context.Context, row *store.CandidateRow) {
	if e.Gate == nil {
		row.State = store.StateGated
		return
	}
	c := synth.New(row.Generator, row.Code)
	c.HP, c.Parents, c.Operators = row.Prm, row.Parents, row.Operators
	v := e.Gate.Check(ctx, c)
	switch {
	case v.Status == synth.StatusDuplicate && v.DuplicateOf != row.Name && v.DuplicateOf != row.CodeID:
		row.State, row.Reason, row.Detail = store.StateDuplicate, nonEmpty(v.Reason, "duplicate"), v.DuplicateOf
	case v.Status == synth.StatusRejected:
		row.State, row.Reason, row.Detail = store.StateRejected, v.Reason, v.Message
	default:
		// Coordinators sharing one corpus never train the same code twice:
		// the first loop to claim it trains it (a resumed loop holds its
		// claims already).
		if ok, err := e.Store.ClaimCode(ctx, row.CodeID, row.LoopID); err != nil {
			row.State, row.Reason, row.Detail = store.StateFailed, "internal", "claim: "+err.Error()
		} else if !ok {
			row.State, row.Reason, row.Detail = store.StateDuplicate, "claimed", "another coordinator trains this code"
		} else {
			row.State = store.StateGated
		}
	}
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// train runs one candidate through the executor, journaling its progress.
func (e *Engine) train(ctx context.Context, cfg Settings, row *store.CandidateRow) error {
	prm, batch, tr := lemur.SplitPrm(row.Prm)
	var mu sync.Mutex // guards row between OnEpoch and this goroutine
	job := runner.Job{
		Key:  row.ID, // a cluster executor re-attaches to the job of a resumed candidate
		Name: row.Name, Code: row.Code, Data: e.Data, Prm: prm, Batch: cmp.Or(batch, cfg.Batch), Transform: tr, Epochs: cfg.Epochs, Device: e.Device, MaxParams: cfg.MaxParams,
		Seed: seedOf(row),
		OnEpoch: func(ep runner.EpochResult) runner.Decision {
			if e.Pruner == nil {
				return runner.Continue
			}
			mu.Lock()
			defer mu.Unlock()
			if stop, predicted := e.Pruner.Prune(ctx, row, ep.Epoch, ep.Accuracy); stop {
				row.Predicted = &predicted
				return runner.Stop
			}
			return runner.Continue
		},
	}
	run, err := e.Exec.Submit(ctx, job)
	if err != nil {
		row.State, row.Reason, row.Detail = store.StateFailed, "submit", err.Error()
		return e.save(ctx, row)
	}
	for ev := range run.Events() {
		mu.Lock()
		switch ev.Type {
		case runner.EventStage:
			if ev.Stage == runner.StageStart && row.State == store.StateQueued {
				row.State = store.StateRunning
				err = e.save(ctx, row)
			}
		case runner.EventBatch:
			e.emit(Event{Type: EventBatch, Loop: row.LoopID, Cycle: row.Cycle, Candidate: &store.CandidateRow{ID: row.ID, Name: row.Name},
				Progress: ev.Progress})
		case runner.EventEpoch:
			row.Epochs = append(row.Epochs, ev.Epoch.Accuracy)
			row.Durations = append(row.Durations, ev.Epoch.Duration)
			err = e.save(ctx, row)
			e.emit(Event{Type: EventEpoch, Loop: row.LoopID, Cycle: row.Cycle, Candidate: ptr(*row), Epoch: ev.Epoch})
		}
		mu.Unlock()
		if err != nil {
			run.Cancel()
			return err
		}
	}
	res, err := run.Wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // interrupted: the row stays queued/running and restarts on resume
		}
		row.State, row.Reason, row.Detail = store.StateFailed, "internal", err.Error()
		return e.save(ctx, row)
	}
	if res.Failure != nil && res.Failure.Kind == runner.FailCanceled && ctx.Err() != nil {
		return ctx.Err()
	}
	// The run record (stage reached, failure, log tail, versions, seed)
	// goes first: a crash before the row's final state retrains it anyway.
	if err := e.Store.PutRun(context.WithoutCancel(ctx), corpus.RunRecord(res, "loop", row.Pipeline)); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	row.Params = res.Params
	row.Epochs, row.Durations = row.Epochs[:0], row.Durations[:0]
	for _, ep := range res.Epochs {
		row.Epochs = append(row.Epochs, ep.Accuracy)
		row.Durations = append(row.Durations, ep.Duration)
	}
	if n := len(res.Epochs); n > 0 {
		row.Duration = res.Epochs[n-1].Duration
	}
	switch {
	case res.Failure != nil:
		row.State, row.Reason = store.StateFailed, string(res.Failure.Kind)
		row.Detail = res.Failure.Message
		if res.Failure.Traceback != "" {
			row.Detail += "\n" + text.Tail(res.Failure.Traceback, 2000)
		}
	case res.Stopped && row.Predicted != nil:
		row.State, row.Reason = store.StatePruned, "predicted_below_bar"
	default:
		row.State = store.StateDone
	}
	if err := e.save(ctx, row); err != nil {
		return err
	}
	if e.Pruner != nil {
		e.Pruner.Finished(*row)
	}
	return nil
}

func seedOf(row *store.CandidateRow) int64 {
	var r struct {
		Seed int64 `json:"seed"`
	}
	json.Unmarshal([]byte(row.Repro), &r)
	return r.Seed
}

func ptr[T any](v T) *T { return &v }

// admit puts the cycle's good models into the corpus: their code in the nn
// table and their epochs as LEMUR stat rows. Re-running it is harmless.
func (e *Engine) admit(ctx context.Context, cfg Settings, rows []store.CandidateRow) error {
	if e.Data.Subset {
		// A subset's accuracy is not the dataset's: LEMUR's rows, which
		// prompts, predictors and HPO learn from, take full-data results only.
		return nil
	}
	bar := cfg.Admit * e.Data.Chance()
	for i := range rows {
		row := &rows[i]
		if row.State != store.StateDone || row.Admitted || row.Best() <= bar {
			continue
		}
		if _, err := e.Store.PutCode(ctx, store.Code{Kind: store.KindNN, Name: row.Name, Code: row.Code, ID: row.CodeID}); err != nil {
			return fmt.Errorf("admit %s: %w", row.Name, err)
		}
		p := lemur.Pipeline{Task: cfg.Task, Dataset: cfg.Dataset, Metric: cfg.Metric, NN: row.Name}
		recs := make([]lemur.Record, len(row.Epochs))
		for j, acc := range row.Epochs {
			d := row.Durations[j]
			recs[j] = lemur.NewRecord(p, j+1, acc, &d, row.Prm)
		}
		if _, err := e.Store.AddStats(ctx, recs); err != nil {
			return fmt.Errorf("admit %s: %w", row.Name, err)
		}
		row.Admitted = true
		if err := e.save(ctx, row); err != nil {
			return err
		}
		e.emit(Event{Type: EventAdmitted, Loop: row.LoopID, Cycle: row.Cycle, Candidate: ptr(*row)})
	}
	return nil
}

// save commits a row and reports it.
func (e *Engine) save(ctx context.Context, row *store.CandidateRow) error {
	// Commit even while shutting down: a finished result is never lost.
	if err := e.Store.PutCandidate(context.WithoutCancel(ctx), *row); err != nil {
		return err
	}
	e.emit(Event{Type: EventCandidate, Loop: row.LoopID, Cycle: row.Cycle, Candidate: ptr(*row)})
	return nil
}
