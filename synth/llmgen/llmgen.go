// Package llmgen is the LLM-backed generator: for each candidate it builds
// an NNGPT prompt (n-shot from corpus examples when there are any, else
// zero-shot), fits it to the model's context, asks the LLM, extracts <hp>,
// <tr> and <nn> from the reply, and, when the reply or an optional check
// fails, sends up to prompt.MaxRepairTries repair prompts that feed the
// failing stage and its error back. Given library blocks, it asks instead
// for Nets built around them (RAG prompts), one block per candidate in turn.
package llmgen

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/reply"
)

// Name is the generator's name and the LEMUR name prefix of its models.
const Name = "llm"

// Stage names this generator writes into rejected verdicts.
const (
	StageExtract = "extract" // the reply held no usable <hp>/<tr>/<nn>
)

// Reasons of extract-stage rejections, besides the reply verdicts
// (no_code, bad_hp, ...).
const ReasonTruncated = "truncated_reply"

// Examples supplies the corpus models n-shot prompts pick from.
type Examples func(ctx context.Context, req synth.Request) ([]prompt.Model, error)

// CorpusExamples reads examples from a store-backed lister, e.g.
//
//	llmgen.CorpusExamples(func(ctx context.Context, t, d, m string) ([]prompt.Model, error) {
//		return prompt.FromCorpus(ctx, st, t, d, m)
//	})
func CorpusExamples(list func(ctx context.Context, task, dataset, metric string) ([]prompt.Model, error)) Examples {
	return func(ctx context.Context, req synth.Request) ([]prompt.Model, error) {
		return list(ctx, req.Task, req.Dataset, req.Metric)
	}
}

// Check runs the checks a repair prompt can fix (typically the gate's
// static stages, perhaps build and forward) on a candidate whose reply was
// extracted. A rejected verdict triggers a repair; any other verdict is
// kept on the candidate. A duplicate is not repaired.
type Check func(ctx context.Context, c *synth.Candidate) (synth.Verdict, error)

// Generator asks an LLM for candidates.
type Generator struct {
	Client  llm.Client
	Prompts *prompt.Set // nil: prompt.Builtin()
	// Examples lists the corpus models for n-shot prompts; nil: zero-shot
	// only.
	Examples Examples
	// Blocks, when set, makes every first prompt a RAG prompt around
	// Blocks[i%len(Blocks)] for candidate i, in place of n-shot or
	// zero-shot; the candidate records it as operator "rag:<name>".
	Blocks []prompt.Block
	// Selection is how n-shot examples are chosen (best, random, diverse).
	Selection prompt.Strategy
	// Task is the prompt's task description (classes, input shape, epochs,
	// parameter limit); its names are overridden by the request's. Zero
	// Classes or InShape: taken from lemur.Dataset; Epochs: the request's.
	Task prompt.Task
	// Check, when set, is run on every extracted candidate; rejections are
	// repaired.
	Check Check
	// MaxRepairs is the number of repair prompts per candidate; 0:
	// prompt.MaxRepairTries. Negative: none.
	MaxRepairs int
	// OnProgress, when set, reports each streamed chunk with the
	// candidate's index.
	OnProgress func(candidate int, p llm.Progress)
	// NoStream asks for whole replies instead of server-sent events.
	// Streaming is the default: it is what lets the client notice a
	// stalled server long before the request timeout.
	NoStream bool
	Log      *slog.Logger
}

// Name implements synth.Generator.
func (g *Generator) Name() string { return Name }

func (g *Generator) task(req synth.Request) (prompt.Task, error) {
	t := g.Task
	if req.Task != "" {
		t.Task = req.Task
	}
	if req.Dataset != "" {
		t.Dataset = req.Dataset
	}
	if req.Metric != "" {
		t.Metric = req.Metric
	}
	if t.Task == "" {
		t.Task = "img-classification"
	}
	if t.Metric == "" {
		t.Metric = "acc"
	}
	if t.Dataset == "" {
		t.Dataset = "shapes"
	}
	if t.Classes == 0 || t.InShape == [4]int{} {
		k, ok := lemur.Dataset(t.Dataset)
		if !ok || k.Shape == [3]int{} {
			return t, fmt.Errorf("llmgen: dataset %q is unknown: set the task's classes and input shape", t.Dataset)
		}
		if t.Classes == 0 {
			t.Classes = k.Classes
		}
		if t.InShape == [4]int{} {
			t.InShape = [4]int{64, k.Shape[0], k.Shape[1], k.Shape[2]}
		}
	}
	if req.Epochs > 0 {
		t.Epochs = req.Epochs
	}
	if t.Epochs == 0 {
		t.Epochs = 1
	}
	if t.MaxParams == 0 {
		t.MaxParams = lemur.DefaultMaxParams
	}
	return t, nil
}

