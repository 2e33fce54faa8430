package gate

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/nngpt/nngpt/pyast"
)

// DefaultAllowedImports are the top-level modules a candidate may import:
// torch and torchvision (the model's framework), numpy (a torch dependency,
// present wherever torch is), and standard-library modules that only
// compute. Left out on purpose: anything that reaches files, processes, the
// network or the interpreter itself (os, sys, subprocess, socket, pathlib,
// shutil, pickle, importlib, ctypes, inspect, builtins), and third-party
// packages the worker does not have (timm, einops, ...).
var DefaultAllowedImports = []string{
	"torch", "torchvision", "numpy",
	"math", "cmath", "functools", "collections", "typing", "numbers", "itertools", "operator",
	"dataclasses", "enum", "abc", "copy", "re", "random", "warnings", "__future__",
}

// DefaultForbiddenCalls are builtins a model has no use for, each a way
// around the import allow-list or into the file system.
var DefaultForbiddenCalls = []string{"exec", "eval", "compile", "open", "input", "breakpoint", "__import__", "globals", "vars"}

// Config sets the gate's limits. The zero value of a limit means no limit;
// DefaultConfig has the defaults.
type Config struct {
	AllowedImports []string `koanf:"allowed_imports" json:"allowed_imports"` // top-level module names
	ForbiddenCalls []string `koanf:"forbidden_calls" json:"forbidden_calls"` // bare builtin names
	MaxBytes       int      `koanf:"max_bytes" json:"max_bytes"`
	MaxLines       int      `koanf:"max_lines" json:"max_lines"`
	// MaxLiteralNumbers and MaxLiteralString bound literal tables: the
	// numbers in one bracketed literal and the length of one string
	// literal, where memorised test labels would sit.
	MaxLiteralNumbers int `koanf:"max_literal_numbers" json:"max_literal_numbers"`
	MaxLiteralString  int `koanf:"max_literal_string" json:"max_literal_string"`
	// MaxParams limits the parameter count estimated from the code
	// (pyast.Features.Params). Sizes that do not resolve statically are not
	// counted, so the estimate is a lower bound and the check never rejects
	// a model that fits.
	MaxParams float64 `koanf:"max_params" json:"max_params"`
	// StrictHyperparameters makes a dynamic prm read (prm[k], **prm,
	// prm.items()) count as reading no declared key; by default it counts as
	// reading all of them, since which keys it reads is unknown.
	StrictHyperparameters bool `koanf:"strict_hyperparameters" json:"strict_hyperparameters"`
	// NoDedup turns deduplication off.
	NoDedup bool `koanf:"no_dedup" json:"no_dedup"`
}

// DefaultConfig is the gate NNGPT's pipeline runs: LEMUR's largest
// single-file models are about 60 KB, so 128 KB and 3000 lines only stop
// runaway replies.
func DefaultConfig() Config {
	return Config{
		AllowedImports:    append([]string(nil), DefaultAllowedImports...),
		ForbiddenCalls:    append([]string(nil), DefaultForbiddenCalls...),
		MaxBytes:          128 << 10,
		MaxLines:          3000,
		MaxParams:         0,
		MaxLiteralNumbers: 256,
		MaxLiteralString:  4096,
	}
}

// Candidate is a model to check.
type Candidate struct {
	Name string // for reports and as the dedup owner; may be empty
	Code string
}

// Verdict is the gate's decision on one candidate.
type Verdict struct {
	Name   string `json:"name"`
	Reason Reason `json:"reason"`
	// Detail says what was wrong and what to do, in one line; empty when
	// accepted.
	Detail string `json:"detail,omitempty"`
	// Problems are all findings of the check that failed (each unused key,
	// each forbidden import...), with line numbers where known.
	Problems  []string        `json:"problems,omitempty"`
	IDs       pyast.IDs       `json:"ids"`
	Duplicate *Match          `json:"duplicate,omitempty"` // for the duplicate reasons
	Notes     []string        `json:"notes,omitempty"`     // harmless deviations (parameter names)
	Analysis  *pyast.Analysis `json:"-"`
}

