package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
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
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.slots }()
	lim := mergeLimits(l.cfg.Limits.withDefaults(), job.Limits)
	scratch, err := l.sb.makeScratch(l.cfg.ScratchRoot, "nngpt-probe-")
	if err != nil {
		return nil, err
	}
	defer removeAll(scratch)
	if err := os.WriteFile(filepath.Join(scratch, job.Name+".py"), []byte(job.Code), 0o644); err != nil {
		return nil, err
	}
	la := &launch{py: l.cfg.Python, worker: l.worker, scratch: scratch, threads: 1}
	sbScr := l.sb.scratchPath(la)
	spec := map[string]any{
		"kind": "probe", "model": map[string]any{"name": job.Name, "path": sbScr + "/" + job.Name + ".py"},
		"level": job.Level, "class": job.Class, "input_shapes": job.InputShapes, "scratch": sbScr,
		"limits": map[string]any{"memory": lim.Memory, "cpu_seconds": int64(job.Timeout.Seconds()) * 2,
			"nproc": lim.Processes, "nofile": lim.OpenFiles, "fsize": lim.FileSize},
	}
	if job.Args != nil {
		spec["args"] = job.Args
	}
	if job.Kwargs != nil {
		spec["kwargs"] = job.Kwargs
	}
	p, err := startProc(l.sb.command(la), spec, lim.Output, 32<<10)
	if err != nil {
		return nil, err
	}
	res := &ProbeResult{}
	deadline := time.Now().Add(job.Timeout)
	judged := false
loop:
	for {
		ev, err := p.next(ctx, time.Until(deadline))
		if err != nil {
			var te *tamperError
			switch {
			case errors.Is(err, errTimeout):
				res.Failure = &Failure{Stage: "probe", Kind: FailTimeout, Message: fmt.Sprintf("no result within %v", job.Timeout)}
			case errors.Is(err, errFlood):
				res.Failure = &Failure{Stage: "probe", Kind: FailOutputFlood, Message: "too much output"}
			case errors.As(err, &te):
				res.Failure = &Failure{Stage: "probe", Kind: FailTampered, Message: te.msg}
			case errors.Is(err, errEOF):
				judged = true
			default:
				p.kill()
				p.wait(time.Second)
				return nil, err
			}
			break loop
		}
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
				res.Failure = &Failure{Stage: "probe", Kind: FailContract, Message: ev.Reason}
			}
			break loop
		case "error":
			res.Failure = &Failure{Stage: Stage(ev.Stage), Kind: FailKind(ev.Kind), Message: ev.Message, Traceback: ev.Traceback}
			break loop
		}
	}
	if !judged {
		p.kill()
	}
	st := p.wait(3 * time.Second)
	res.LogTail = p.log.String()
	if judged {
		res.Failure = exitFailure(st, l.sb.Isolation == IsolationBwrap, "probe")
	}
	res.OK = res.Failure == nil && res.Level >= job.Level
	return res, nil
}
