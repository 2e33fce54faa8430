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

// BlockProbeJob validates an NN-RAG block in the sandbox: level 1, the file
// executes as a module in a fresh interpreter; level 2, Class is built with
// its defaults or with arguments the worker infers from its signature
// (names, annotations, config classes) and a small input it infers from
// the first layer and forward's signature runs through forward. It differs
// from Probe in that inference: blocks come from arbitrary repositories,
// not from the LEMUR contract.
type BlockProbeJob struct {
	Name  string // file stem
	Code  string
	Level int // 1 or 2 (default 2)
	Class string
	// Timeout bounds the whole probe (default 2 min); the worker starts no
	// new attempt (arguments, input) after half of it, so one slow forward
	// pass still fits.
	Timeout time.Duration
	Limits  Limits
}

// BlockProbeResult is what a block probe found.
type BlockProbeResult struct {
	Level   int            `json:"level"` // 0: did not execute; 1: executes; 2: forward ran
	Modules []string       `json:"modules,omitempty"`
	Kwargs  map[string]any `json:"kwargs,omitempty"` // constructor arguments used (guessed ones shown)
	Input   string         `json:"input,omitempty"`  // the input that went through forward
	Output  string         `json:"output,omitempty"`
	Reason  string         `json:"reason,omitempty"` // why level 2 was not reached
	Failure *Failure       `json:"failure,omitempty"`
	LogTail string         `json:"log_tail,omitempty"`
	Seconds float64        `json:"seconds"`
}

// ProbeBlock runs a block probe (it takes one of the executor's slots).
func (l *Local) ProbeBlock(ctx context.Context, job BlockProbeJob) (*BlockProbeResult, error) {
	if job.Code == "" {
		return nil, errors.New("block probe: no code")
	}
	if !reName.MatchString(job.Name) {
		return nil, fmt.Errorf("block probe: name %q: want letters, digits, '-', '_', '.'", job.Name)
	}
	if job.Level == 0 {
		job.Level = 2
	}
	if job.Level == 2 && job.Class == "" {
		return nil, errors.New("block probe level 2 needs a class name")
	}
	if job.Timeout == 0 {
		job.Timeout = 2 * time.Minute
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.slots }()
	start := time.Now()
	lim := mergeLimits(l.cfg.Limits.withDefaults(), job.Limits)
	scratch, err := l.sb.makeScratch(l.cfg.ScratchRoot, "nngpt-block-")
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
		"kind": "blockprobe", "model": map[string]any{"name": job.Name, "path": sbScr + "/" + job.Name + ".py"},
		"level": job.Level, "class": job.Class, "scratch": sbScr, "budget": job.Timeout.Seconds() / 2,
		"limits": map[string]any{"memory": lim.Memory, "cpu_seconds": int64(job.Timeout.Seconds()) * 2,
			"nproc": lim.Processes, "nofile": lim.OpenFiles, "fsize": lim.FileSize},
	}
	p, err := startProc(l.sb.command(la), spec, lim.Output, 32<<10)
	if err != nil {
		return nil, err
	}
	res := &BlockProbeResult{}
	deadline := start.Add(job.Timeout)
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
				_ = json.Unmarshal(ev.Kwargs, &res.Kwargs)
			}
		case "done":
			res.Level = max(res.Level, ev.Level)
			if s, ok := ev.Info["input"].(string); ok {
				res.Input = s
			}
			if s, ok := ev.Info["output"].(string); ok {
				res.Output = s
			}
			res.Reason = ev.Reason
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
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