// Accepted reports whether the candidate passed.
func (v Verdict) Accepted() bool { return v.Reason == ReasonAccepted }

func (v Verdict) String() string {
	if v.Accepted() {
		return "accepted"
	}
	if v.Detail == "" {
		return v.Reason.String()
	}
	return v.Reason.String() + ": " + v.Detail
}

// Rejection is a dynamic check's verdict on a candidate. Reason is
// ReasonBuild, ReasonForward or ReasonDynamic, or a static reason the run
// found more precisely (ReasonTooManyParameters from the exact count);
// ReasonAccepted and the duplicate reasons become ReasonDynamic. With the
// runner's failure kinds: syntax, import, contract, prm and build map to
// ReasonBuild; forward and shape to ReasonForward; too_big to
// ReasonTooManyParameters; the rest to ReasonDynamic.
type Rejection struct {
	Reason Reason
	Detail string
}

// DynamicCheck runs a candidate that passed the static gates and dedup
// (the worker's build and forward stages). It returns nil when the
// candidate passes, and an error only when the check itself could not run.
type DynamicCheck interface {
	CheckDynamic(ctx context.Context, c Candidate, a *pyast.Analysis) (*Rejection, error)
}

// DynamicFunc adapts a function to DynamicCheck.
type DynamicFunc func(ctx context.Context, c Candidate, a *pyast.Analysis) (*Rejection, error)

// CheckDynamic calls f.
func (f DynamicFunc) CheckDynamic(ctx context.Context, c Candidate, a *pyast.Analysis) (*Rejection, error) {
	return f(ctx, c, a)
}

// Gate runs the checks. It is safe for concurrent use.
type Gate struct {
	cfg       Config
	allowed   map[string]bool
	forbidden map[string]bool
	index     *Index
	dynamic   DynamicCheck
}

// Open loads the dedup index of a workspace's store (LoadIndex) and returns
// a gate over it; dynamic may be nil.
func Open(ctx context.Context, st IndexStore, cfg Config, dynamic DynamicCheck) (*Gate, LoadStats, error) {
	if cfg.NoDedup {
		g, err := New(cfg, nil, dynamic)
		return g, LoadStats{}, err
	}
	ix, stats, err := LoadIndex(ctx, st)
	if err != nil {
		return nil, stats, err
	}
	g, err := New(cfg, ix, dynamic)
	return g, stats, err
}

// New returns a gate with cfg; index may be nil (no dedup), dynamic may be
// nil (static checks and dedup only).
func New(cfg Config, index *Index, dynamic DynamicCheck) (*Gate, error) {
	g := &Gate{cfg: cfg, allowed: map[string]bool{}, forbidden: map[string]bool{}, index: index, dynamic: dynamic}
	for _, m := range cfg.AllowedImports {
		if m == "" || strings.ContainsAny(m, ". \t") {
			return nil, fmt.Errorf("gate: allowed import %q: give top-level module names such as torch or math", m)
		}
		g.allowed[m] = true
	}
	for _, c := range cfg.ForbiddenCalls {
		g.forbidden[c] = true
	}
	if cfg.MaxBytes < 0 || cfg.MaxLines < 0 || cfg.MaxParams < 0 || cfg.MaxLiteralNumbers < 0 || cfg.MaxLiteralString < 0 {
		return nil, fmt.Errorf("gate: negative limit (max_bytes %d, max_lines %d, max_params %g): use 0 for no limit", cfg.MaxBytes, cfg.MaxLines, cfg.MaxParams)
	}
	if g.index == nil && !cfg.NoDedup {
		g.index = NewIndex()
	}
	return g, nil
}

// Index is the gate's dedup index (nil with NoDedup).
func (g *Gate) Index() *Index {
	if g.cfg.NoDedup {
		return nil
	}
	return g.index
}

