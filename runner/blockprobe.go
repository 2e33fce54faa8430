package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// Builders are the repository's own ways to build Class, tried before
	// inference: Code is one module holding the block and the builders,
	// each Ways[i].Expr an expression evaluated in it (see rag.Builders).
	Builders *BlockBuilders
}

// BlockBuilders is the module and expressions the probe tries first.
type BlockBuilders struct {
	Code  string         `json:"code"`
	Class string         `json:"class"` // the class's name in Code
	Ways  []BlockBuilder `json:"ways"`
}

// BlockBuilder is one builder: what it is (for people) and the expression.
type BlockBuilder struct {
	Kind  string `json:"kind"`
	Label string `json:"label"`
	Expr  string `json:"expr"`
}

// BlockProbeResult is what a block probe found.
type BlockProbeResult struct {
	Level   int            `json:"level"` // 0: did not execute; 1: executes; 2: forward ran
	Modules []string       `json:"modules,omitempty"`
	Kwargs  map[string]any `json:"kwargs,omitempty"` // constructor arguments used (guessed ones shown)
	Input   string         `json:"input,omitempty"`  // the input that went through forward
	Output  string         `json:"output,omitempty"`
	// Via is the builder that built the instance that ran forward (its
	// label), or "arguments inferred from the signature".
	Via string `json:"via,omitempty"`
	// Constructor is a Python expression that builds the class: a call with
	// literal arguments checked on the block alone, or, with UseBuilders,
	// an expression that needs the builders' module.
	Constructor string   `json:"constructor,omitempty"`
	UseBuilders bool     `json:"use_builders,omitempty"`
	Reason      string   `json:"reason,omitempty"` // why level 2 was not reached
	Failure     *Failure `json:"failure,omitempty"`
	LogTail     string   `json:"log_tail,omitempty"`
	Seconds     float64  `json:"seconds"`
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
	start := time.Now()
	res := &BlockProbeResult{}
	extra := map[string]any{"budget": job.Timeout.Seconds() / 2}
	if job.Builders != nil && job.Builders.Code != "" {
		extra["builders"] = job.Builders
	}
	var err error
	res.LogTail, res.Failure, err = l.runProbe(ctx, probeRun{kind: "blockprobe", name: job.Name, code: job.Code, level: job.Level,
		class: job.Class, timeout: job.Timeout, limits: job.Limits, extra: extra},
		func(ev wireEvent) bool {
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
				res.Via, _ = ev.Info["via"].(string)
				res.Constructor, _ = ev.Info["constructor"].(string)
				res.UseBuilders, _ = ev.Info["use_builders"].(bool)
				res.Reason = ev.Reason
				return true
			}
			return false
		})
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
