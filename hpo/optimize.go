package hpo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// TrialRunner runs one trial of a study (trains the configuration). It
// calls report after each step (epoch) with the objective so far; when
// report returns true the trial is to stop early (pruned), and the runner
// should stop it and return.
type TrialRunner interface {
	RunTrial(ctx context.Context, t Trial, report func(step int, value float64) (stop bool)) (TrialResult, error)
}

// TrialResult is what became of one run. A run that could not be judged
// (the runner's infrastructure broke) is an error from RunTrial instead.
type TrialResult struct {
	// Failure, when set, says why the trial failed (the model did not
	// build, ran out of memory, ...); the study records it as Failed.
	Failure string
	// Value is the objective of a single-objective study.
	Value float64
	// Values are the objectives of a multi-objective study, in
	// StudyInfo.Objectives order.
	Values []float64
	// Steps, when set, replace the reported intermediate values with the
	// runner's final account of them.
	Steps []Step
	// Stopped reports that the run ended early because report said so.
	Stopped bool
}

// OptimizeOptions configure Study.Optimize.
type OptimizeOptions struct {
	Trials  int    // trials to run (at least 1)
	Workers int    // trials at once (default 1); pending ones are observations
	Pruner  Pruner // default NopPruner
	// OnStart and OnFinish, when set, see each trial as it starts and as
	// it ends (for progress output); they may be called concurrently.
	OnStart  func(Trial)
	OnFinish func(Trial)
	// AfterTrial, when set, runs after a trial is told (recording the run
	// elsewhere); its error stops the study.
	AfterTrial func(ctx context.Context, t Trial, r TrialResult) error
}

// Optimize runs opts.Trials trials, opts.Workers at a time: ask, run,
// report each step to the pruner, tell. A canceled ctx stops asking new
// trials; the running ones are told as failed ("interrupted") so the
// study never keeps a trial running forever. The first runner error
// stops the study and is returned.
func (s *Study) Optimize(ctx context.Context, r TrialRunner, opts OptimizeOptions) error {
	if opts.Trials < 1 {
		return fmt.Errorf("optimize %s: %d trials, want at least 1", s.Info.Name, opts.Trials)
	}
	workers := max(opts.Workers, 1)
	if opts.Pruner == nil {
		opts.Pruner = NopPruner{}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var left atomic.Int64
	left.Store(int64(opts.Trials))
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && left.Add(-1) >= 0 {
				if err := s.runOne(ctx, r, &opts); err != nil {
					errMu.Lock()
					errs = append(errs, err)
					errMu.Unlock()
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return context.Cause(ctx)
}

func (s *Study) runOne(ctx context.Context, r TrialRunner, opts *OptimizeOptions) error {
	t, err := s.Ask(ctx)
	if err != nil {
		return err
	}
	if opts.OnStart != nil {
		opts.OnStart(t)
	}
	var mu sync.Mutex // report may be called from the runner's goroutines
	var pruneNote string
	report := func(step int, value float64) bool {
		mu.Lock()
		defer mu.Unlock()
		if err := s.Report(ctx, &t, step, value); err != nil {
			return false
		}
		others, err := s.Trials(ctx)
		if err != nil {
			return false
		}
		if stop, why := opts.Pruner.Prune(t, others, s.Info.Direction); stop {
			pruneNote = opts.Pruner.Name() + ": " + why
			return true
		}
		return false
	}
	res, runErr := r.RunTrial(ctx, t, report)
	// The bookkeeping finishes even when ctx was canceled.
	bg := context.WithoutCancel(ctx)
	mu.Lock()
	defer mu.Unlock()
	if res.Steps != nil {
		t.Intermediate = res.Steps
	}
	switch {
	case runErr != nil:
		note := "not judged: " + runErr.Error()
		if ctx.Err() != nil {
			note = "interrupted"
		}
		tell := s.Tell(bg, &t, Failed, math.NaN(), note)
		if ctx.Err() != nil {
			return tell
		}
		return errors.Join(fmt.Errorf("trial %d: %w", t.Number, runErr), tell)
	case res.Failure != "":
		err = s.Tell(bg, &t, Failed, math.NaN(), res.Failure)
	case res.Stopped && pruneNote != "":
		err = s.Tell(bg, &t, Pruned, math.NaN(), pruneNote)
	default:
		t.Values = res.Values
		err = s.Tell(bg, &t, Complete, res.Value, "")
	}
	if err != nil {
		return err
	}
	if opts.AfterTrial != nil {
		if err := opts.AfterTrial(bg, t, res); err != nil {
			return fmt.Errorf("after trial %d: %w", t.Number, err)
		}
	}
	if opts.OnFinish != nil {
		opts.OnFinish(t)
	}
	return nil
}
