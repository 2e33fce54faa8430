package gate

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/nngpt/nngpt/internal/text"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/synth"
)

// RunnerCheck is the dynamic check through the sandboxed worker: build and
// one forward pass (the run is cancelled once the parameter count passed),
// or, with Train, one full training epoch. It keeps each run's result so
// the candidate's verdict can carry the failing stage or the accuracy.
type RunnerCheck struct {
	Exec      runner.Executor
	Data      *runner.Dataset
	Train     bool
	Batch     int // when a candidate proposes none (0: the worker's default)
	MaxParams int64
	Device    string
	Seed      int64

	mu      sync.Mutex
	results map[string]*runner.Result
	cands   map[string]*synth.Candidate
}

// Register remembers the candidate behind a gate name, for its
// hyperparameters.
func (r *RunnerCheck) Register(c *synth.Candidate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cands == nil {
		r.cands = map[string]*synth.Candidate{}
	}
	r.cands[c.Name] = c
}

// Result is the run of the named candidate (nil: none ran).
func (r *RunnerCheck) Result(name string) *runner.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[name]
}

// CheckDynamic implements DynamicCheck.
func (r *RunnerCheck) CheckDynamic(ctx context.Context, c Candidate, _ *pyast.Analysis) (*Rejection, error) {
	r.mu.Lock()
	cand := r.cands[c.Name]
	r.mu.Unlock()
	job := runner.Job{Name: c.Name, Code: c.Code, Data: r.Data, Epochs: 1, Device: r.Device, Seed: r.Seed, MaxParams: r.MaxParams, Batch: r.Batch}
	if cand != nil {
		var batch int
		job.Prm, batch, _ = lemur.SplitPrm(cand.HP)
		job.Batch = cmp.Or(batch, r.Batch)
		job.Transform = cand.Transform
	}
	run, err := r.Exec.Submit(ctx, job)
	if err != nil {
		// The job itself is bad (a transform the worker does not know, ...).
		return &Rejection{Reason: ReasonDynamic, Detail: err.Error()}, nil
	}
	for ev := range run.Events() {
		if !r.Train && ev.Type == runner.EventStage && ev.Stage == runner.StageParams {
			run.Cancel() // build, forward and the size check passed: enough
		}
	}
	res, err := run.Wait(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.results == nil {
		r.results = map[string]*runner.Result{}
	}
	r.results[c.Name] = res
	r.mu.Unlock()
	if res.OK || r.passedForward(res) {
		return nil, nil
	}
	f := res.Failure
	if f == nil {
		return &Rejection{Reason: ReasonDynamic, Detail: "the run did not finish"}, nil
	}
	reason := ReasonDynamic
	switch f.Kind {
	case runner.FailSyntax, runner.FailImport, runner.FailContract, runner.FailPrm, runner.FailBuild:
		reason = ReasonBuild
	case runner.FailForward, runner.FailShape:
		reason = ReasonForward
	case runner.FailTooBig:
		reason = ReasonTooManyParameters
	}
	return &Rejection{Reason: reason, Detail: f.Error()}, nil
}

// passedForward: without Train, a run cancelled after the params stage
// passed everything it was asked.
func (r *RunnerCheck) passedForward(res *runner.Result) bool {
	return !r.Train && res.Failure != nil && res.Failure.Kind == runner.FailCanceled && res.Reached.AtLeast(runner.StageParams)
}

// Verdict turns a run into the candidate's verdict: the worker's stage and
// failure kind, or the accuracy after training.
func (r *RunnerCheck) Verdict(res *runner.Result) synth.Verdict {
	if res.OK {
		acc := res.Best()
		return synth.Verdict{Status: synth.StatusAccepted, Stage: string(runner.StageTrain), Accuracy: &acc,
			Message: fmt.Sprintf("%d params", res.Params)}
	}
	if r.passedForward(res) {
		return synth.Verdict{Status: synth.StatusAccepted, Stage: string(runner.StageForward), Message: fmt.Sprintf("%d params", res.Params)}
	}
	f := res.Failure
	if f == nil {
		return synth.Reject("dynamic", "dynamic", "the run did not finish")
	}
	msg := f.Message
	if tb := text.LastLines(f.Traceback, 2); tb != "" && !strings.Contains(msg, tb) {
		msg += " | " + tb
	}
	return synth.Reject(string(f.Stage), string(f.Kind), msg)
}

// Judge runs the gate (static, dedup, and dyn when not nil) on c and writes
// the outcome into c.Verdict: the worker's verdict where it ran.
func Judge(ctx context.Context, g *Gate, dyn *RunnerCheck, c *synth.Candidate) error {
	if dyn != nil {
		dyn.Register(c)
	}
	v, err := g.Check(ctx, Candidate{Name: c.Name, Code: c.Code})
	if err != nil {
		return err
	}
	c.Verdict = v.Synth()
	if dyn != nil && (v.Accepted() || v.Reason >= ReasonBuild) {
		if res := dyn.Result(c.Name); res != nil {
			c.Verdict = dyn.Verdict(res)
		}
	}
	return nil
}