// Generate implements synth.Generator.
func (g *Generator) Generate(ctx context.Context, req synth.Request) iter.Seq2[*synth.Candidate, error] {
	return func(yield func(*synth.Candidate, error) bool) {
		if err := req.Validate(); err != nil {
			yield(nil, err)
			return
		}
		if g.Client == nil {
			yield(nil, errors.New("llmgen: no LLM client configured"))
			return
		}
		r, err := g.newRun(ctx, req)
		if err != nil {
			yield(nil, err)
			return
		}
		for i := 0; i < req.N; i++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			c, err := r.candidate(ctx, i)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// newRun prepares the prompts of one request: the task, the templates,
// the seeded sampler and the n-shot pool.
func (g *Generator) newRun(ctx context.Context, req synth.Request) (*run, error) {
	task, err := g.task(req)
	if err != nil {
		return nil, err
	}
	set := g.Prompts
	if set == nil {
		set = prompt.Builtin()
	}
	log := g.Log
	if log == nil {
		log = slog.Default()
	}
	seed := req.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5bd1e995))
	var pool []prompt.Model
	if req.Shots > 0 && g.Examples != nil {
		if pool, err = g.Examples(ctx, req); err != nil {
			return nil, fmt.Errorf("llmgen: read examples: %w", err)
		}
		if len(pool) == 0 {
			log.Info("llmgen: no corpus model with a run on this pipeline: zero-shot prompts", "task", task.Task, "dataset", task.Dataset)
		}
	}
	r := &run{g: g, set: set, task: task, req: req, rng: rng, seed: seed, pool: pool, log: log, maxRepairs: g.MaxRepairs,
		budget: budgetOf(g.Client)}
	if r.maxRepairs == 0 {
		r.maxRepairs = prompt.MaxRepairTries
	}
	return r, nil
}

func budgetOf(c llm.Client) llm.Budget {
	if c == nil {
		return llm.Budget{}
	}
	return c.Budget()
}

// Preview renders the first prompt the generator would send for req, of
// the given kind, with the same task, templates and examples as Generate
// (nothing is sent). budget stands in for the client's when the generator
// has none. A repair prompt needs previous, the attempt it repairs.
func (g *Generator) Preview(ctx context.Context, req synth.Request, kind prompt.Kind, budget llm.Budget, previous *prompt.Previous) (*prompt.Prompt, error) {
	if kind == prompt.ZeroShot {
		req.Shots = 0
	}
	r, err := g.newRun(ctx, req)
	if err != nil {
		return nil, err
	}
	if g.Client == nil {
		r.budget = budget
	}
	d := prompt.Data{Task: r.task}
	switch kind {
	case prompt.ZeroShot:
	case prompt.NShot:
		main, sup, err := prompt.Selector{Strategy: g.Selection, Rand: r.rng}.Select(r.pool, req.Shots)
		if err != nil {
			return nil, fmt.Errorf("n-shot prompt: %w (train or import models on %s first)", err, r.task.Dataset)
		}
		d.Main, d.Supporting = &main, sup
	case prompt.Repair:
		if previous == nil {
			return nil, errors.New("llmgen: a repair prompt needs the attempt it repairs")
		}
		p := *previous
		p.MaxTries = r.maxRepairs
		d.Previous = &p
	case prompt.RAG:
		if len(g.Blocks) == 0 {
			return nil, errors.New("llmgen: a RAG prompt needs a library block")
		}
		d.Block = &g.Blocks[0]
	default:
		return nil, fmt.Errorf("prompt kind %q: want zeroshot, nshot, repair or rag", kind)
	}
	return r.set.Fit(ctx, r.budget, kind, d)
}

