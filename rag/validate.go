package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nngpt/nngpt/internal/text"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
)

// Validation is what the sandboxed worker found about a block.
type Validation struct {
	// Level reached: 0 the file does not execute as a module, 1 it does,
	// 2 the class also builds and a small input runs through forward.
	Level   int            `json:"level"`
	Kind    string         `json:"kind,omitempty"`  // failure kind (syntax, import, build, forward, timeout, ...)
	Error   string         `json:"error,omitempty"` // why the next level was not reached
	Kwargs  map[string]any `json:"kwargs,omitempty"`
	Input   string         `json:"input,omitempty"`
	Output  string         `json:"output,omitempty"`
	Seconds float64        `json:"seconds"`
}

// Validator runs blocks. It is an interface because validation crosses a
// process boundary (the sandboxed worker) and tests may replace it.
type Validator interface {
	// Validate checks b up to level (1 or 2). err is about the validator
	// itself (no interpreter, ctx ended), never about the block.
	Validate(ctx context.Context, b *Block, level int) (Validation, error)
}

// SandboxValidator validates blocks with the runner's sandboxed worker.
type SandboxValidator struct {
	Exec    *runner.Local
	Timeout time.Duration // per block; 0: the runner's default (2 min)
}

// Validate runs the block probe job.
func (v SandboxValidator) Validate(ctx context.Context, b *Block, level int) (Validation, error) {
	res, err := v.Exec.ProbeBlock(ctx, runner.BlockProbeJob{Name: b.Name, Code: b.Code, Level: level, Class: b.Name, Timeout: v.Timeout})
	if err != nil {
		return Validation{}, fmt.Errorf("validate %s: %w", b.Name, err)
	}
	out := Validation{Level: res.Level, Kwargs: res.Kwargs, Input: res.Input, Output: res.Output, Seconds: res.Seconds}
	switch {
	case res.Failure != nil:
		out.Kind = string(res.Failure.Kind)
		out.Error = res.Failure.Message
		if tb := text.LastLines(res.Failure.Traceback, 3); tb != "" && !strings.Contains(out.Error, tb) {
			out.Error += "\n" + tb
		}
	case res.Level < level:
		out.Kind = "forward"
		if strings.HasPrefix(res.Reason, "could not build") {
			out.Kind = "build"
		}
		out.Error = res.Reason
	}
	return out, nil
}

// Record is the library row of a block and its validation (nil: not
// validated).
func Record(b *Block, v *Validation) (blk store.RAGBlock) {
	src, _ := json.Marshal(b.Sources)
	blk = store.RAGBlock{
		Name: b.Module + "." + b.Name, Class: b.Name, Module: b.Module, Code: b.Code, ID: codeID(b.Code),
		Repo: b.Repo, Commit: b.Commit, Paths: b.Paths(), Sources: string(src), Level: -1,
	}
	for _, u := range b.Unresolved {
		blk.Unresolved = append(blk.Unresolved, fmt.Sprintf("%s (%s:%d): %s", u.Name, u.Module, u.Line, u.Reason))
	}
	if v != nil {
		blk.Level, blk.Error, blk.ErrorKind = v.Level, v.Error, v.Kind
		if v.Level >= 2 {
			blk.Input = Call(b.Name, v.Kwargs) + " on " + v.Input
		}
	}
	return blk
}

// Call writes how level 2 built a class, for people and prompts:
// Name(a=1, b=BatchNorm2d) with the arguments sorted by name.
func Call(name string, kwargs map[string]any) string {
	keys := make([]string, 0, len(kwargs))
	for k := range kwargs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, kwargs[k]))
	}
	return name + "(" + strings.Join(parts, ", ") + ")"
}
