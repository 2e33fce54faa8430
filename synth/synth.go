// Package synth is candidate synthesis: the Generator interface that every
// way of proposing a new network implements (synth/llmgen asks an LLM,
// synth/evolve mutates and crosses corpus models), and the Candidate that
// they all produce and that the gates, the runner and the store consume.
//
// Generators only propose. Checking (package gate), deduplication and
// training happen downstream and write their outcome into Candidate.Verdict,
// so a generator never needs to import them.
package synth

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// Generator proposes candidates.
type Generator interface {
	// Name is the short name recorded in Candidate.Generator and used as
	// the LEMUR name prefix of what it generates ("evolve", "llm").
	Name() string
	// Generate yields up to req.N candidates. A candidate that failed
	// inside the generator (an LLM reply with no code, say) is still
	// yielded, with a rejected Verdict, so every attempt is accounted for.
	// The error of the sequence is for failures that end the whole run
	// (context cancelled, corpus unreadable, server unreachable); after a
	// non-nil error the sequence stops.
	Generate(ctx context.Context, req Request) iter.Seq2[*Candidate, error]
}

// Request says what to generate.
type Request struct {
	// N is how many candidates to yield; it must be at least 1.
	N int
	// Task, Dataset and Metric are the pipeline the candidates are meant
	// for (e.g. img-classification, cifar-10, acc). Generators use them to
	// pick examples or parents from the corpus; empty means any.
	Task, Dataset, Metric string
	// Shots is the number of supporting models an n-shot prompt carries
	// (LLM generators); evolve ignores it.
	Shots int
	// Epochs is how long each candidate will train; an LLM's prompt says
	// so (0: one epoch).
	Epochs int
	// Seed makes a run reproducible where the generator is random; 0 lets
	// the generator pick one (and record it in the candidates' Seed).
	Seed int64
}

// Validate reports a request that no generator can serve.
func (r Request) Validate() error {
	if r.N < 1 {
		return fmt.Errorf("request: n=%d, want at least 1 candidate", r.N)
	}
	if r.Shots < 0 {
		return fmt.Errorf("request: shots=%d, want 0 or more", r.Shots)
	}
	return nil
}

// Status is where a candidate stands after the checks run so far.
type Status string

const (
	// StatusPending: generated, not checked yet.
	StatusPending Status = "pending"
	// StatusAccepted: passed every check that ran (see Verdict.Stage).
	StatusAccepted Status = "accepted"
	// StatusRejected: a check failed; Verdict.Stage and Reason say which.
	StatusRejected Status = "rejected"
	// StatusDuplicate: the same model (by one of the dedup ids) is already
	// in the workspace or earlier in the batch; Verdict.DuplicateOf names it.
	StatusDuplicate Status = "duplicate"
)

// Verdict is the outcome of the checks a candidate went through. The
// stage and reason names belong to the package that ran the check (gate,
// runner); synth keeps them as strings so it does not depend on them.
type Verdict struct {
	Status Status `json:"status"`
	// Stage is the last stage reached: for an accepted candidate the last
	// one passed ("static", "build", "forward", "train"), for a rejected one
	// the one that failed ("extract", "parse", "contract", "imports", ...).
	Stage string `json:"stage,omitempty"`
	// Reason is the typed rejection reason of the failing check, stable
	// enough to be counted ("syntax_error", "unused_hyperparameter", ...).
	Reason string `json:"reason,omitempty"`
	// Message is the human-readable detail (truncated error text).
	Message string `json:"message,omitempty"`
	// DuplicateOf is the name or id of the model this one duplicates.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Accuracy is the metric after training when training ran; nil otherwise.
	Accuracy *float64 `json:"accuracy,omitempty"`
}

// Reject returns a rejected verdict.
func Reject(stage, reason, msg string) Verdict {
	return Verdict{Status: StatusRejected, Stage: stage, Reason: reason, Message: msg}
}

// OK reports whether the candidate is still alive (pending or accepted).
func (v Verdict) OK() bool {
	return v.Status == StatusPending || v.Status == StatusAccepted || v.Status == ""
}