type run struct {
	g    *Generator
	set  *prompt.Set
	task prompt.Task
	req  synth.Request
	rng  *rand.Rand
	seed int64
	pool []prompt.Model
	log  *slog.Logger

	maxRepairs int
	budget     llm.Budget
}

// first builds candidate i's first prompt: RAG when blocks are given,
// n-shot when examples exist and fit, else zero-shot.
func (r *run) first(ctx context.Context, i int) (*prompt.Prompt, []string, error) {
	budget := r.budget
	if len(r.g.Blocks) > 0 {
		b := r.g.Blocks[i%len(r.g.Blocks)]
		p, err := r.set.Fit(ctx, budget, prompt.RAG, prompt.Data{Task: r.task, Block: &b})
		if err != nil {
			return nil, nil, fmt.Errorf("llmgen: block %s: %w", b.Name, err)
		}
		return p, nil, nil
	}
	if len(r.pool) > 0 {
		sel := prompt.Selector{Strategy: r.g.Selection, Rand: r.rng}
		main, sup, err := sel.Select(r.pool, r.req.Shots)
		if err == nil {
			p, err := r.set.Fit(ctx, budget, prompt.NShot, prompt.Data{Task: r.task, Main: &main, Supporting: sup})
			if err == nil {
				parents := []string{main.Name}
				for _, m := range sup[:p.Shots] {
					parents = append(parents, m.Name)
				}
				return p, parents, nil
			}
			var tl *llm.TooLongError
			if !errors.As(err, &tl) {
				return nil, nil, err
			}
			r.log.Warn("llmgen: n-shot prompt does not fit the context even without supporting models; zero-shot instead", "main", main.Name, "err", err)
		} else if !errors.Is(err, prompt.ErrNoExamples) {
			return nil, nil, err
		}
	}
	p, err := r.set.Fit(ctx, budget, prompt.ZeroShot, prompt.Data{Task: r.task})
	if err != nil {
		return nil, nil, fmt.Errorf("llmgen: %w", err)
	}
	return p, nil, nil
}

// candidate makes candidate i: the first prompt, then repairs.
func (r *run) candidate(ctx context.Context, i int) (*synth.Candidate, error) {
	start := time.Now()
	p, parents, err := r.first(ctx, i)
	if err != nil {
		return nil, err
	}
	ops := []string{opOf(p)}
	var (
		c      *synth.Candidate
		tokens synth.Tokens
	)
	for attempt := 1; ; attempt++ {
		// A per-call seed makes a run reproducible on servers that honour
		// it (vLLM, llama.cpp) while every call still samples differently.
		callSeed := r.seed + int64(i)*16 + int64(attempt)
		resp, err := r.g.Client.Chat(ctx, llm.Request{
			Messages:   p.Messages,
			Stream:     !r.g.NoStream,
			OnProgress: r.progress(i),
			Seed:       &callSeed,
		})
		if err != nil {
			return nil, fmt.Errorf("llmgen: candidate %d: %w", i+1, err)
		}
		tokens.Prompt += resp.Usage.PromptTokens
		tokens.Completion += resp.Usage.CompletionTokens
		ex := reply.Extract(resp.Content)
		c = r.build(p, resp, ex)
		c.Parents, c.Attempts, c.Tokens = parents, attempt, tokens
		c.Operators = append(append([]string(nil), ops...), "prompt:"+p.Hash[:16])
		if c.Verdict.Status == "" && r.g.Check != nil {
			v, err := r.g.Check(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("llmgen: check candidate %d: %w", i+1, err)
			}
			c.Verdict = v
		}
		if c.Verdict.Status != synth.StatusRejected || attempt > r.maxRepairs {
			break
		}
		var (
			next *prompt.Prompt
			op   string
		)
		if strings.TrimSpace(ex.Code) == "" {
			// Nothing to repair: ask again for a fresh sample.
			next, parents, err = r.first(ctx, i)
			op = "retry:" + c.Verdict.Reason
		} else {
			next, op, err = r.repair(ctx, c, ex, attempt)
		}
		if err != nil {
			var tl *llm.TooLongError
			if errors.As(err, &tl) {
				r.log.Warn("llmgen: repair prompt does not fit the context; candidate kept as rejected", "candidate", i+1, "err", err)
				break
			}
			return nil, err
		}
		r.log.Debug("llmgen: repair", "candidate", i+1, "attempt", attempt+1, "stage", c.Verdict.Stage, "reason", c.Verdict.Reason)
		p = next
		ops = append(ops, op)
	}
	c.Task, c.Dataset, c.Metric = r.task.Task, r.task.Dataset, r.task.Metric
	c.Seed = r.seed
	c.Elapsed = time.Since(start)
	return c, nil
}