// Static runs the static checks in order and stops at the first failure.
// It neither consults nor changes the dedup index.
func (g *Gate) Static(c Candidate) Verdict {
	v := Verdict{Name: c.Name}
	lines := strings.Count(c.Code, "\n") + 1
	if g.cfg.MaxBytes > 0 && len(c.Code) > g.cfg.MaxBytes || g.cfg.MaxLines > 0 && lines > g.cfg.MaxLines {
		// Not parsed: the limit also bounds the parser's work.
		v.Reason = ReasonTooLarge
		v.Detail = fmt.Sprintf("%d bytes, %d lines; the limits are %d bytes and %d lines: write a smaller model", len(c.Code), lines, g.cfg.MaxBytes, g.cfg.MaxLines)
		return v
	}
	if ps := literalTables(c.Code, g.cfg.MaxLiteralNumbers, g.cfg.MaxLiteralString); len(ps) > 0 {
		v.Reason, v.Problems = ReasonLiteralTable, ps
		v.Detail = ps[0] + ": a model computes its outputs; tables this large look like memorised labels"
		return v
	}
	a := pyast.Analyze([]byte(c.Code))
	v.Analysis, v.IDs, v.Notes = a, a.IDs, a.Contract.Notes
	reject := func(r Reason, detail string, problems []string) Verdict {
		v.Reason, v.Detail, v.Problems = r, detail, problems
		return v
	}
	if len(a.Syntax) > 0 {
		var ps []string
		for _, e := range a.Syntax {
			ps = append(ps, e.Error())
		}
		return reject(ReasonSyntax, fmt.Sprintf("the code does not parse (%s): send complete, valid Python", ps[0]), ps)
	}
	if !a.Contract.OK() {
		var ps []string
		for _, p := range a.Contract.Problems {
			ps = append(ps, p.String())
		}
		return reject(ReasonContract, ps[0], ps)
	}
	var bad []string
	for _, m := range a.Imports {
		switch {
		case m.Kind == "future":
		case m.Relative():
			bad = append(bad, fmt.Sprintf("line %d: relative import from %s: the model is a single file", m.Line, m.Module))
		case m.Top() == "" || !g.allowed[m.Top()]:
			bad = append(bad, fmt.Sprintf("line %d: import of %s", m.Line, m.Module))
		}
	}
	if len(bad) > 0 {
		return reject(ReasonForbiddenImport, fmt.Sprintf("%s; allowed: %s", bad[0], strings.Join(g.cfg.AllowedImports, ", ")), bad)
	}
	for _, name := range sortedNames(a.Builtins) {
		if !g.forbidden[name] {
			continue
		}
		for _, line := range a.Builtins[name] {
			bad = append(bad, fmt.Sprintf("line %d: call of %s()", line, name))
		}
	}
	if len(bad) > 0 {
		return reject(ReasonForbiddenCall, bad[0]+": a model has no use for it; remove it", bad)
	}
	if len(a.Downloads) > 0 {
		for _, u := range a.Downloads {
			bad = append(bad, fmt.Sprintf("line %d: %s", u.Line, u.Msg))
		}
		return reject(ReasonForbiddenCall, bad[0], bad)
	}
	if len(a.Torch2) > 0 {
		for _, u := range a.Torch2 {
			bad = append(bad, fmt.Sprintf("line %d: %s", u.Line, u.Msg))
		}
		return reject(ReasonTorch2API, bad[0], bad)
	}
	h := a.Hparams
	if len(h.Unused) > 0 && (len(h.Dynamic) == 0 || g.cfg.StrictHyperparameters) {
		for _, k := range h.Unused {
			bad = append(bad, fmt.Sprintf("%q is returned by supported_hyperparameters() (line %d) but never read from prm", k, a.Contract.SupportedLine))
		}
		return reject(ReasonUnusedHyperparameter, fmt.Sprintf("%s: read it (prm[%q]) or drop it from supported_hyperparameters()", bad[0], h.Unused[0]), bad)
	}
	if len(h.Undeclared) > 0 {
		for _, k := range h.Undeclared {
			bad = append(bad, fmt.Sprintf("line %d: prm[%q] is not in supported_hyperparameters(), so the harness never supplies it", h.Subscripted[k], k))
		}
		return reject(ReasonUndeclaredHyperparameter, bad[0]+": declare it or use prm.get with a default", bad)
	}
	if g.cfg.MaxParams > 0 && a.Features.Params > g.cfg.MaxParams {
		return reject(ReasonTooManyParameters, fmt.Sprintf("about %.3g parameters counted from the code, over the limit of %.3g: make the model smaller", a.Features.Params, g.cfg.MaxParams), nil)
	}
	return v
}

