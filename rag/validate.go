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
	Level  int            `json:"level"`
	Kind   string         `json:"kind,omitempty"`  // failure kind (syntax, import, build, forward, timeout, ...)
	Error  string         `json:"error,omitempty"` // why the next level was not reached
	Kwargs map[string]any `json:"kwargs,omitempty"`
	// Via is how level 2 built the class: a builder of the repository
	// (kind, name and place) or "arguments inferred from the signature".
	Via string `json:"via,omitempty"`
	// Constructor is the expression that built it: a call checked on the
	// block alone, or, when Code is set, one that needs Code.
	Constructor string `json:"constructor,omitempty"`
	// Code replaces the block's code when only the module with the
	// repository's builders builds the class.
	Code    string  `json:"-"`
	Input   string  `json:"input,omitempty"`
	Output  string  `json:"output,omitempty"`
	Seconds float64 `json:"seconds"`
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
	job := runner.BlockProbeJob{Name: b.Name, Code: b.Code, Level: level, Class: b.Name, Timeout: v.Timeout}
	if bs := b.Builders; bs != nil {
		job.Builders = &runner.BlockBuilders{Code: bs.Code, Class: bs.Class}
		for _, w := range bs.Ways {
			job.Builders.Ways = append(job.Builders.Ways, runner.BlockBuilder(w))
		}
	}
	res, err := v.Exec.ProbeBlock(ctx, job)
	if err != nil {
		return Validation{}, fmt.Errorf("validate %s: %w", b.Name, err)
	}
	out := Validation{Level: res.Level, Kwargs: res.Kwargs, Input: res.Input, Output: res.Output, Seconds: res.Seconds,
		Via: res.Via, Constructor: res.Constructor}
	if res.UseBuilders && b.Builders != nil && res.Level >= 2 {
		out.Code = b.Builders.Code
	}
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
			blk.Input = Built(b.Name, v)
			if v.Code != "" {
				blk.Code, blk.ID = v.Code, codeID(v.Code)
			}
		}
	}
	return blk
}

// Built says how level 2 built a class and what forward ran on, for
// people and prompts: "ResNet(BasicBlock, [2, 2, 2, 2]) on 2x3x32x32
// tensor; built by factory ResNet18() at models/resnet.py:107".
func Built(name string, v *Validation) string {
	ctor := v.Constructor
	if ctor == "" {
		ctor = Call(name, v.Kwargs)
	}
	s := ctor + " on " + v.Input
	if v.Via != "" {
		s += "; built by " + v.Via
	}
	return s
}

// ParseBuilt splits what Built wrote back into the constructor, the input
// and the builder ("" where the record is older and lacks it).
func ParseBuilt(s string) (ctor, input, via string) {
	if i := strings.LastIndex(s, "; built by "); i >= 0 {
		s, via = s[:i], s[i+len("; built by "):]
	}
	if i := strings.LastIndex(s, " on "); i >= 0 {
		return s[:i], s[i+len(" on "):], via
	}
	return s, "", via
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
