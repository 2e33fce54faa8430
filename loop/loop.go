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
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
)

// Engine runs loops. Its collaborators are fields so tests and the CLI wire
// them; Store, Generator, Exec and Data are required.
type Engine struct {
	Store     store.Store
	Generator synth.Generator
	Exec      runner.Executor
	Data      *runner.Dataset
	// Check runs the static gates and dedup on a new candidate; nil accepts
	// everything. It must treat code identical to the candidate's own
	// earlier check (after a crash) as passing, not as a duplicate.
	Check func(ctx context.Context, c *synth.Candidate) synth.Verdict
	// Hyperparameters settles a new candidate's hyperparameters (model keys,
	// batch and transform) before it is journaled: the generator's (an LLM's
	// <hp>) when usable, else a recommender's; source names which. It must be
	// deterministic for a given corpus, since a resumed cycle asks again.
	// nil, or an error, keeps the generator's.
	Hyperparameters func(ctx context.Context, c *synth.Candidate) (prm lemur.Dict, source string, err error)
	// Learn tells the dedup index about a candidate that passed the gate
	// before this process started (earlier cycles, other loops): the index
	// then matches the one an uninterrupted run would have. nil: no index.
	Learn func(row store.CandidateRow)
	// Prune decides after an epoch whether a run is hopeless; nil never
	// prunes. predicted is the predicted best accuracy it judged by.
	Prune func(row *store.CandidateRow, e runner.EpochResult) (stop bool, predicted float64)
	// Start runs once the loop is chosen, before its first cycle (a
	// resumed loop picks up its fine-tuned model there); an error stops it.
	Start func(ctx context.Context, l store.Loop) error
	// Finished is told of every candidate that finished training (done,
	// failed or pruned); nil: nobody listens.
	Finished func(row store.CandidateRow)
	// BeforeCycle runs before a cycle generates, the cycle a resumed loop
	// goes on with included; an error stops the loop. What it changes must
	// follow from the journal alone, so a resumed cycle generates what an
	// uninterrupted one would.
	BeforeCycle func(ctx context.Context, l store.Loop, cycle int) error
	// AfterCycle runs after a cycle's admissions (fine-tune hook); an error
	// stops the loop.
	AfterCycle func(ctx context.Context, l store.Loop, cycle int) error
	// Observe receives progress events; nil drops them. Called from several
	// goroutines, one event at a time.
	Observe func(Event)
	// Repro is recorded with every candidate (python, torch, device, ...).
	Repro map[string]any
	Log   *slog.Logger

	mu sync.Mutex // serialises Observe
}

// Options choose the loop to run.
type Options struct {
	Config config.Config
	// Resume continues this loop ("" : the latest unfinished one).
	Resume string
	// New starts a new loop even when an unfinished one exists.
	New bool
}