// Check runs the static checks, dedup and the dynamic check. An accepted
// candidate joins the dedup index (as SourceBatch), so a later identical
// candidate of the same run is a duplicate. The error is only for a
// dynamic check that could not run or a cancelled context; the verdict is
// then not final.
func (g *Gate) Check(ctx context.Context, c Candidate) (Verdict, error) {
	if err := ctx.Err(); err != nil {
		return Verdict{Name: c.Name}, err
	}
	v := g.Static(c)
	if !v.Accepted() {
		return v, nil
	}
	if !g.cfg.NoDedup {
		// Look up first, add only after the dynamic check passes, so a
		// candidate that fails to build does not shadow a later good copy.
		if r, m := g.index.Lookup(v.IDs); r != ReasonAccepted {
			return g.duplicate(v, r, m), nil
		}
	}
	if g.dynamic != nil {
		rej, err := g.dynamic.CheckDynamic(ctx, c, v.Analysis)
		if err != nil {
			return v, fmt.Errorf("gate: dynamic check of %s: %w", c.Name, err)
		}
		if rej != nil {
			v.Reason, v.Detail = rej.Reason, rej.Detail
			if v.Reason == ReasonAccepted || v.Reason.Duplicate() || v.Reason >= numReasons {
				v.Reason = ReasonDynamic
			}
			return v, nil
		}
	}
	if !g.cfg.NoDedup {
		owner := c.Name
		if owner == "" {
			owner = v.IDs.Code // a later duplicate must name what it repeats
		}
		if r, m := g.index.checkAndAdd(owner, v.IDs); r != ReasonAccepted {
			return g.duplicate(v, r, m), nil
		}
	}
	return v, nil
}

func (g *Gate) duplicate(v Verdict, r Reason, m Match) Verdict {
	v.Reason = r
	v.Duplicate = &m
	what := map[Reason]string{
		ReasonDuplicateCode:       "the same code",
		ReasonDuplicateNormalised: "the same code up to comments, docstrings and formatting",
		ReasonDuplicateStructure:  "the same model up to the names it defines",
	}[r]
	v.Detail = fmt.Sprintf("%s as %s model %s: not trained again", what, m.Source, m.Name)
	return v
}

// Report is the outcome of a batch.
type Report struct {
	Verdicts []Verdict `json:"verdicts"`
	Counts   Counts    `json:"counts"`
}

// TrainingsSaved is the number of duplicates in the batch.
func (r Report) TrainingsSaved() int { return r.Counts.TrainingsSaved() }

// Run checks a batch in order; see Check. It stops at the first error and
// returns the verdicts so far.
func (g *Gate) Run(ctx context.Context, cands []Candidate) (Report, error) {
	rep := Report{Counts: Counts{}}
	for _, c := range cands {
		v, err := g.Check(ctx, c)
		if err != nil {
			return rep, err
		}
		rep.Verdicts = append(rep.Verdicts, v)
		rep.Counts.Add(v)
	}
	return rep, nil
}

func sortedNames(m map[string][]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