func opOf(p *prompt.Prompt) string {
	switch p.Kind {
	case prompt.NShot:
		return fmt.Sprintf("nshot:%d", p.Shots)
	case prompt.RAG:
		return "rag:" + p.Block
	}
	return string(p.Kind)
}

func (r *run) progress(i int) func(llm.Progress) {
	if r.g.OnProgress == nil {
		return nil
	}
	return func(p llm.Progress) { r.g.OnProgress(i, p) }
}

// build turns a reply into a candidate; the verdict is rejected at the
// extract stage when the reply is unusable, empty (pending) otherwise.
func (r *run) build(p *prompt.Prompt, resp *llm.Response, ex reply.Result) *synth.Candidate {
	c := &synth.Candidate{Generator: Name, Reply: resp.Content, Prompt: p.Text(), Created: time.Now().UTC()}
	c.SetCode(ex.Code)
	c.Transform = ex.Transform
	c.HP = hpDict(ex.HP)
	switch {
	case resp.Truncated() && (ex.Verdict != reply.OK || ex.CodeUnclosed):
		c.Verdict = synth.Reject(StageExtract, ReasonTruncated,
			fmt.Sprintf("the reply hit the token limit (%d completion tokens) before the model was complete; raise llm.max_tokens", resp.Usage.CompletionTokens))
	case ex.Verdict != reply.OK:
		c.Verdict = synth.Reject(StageExtract, string(ex.Verdict), ex.Reason)
	}
	return c
}

// hpDict turns extracted hyperparameters into LEMUR's typed dict: batch
// and epoch as ints, the rest floats, keys sorted.
func hpDict(hp map[string]float64) lemur.Dict {
	if hp == nil {
		return nil
	}
	keys := make([]string, 0, len(hp))
	for k := range hp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d := make(lemur.Dict, 0, len(keys))
	for _, k := range keys {
		var v lemur.Value = hp[k]
		if k == "batch" || k == "epoch" {
			v = int64(hp[k])
		}
		d = append(d, lemur.Item{Key: k, Value: v})
	}
	return d
}

// repair builds the repair prompt for a rejected candidate.
func (r *run) repair(ctx context.Context, c *synth.Candidate, ex reply.Result, attempt int) (*prompt.Prompt, string, error) {
	v := c.Verdict
	budget := r.budget
	hp := ex.HPRaw
	if b, err := synth.HPJSON(c.HP); err == nil && len(c.HP) > 0 {
		hp = string(b)
	}
	msg := v.Message
	if v.Stage == StageExtract && ex.Verdict != reply.OK {
		msg = extractHelp(ex)
	}
	p, err := r.set.Fit(ctx, budget, prompt.Repair, prompt.Data{Task: r.task, Previous: &prompt.Previous{
		Code: ex.Code, HP: hp, Transform: c.Transform, Stage: v.Stage, Reason: v.Reason, Error: msg,
		Try: attempt, MaxTries: r.maxRepairs,
	}})
	if err != nil {
		return nil, "", fmt.Errorf("llmgen: repair prompt: %w", err)
	}
	return p, "repair:" + v.Stage + ":" + v.Reason, nil
}

// extractHelp words an extraction failure as an instruction.
func extractHelp(ex reply.Result) string {
	switch ex.Verdict {
	case reply.NoHP, reply.BadHP:
		return ex.Reason + ". Give the hyperparameters as a JSON object between <hp> and </hp>, numbers only."
	case reply.NoTransform, reply.BadTransform:
		return ex.Reason + ". Give one transform name between <tr> and </tr>."
	}
	return ex.Reason
}

var _ synth.Generator = (*Generator)(nil)