// Event is one step of the loop, for progress displays and --json.
type Event struct {
	Type      string              `json:"type"` // loop, cycle, candidate, batch, epoch, admitted, cycle_done, loop_done
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

// Run runs (or resumes) a loop to its end, ctx's end or the time budget.
func (e *Engine) Run(ctx context.Context, opt Options) (*Result, error) {
	cfg := opt.Config
	l, resumed, err := e.openLoop(ctx, opt)
	if err != nil {
		return nil, err
	}
	if resumed {
		// The stored settings win: the candidates already made depend on them.
		if err := json.Unmarshal([]byte(l.Config), &cfg); err != nil {
			return nil, fmt.Errorf("loop %s: stored settings unreadable: %w", l.ID, err)
		}
	}
	if err := e.learnPast(ctx, l); err != nil {
		return nil, err
	}
	if e.Start != nil {
		if err := e.Start(ctx, l); err != nil {
			return nil, err
		}
	}
	e.emit(Event{Type: "loop", Loop: l.ID, Cycles: l.Cycles, Message: map[bool]string{true: "resumed", false: "started"}[resumed]})
	start := time.Now()
	res := &Result{Resumed: resumed}
	for cycle := l.CycleDone + 1; cycle <= l.Cycles; cycle++ {
		if cfg.TimeBudget > 0 && time.Since(start) > cfg.TimeBudget {
			e.emit(Event{Type: "loop", Loop: l.ID, Message: "time budget spent"})
			break
		}
		if e.BeforeCycle != nil {
			if err := e.BeforeCycle(ctx, l, cycle); err != nil {
				return res, fmt.Errorf("before cycle %d: %w", cycle, err)
			}
		}
		if err := e.cycle(ctx, &l, cfg, cycle); err != nil {
			l.Status = "interrupted"
			e.Store.PutLoop(context.WithoutCancel(ctx), l)
			res.Loop = l
			res.Candidates, _ = e.Store.Candidates(context.WithoutCancel(ctx), l.ID)
			if ctx.Err() != nil {
				return res, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
			}
			return res, err
		}
		l.CycleDone = cycle
		if err := e.Store.PutLoop(ctx, l); err != nil {
			return res, err
		}
		e.emit(Event{Type: "cycle_done", Loop: l.ID, Cycle: cycle, Cycles: l.Cycles})
		if e.AfterCycle != nil {
			if err := e.AfterCycle(ctx, l, cycle); err != nil {
				return res, fmt.Errorf("after cycle %d: %w", cycle, err)
			}
		}
	}
	l.Status = "done"
	if l.CycleDone < l.Cycles {
		l.Status = "stopped"
	}
	if err := e.Store.PutLoop(ctx, l); err != nil {
		return res, err
	}
	res.Loop = l
	res.Candidates, err = e.Store.Candidates(ctx, l.ID)
	e.emit(Event{Type: "loop_done", Loop: l.ID, Cycles: l.Cycles})
	return res, err
}

// passedGate reports whether a candidate in state s got through the gate.
func passedGate(s string) bool {
	switch s {
	case store.StateGated, store.StateQueued, store.StateRunning, store.StateDone, store.StateFailed, store.StatePruned:
		return true
	}
	return false
}

// learnPast feeds Learn the candidates of other loops and of this loop's
// finished cycles.
func (e *Engine) learnPast(ctx context.Context, l store.Loop) error {
	if e.Learn == nil {
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
				e.Learn(r)
			}
		}
	}
	return nil
}

// openLoop finds the loop to resume or starts a new one.
func (e *Engine) openLoop(ctx context.Context, opt Options) (store.Loop, bool, error) {
	if opt.Resume != "" {
		l, ok, err := e.Store.GetLoop(ctx, opt.Resume)
		if err != nil {
			return l, false, err
		}
		if !ok {
			return l, false, fmt.Errorf("no loop %q in this workspace (`nngpt report --list` lists them)", opt.Resume)
		}
		return l, true, nil
	}
	if !opt.New {
		loops, err := e.Store.Loops(ctx)
		if err != nil {
			return store.Loop{}, false, err
		}
		if len(loops) > 0 && loops[0].Status != "done" && loops[0].Status != "stopped" {
			return loops[0], true, nil
		}
	}
	cfg := opt.Config
	if cfg.Seed == 0 {
		var b [4]byte
		rand.Read(b[:])
		cfg.Seed = int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3]) | 1
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return store.Loop{}, false, err
	}
	var id [4]byte
	rand.Read(id[:])
	l := store.Loop{
		ID:     time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(id[:]),
		Status: "running", Config: string(js), Seed: cfg.Seed, Cycles: cfg.Cycles,
	}
	return l, false, e.Store.PutLoop(ctx, l)
}

