package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nngpt/nngpt/internal/termsafe"
)

// ProbeJob asks whether a file executes as a module in a fresh interpreter
// (level 1) and whether one of its classes can be instantiated and run
// forward on a small random input (level 2). NN-RAG judges extracted
// blocks with it.
type ProbeJob struct {
	Name string // file stem
	Code string
	// Level 1: execute the module. Level 2: also build Class and run forward.
	Level int
	Class string
	// Args and Kwargs build the class; both nil: guessed from the
	// constructor's parameter names (channels 16, classes 10, ...).
	Args   []any
	Kwargs map[string]any
	// InputShapes to try for forward, first that works wins; nil: a few
	// image, sequence and vector shapes matching the guessed channels.
	InputShapes [][]int
	// Timeout bounds the whole probe (default 60s); Limits bound resources.
	Timeout time.Duration
	Limits  Limits
}

// ProbeResult is what a probe found.
type ProbeResult struct {
	OK      bool           `json:"ok"`      // the requested level passed
	Level   int            `json:"level"`   // the level reached
	Modules []string       `json:"modules"` // nn.Module subclasses the file defines
	Forward bool           `json:"forward"` // level 2: forward ran
	Input   []int          `json:"input,omitempty"`
	Output  any            `json:"output,omitempty"` // output shape (or type name)
	Guessed map[string]any `json:"guessed,omitempty"`
	Failure *Failure       `json:"failure,omitempty"`
	LogTail string         `json:"log_tail"`
}

// Probe runs a probe job in the sandbox (it takes one of the executor's slots).
func (l *Local) Probe(ctx context.Context, job ProbeJob) (*ProbeResult, error) {
	if job.Code == "" {
		return nil, errors.New("probe: no code")
	}
	if !reName.MatchString(job.Name) {
		return nil, fmt.Errorf("probe: name %q: want letters, digits, '-', '_', '.'", job.Name)
	}
	if job.Level == 0 {
		job.Level = 1
	}
	if job.Level == 2 && job.Class == "" {
		return nil, errors.New("probe level 2 needs a class name")
	}
	if job.Timeout == 0 {
		job.Timeout = time.Minute
	}
	extra := map[string]any{"input_shapes": job.InputShapes}
	if job.Args != nil {
		extra["args"] = job.Args
	}
	if job.Kwargs != nil {
		extra["kwargs"] = job.Kwargs
	}
	res := &ProbeResult{}
	var noForward *Failure
	var err error
	res.LogTail, res.Failure, err = l.runProbe(ctx, probeRun{kind: "probe", name: job.Name, code: job.Code, level: job.Level,
		class: job.Class, timeout: job.Timeout, limits: job.Limits, extra: extra}, func(ev wireEvent) bool {
		switch ev.T {
		case "stage":
			if ev.Stage == "module" {
				res.Level, res.Modules = 1, ev.Modules
			}
			if ev.Stage == "build" && len(ev.Kwargs) > 0 {
				_ = json.Unmarshal(ev.Kwargs, &res.Guessed)
			}
		case "done":
			res.Level = max(res.Level, ev.Level)
			res.Forward, res.Input = ev.Forward, ev.Input
			if len(ev.Output) > 0 {
				_ = json.Unmarshal(ev.Output, &res.Output)
			}
			if ev.Level >= 2 && !ev.Forward {
				noForward = &Failure{Stage: "probe", Kind: FailContract, Message: ev.Reason}
			}
			return true
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	if res.Failure == nil {
		res.Failure = noForward
	}
	res.OK = res.Failure == nil && res.Level >= job.Level
	return res, nil
}

// probeRun is what Probe and ProbeBlock hand to runProbe.
type probeRun struct {
	kind, name, code string
	level            int
	class            string
	timeout          time.Duration
	limits           Limits
	extra            map[string]any // kind-specific spec fields
}

// runProbe runs one probe-like job in the sandbox on one of the executor's
// slots. onEvent sees every stage and done event and returns true when the
// run has its answer; error events and the run's end become the returned
// failure, judged here the same way for every kind.
func (l *Local) runProbe(ctx context.Context, pr probeRun, onEvent func(wireEvent) bool) (logTail string, failure *Failure, err error) {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	defer func() { <-l.slots }()
	deadline := time.Now().Add(pr.timeout)
	lim := mergeLimits(l.cfg.Limits.withDefaults(), pr.limits)
	scratch, err := l.sb.makeScratch(l.cfg.ScratchRoot, "nngpt-"+pr.kind+"-")
	if err != nil {
		return "", nil, err
	}
	defer removeAll(scratch)
	if err := os.WriteFile(filepath.Join(scratch, pr.name+".py"), []byte(pr.code), 0o644); err != nil {
		return "", nil, err
	}
	la := &launch{py: l.cfg.Python, worker: l.worker, scratch: scratch, threads: 1}
	sbScr := l.sb.scratchPath(la)
	spec := map[string]any{
		"kind": pr.kind, "model": map[string]any{"name": pr.name, "path": sbScr + "/" + pr.name + ".py"},
		"level": pr.level, "class": pr.class, "scratch": sbScr,
		"limits": map[string]any{"memory": lim.Memory, "cpu_seconds": int64(pr.timeout.Seconds()) * 2,
			"nproc": lim.Processes, "nofile": lim.OpenFiles, "fsize": lim.FileSize},
	}
	for k, v := range pr.extra {
		spec[k] = v
	}
	cmd, err := l.sb.command(la)
	if err != nil {
		return "", nil, err
	}
	p, err := startProc(cmd, spec, lim.Output, 32<<10)
	if err != nil {
		return "", nil, err
	}
	p.watchScratch(scratch, lim.Scratch, 250*time.Millisecond)
	judged := false
loop:
	for {
		ev, err := p.next(ctx, time.Until(deadline))
		if err != nil {
			var te *tamperError
			switch {
			case errors.Is(err, errTimeout):
				failure = &Failure{Stage: "probe", Kind: FailTimeout, Message: fmt.Sprintf("no result within %v", pr.timeout)}
			case errors.Is(err, errFlood):
				failure = &Failure{Stage: "probe", Kind: FailOutputFlood, Message: "too much output"}
			case errors.Is(err, errDisk):
				failure = &Failure{Stage: "probe", Kind: FailDisk, Message: "the code " + p.diskMsg}
			case errors.As(err, &te):
				failure = &Failure{Stage: "probe", Kind: FailTampered, Message: te.msg}
			case errors.Is(err, errEOF):
				judged = true
			default:
				p.kill()
				p.wait(time.Second)
				return "", nil, err
			}
			break loop
		}
		if ev.T == "error" {
			failure = &Failure{Stage: Stage(ev.Stage), Kind: FailKind(ev.Kind), Message: ev.Message, Traceback: ev.Traceback}
			break loop
		}
		if onEvent(ev) {
			break loop
		}
	}
	if !judged {
		p.kill()
	}
	st := p.wait(3 * time.Second)
	if judged {
		failure = exitFailure(st, l.sb.Isolation == IsolationBwrap, "probe")
	}
	if failure != nil {
		failure.Message, failure.Traceback = termsafe.Clean(failure.Message), termsafe.Clean(failure.Traceback)
	}
	return termsafe.Clean(p.log.String()), failure, nil
}