// String is the one-line form the CLI prints.
func (v Verdict) String() string {
	s := string(v.Status)
	if s == "" {
		s = string(StatusPending)
	}
	if v.Stage != "" {
		s += " @" + v.Stage
	}
	if v.Reason != "" {
		s += " " + v.Reason
	}
	if v.DuplicateOf != "" {
		s += " of " + v.DuplicateOf
	}
	if v.Accuracy != nil {
		s += fmt.Sprintf(" acc=%.4f", *v.Accuracy)
	}
	if v.Message != "" {
		s += ": " + oneLine(v.Message, 160)
	}
	return s
}

// Tokens counts the LLM tokens a candidate cost (zero for evolve).
type Tokens struct {
	Prompt     int `json:"prompt"`
	Completion int `json:"completion"`
}

// Candidate is one proposed model with everything needed to check, train,
// store and explain it.
type Candidate struct {
	// ID is the LEMUR code id of Code (lemur.CodeID), or, when there is no
	// code (an unusable LLM reply), the LEMUR hash of the raw reply, so
	// every candidate has a stable id for its folder.
	ID string `json:"id"`
	// Name is the LEMUR model name: <generator>-<code id>.
	Name string `json:"name"`
	// Generator is the Generator.Name that produced it.
	Generator string `json:"generator"`

	// Code is the model file (LEMUR contract: supported_hyperparameters()
	// and class Net).
	Code string `json:"code"`
	// HP are the proposed hyperparameters (lr, momentum, dropout, batch, ...)
	// with Python types, in the order the generator gave them.
	HP lemur.Dict `json:"-"`
	// Transform is the proposed LEMUR transform name (norm_32, echo, ...).
	Transform string `json:"transform"`

	// Task, Dataset, Metric are the pipeline it was generated for.
	Task    string `json:"task,omitempty"`
	Dataset string `json:"dataset,omitempty"`
	Metric  string `json:"metric,omitempty"`

	// Prompt is the full prompt text sent to the LLM (system and user
	// messages joined), empty for generators without one.
	Prompt string `json:"prompt,omitempty"`
	// Reply is the raw LLM reply the code was extracted from.
	Reply string `json:"reply,omitempty"`
	// Attempts counts the LLM calls spent (1 + repair tries).
	Attempts int `json:"attempts,omitempty"`
	// Tokens is the LLM usage over all attempts.
	Tokens Tokens `json:"tokens"`

	// Parents are the names of the corpus models it was derived from: the
	// main and supporting models of an n-shot prompt, the parents of an
	// evolve mutation or crossover.
	Parents []string `json:"parents,omitempty"`
	// Operators are what turned the parents into it, in order, each as
	// "<operator>:<detail>" (e.g. "width:features.0 32->48",
	// "crossover:features"); for an LLM, the prompt kind ("nshot:3").
	Operators []string `json:"operators,omitempty"`
	// Seed is the random seed the candidate came from, for reproduction.
	Seed int64 `json:"seed,omitempty"`

	// Verdict is filled in by the checks that ran after generation.
	Verdict Verdict `json:"verdict"`
	// Created is when the generator produced it.
	Created time.Time `json:"created"`
	// Elapsed is how long the generator spent on it.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// New builds a candidate from code, setting ID, Name, Generator and Created.
func New(generator, code string) *Candidate {
	c := &Candidate{Generator: generator, Code: code, Created: time.Now().UTC()}
	c.SetCode(code)
	return c
}

// SetCode replaces the code and recomputes ID and Name. With no code the ID
// falls back to the hash of the reply, and Name stays empty: there is no
// model to name.
func (c *Candidate) SetCode(code string) {
	c.Code = code
	switch {
	case strings.TrimSpace(code) != "":
		c.ID = lemur.CodeID(code)
		c.Name = NamePrefix(c.Generator) + "-" + c.ID
	case c.Reply != "":
		c.ID = lemur.HashText(c.Reply)
		c.Name = ""
	default:
		c.ID, c.Name = "", ""
	}
}

// NamePrefix turns a generator name into a LEMUR name prefix: LEMUR model
// names must not contain '_', which separates the parts of a stat folder.
func NamePrefix(generator string) string {
	if generator == "" {
		return "gen"
	}
	return strings.ReplaceAll(generator, "_", "-")
}

// ErrNoCode is the reason of a candidate whose reply held no model code.
var ErrNoCode = errors.New("no model code in the reply")

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