// cycle runs one cycle to the end: every candidate final, the good ones
// admitted into the corpus.
func (e *Engine) cycle(ctx context.Context, l *store.Loop, cfg config.Config, cycle int) error {
	e.emit(Event{Type: "cycle", Loop: l.ID, Cycle: cycle, Cycles: l.Cycles})
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
		if e.Learn != nil && passedGate(r.State) {
			e.Learn(r)
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
func (e *Engine) generate(ctx context.Context, l *store.Loop, cfg config.Config, cycle int, have map[int]store.CandidateRow) error {
	req := synth.Request{N: cfg.Candidates, Task: cfg.Task, Dataset: cfg.Dataset, Metric: cfg.Metric, Shots: cfg.LLM.Shots,
		Seed: l.Seed*1000 + int64(cycle)}
	i := 0
	for c, err := range e.Generator.Generate(ctx, req) {
		if err != nil {
			return fmt.Errorf("cycle %d: generate: %w", cycle, err)
		}
		if _, ok := have[i]; !ok {
			source := "generator"
			if e.Hyperparameters != nil && c.Verdict.OK() {
				if prm, src, err := e.Hyperparameters(ctx, c); err == nil {
					tr, _ := prm.String("transform")
					c.HP, c.Transform, source = prm.Without("transform"), tr, src
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

func (e *Engine) rowFrom(loopID string, cfg config.Config, cycle, i int, c *synth.Candidate, hpSource string) store.CandidateRow {
	prm := append(lemur.Dict(nil), c.HP...)
	if _, ok := prm.Get("batch"); !ok {
		prm = prm.Set("batch", int64(cfg.Batch))
	}
	tr := c.Transform
	if tr == "" {
		tr = "norm"
	}
	prm = prm.Set("transform", tr)
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
	if e.Check == nil {
		row.State = store.StateGated
		return
	}
	c := synth.New(row.Generator, row.Code)
	c.HP, c.Parents, c.Operators = row.Prm, row.Parents, row.Operators
	v := e.Check(ctx, c)
	switch {
	case v.Status == synth.StatusDuplicate && v.DuplicateOf != row.Name && v.DuplicateOf != row.CodeID:
		row.State, row.Reason, row.Detail = store.StateDuplicate, nonEmpty(v.Reason, "duplicate"), v.DuplicateOf
	case v.Status == synth.StatusRejected:
		row.State, row.Reason, row.Detail = store.StateRejected, v.Reason, v.Message
	default:
		row.State = store.StateGated
	}
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// train runs one candidate through the executor, journaling its progress.
func (e *Engine) train(ctx context.Context, cfg config.Config, row *store.CandidateRow) error {
	batch := cfg.Batch
	if v, ok := row.Prm.Get("batch"); ok {
		if b, ok := lemur.AsFloat(v); ok && b >= 1 {
			batch = int(b)
		}
	}
	tr, _ := row.Prm.String("transform")
	var mu sync.Mutex // guards row between OnEpoch and this goroutine
	job := runner.Job{
		Name: row.Name, Code: row.Code, Data: e.Data, Prm: row.Prm.Without("batch", "transform"),
		Batch: batch, Transform: tr, Epochs: cfg.Epochs, Device: cfg.Device, MaxParams: cfg.MaxParams,
		Seed: seedOf(row),
		OnEpoch: func(ep runner.EpochResult) runner.Decision {
			if e.Prune == nil {
				return runner.Continue
			}
			mu.Lock()
			defer mu.Unlock()
			if stop, predicted := e.Prune(row, ep); stop {
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
			e.emit(Event{Type: "batch", Loop: row.LoopID, Cycle: row.Cycle, Candidate: &store.CandidateRow{ID: row.ID, Name: row.Name},
				Progress: ev.Progress})
		case runner.EventEpoch:
			row.Epochs = append(row.Epochs, ev.Epoch.Accuracy)
			row.Durations = append(row.Durations, ev.Epoch.Duration)
			err = e.save(ctx, row)
			e.emit(Event{Type: "epoch", Loop: row.LoopID, Cycle: row.Cycle, Candidate: ptr(*row), Epoch: ev.Epoch})
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
	if err := e.Store.PutRun(context.WithoutCancel(ctx), res.RunRecord("loop", row.Pipeline)); err != nil {
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
			row.Detail += "\n" + tail(res.Failure.Traceback, 2000)
		}
	case res.Stopped && row.Predicted != nil:
		row.State, row.Reason = store.StatePruned, "predicted_below_bar"
	default:
		row.State = store.StateDone
	}
	if err := e.save(ctx, row); err != nil {
		return err
	}
	if e.Finished != nil {
		e.Finished(*row)
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

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

func ptr[T any](v T) *T { return &v }

// admit puts the cycle's good models into the corpus: their code in the nn
// table and their epochs as LEMUR stat rows. Re-running it is harmless.
func (e *Engine) admit(ctx context.Context, cfg config.Config, rows []store.CandidateRow) error {
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
		e.emit(Event{Type: "admitted", Loop: row.LoopID, Cycle: row.Cycle, Candidate: ptr(*row)})
	}
	return nil
}

// save commits a row and reports it.
func (e *Engine) save(ctx context.Context, row *store.CandidateRow) error {
	// Commit even while shutting down: a finished result is never lost.
	if err := e.Store.PutCandidate(context.WithoutCancel(ctx), *row); err != nil {
		return err
	}
	e.emit(Event{Type: "candidate", Loop: row.LoopID, Cycle: row.Cycle, Candidate: ptr(*row)})
	return nil
}
