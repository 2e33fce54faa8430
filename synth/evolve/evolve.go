// Package evolve is nngpt's built-in generator: it needs no LLM. It takes
// models from the corpus as parents and changes their parsed code with
// shape-safe mutations (activations, kernel sizes, widths, conv, BatchNorm
// and dropout layers, residual connections, pooling) and crossover of conv
// segments between two parents. Each candidate records its parents and
// operators; the operator weights are a Policy that a later step can learn
// from the candidates' outcomes.
package evolve

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/synth"
)

// Name is the generator's name and the LEMUR name prefix of its models.
const Name = "evolve"

// Parent is a corpus model evolve can start from.
type Parent struct {
	Name string
	Code string
	// Accuracy is the best recorded accuracy on the requested pipeline, or
	// a negative number when the model has no run there.
	Accuracy float64
	// HP and Transform are those of that best run (nil and "" without one).
	HP        lemur.Dict
	Transform string
}

// Source supplies parents.
type Source interface {
	Parents(ctx context.Context, req synth.Request) ([]Parent, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, req synth.Request) ([]Parent, error)

// Parents calls f.
func (f SourceFunc) Parents(ctx context.Context, req synth.Request) ([]Parent, error) {
	return f(ctx, req)
}

// Generator is the evolve generator.
type Generator struct {
	// Source gives the parents; required.
	Source Source
	// Policy chooses operators; nil: NewPolicy().
	Policy *Policy
	// Seen, when set, reports code the workspace already holds (by any of
	// its dedup ids), so evolve does not spend its tries on known models.
	Seen func(code string) bool
	// MaxTries bounds the attempts per candidate (default 60); an attempt
	// fails when no operator applies or the result is a duplicate.
	MaxTries int
	// Log receives a debug line per failed attempt; nil: slog.Default().
	Log *slog.Logger
}

// Name implements synth.Generator.
func (g *Generator) Name() string { return Name }

// ErrNoParents is returned when the corpus has no usable model.
var ErrNoParents = errors.New("evolve: no parent models in the corpus (a new workspace gets the seed zoo; import LEMUR models with `nngpt import`)")

type parsedParent struct {
	Parent
	m *model
}

// Generate implements synth.Generator.
func (g *Generator) Generate(ctx context.Context, req synth.Request) iter.Seq2[*synth.Candidate, error] {
	return func(yield func(*synth.Candidate, error) bool) {
		if err := req.Validate(); err != nil {
			yield(nil, err)
			return
		}
		if g.Source == nil {
			yield(nil, errors.New("evolve: no parent source configured"))
			return
		}
		pol := g.Policy
		if pol == nil {
			pol = NewPolicy()
		}
		log, tries, seed, rng := runSettings(g.Log, g.MaxTries, req.Seed)

		pool, seen, err := loadPool(ctx, g.Source, req, log)
		if err != nil {
			yield(nil, err)
			return
		}
		defer closePool(pool)

		for n := 0; n < req.N; n++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			start := time.Now()
			var c *synth.Candidate
			for try := 0; try < tries && c == nil; try++ {
				c = g.attempt(pool, pol, rng, seen, log)
			}
			if c == nil {
				yield(nil, fmt.Errorf("evolve: no new candidate after %d attempts (%d parents); every change tried was inapplicable or a duplicate", tries, len(pool)))
				return
			}
			c.Task, c.Dataset, c.Metric = req.Task, req.Dataset, req.Metric
			c.Seed = seed
			c.Elapsed = time.Since(start)
			if !yield(c, nil) {
				return
			}
		}
	}
}

// tournament picks a parent: the fitter of two random ones (by recorded
// accuracy; unknown counts as worst), which keeps diversity while still
// favouring models that trained well.
func tournament(pool []parsedParent, rng *rand.Rand) parsedParent {
	a, b := pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))]
	if b.Accuracy > a.Accuracy {
		return b
	}
	return a // ties (no runs at all, say) stay uniform
}

// attempt makes one candidate or returns nil.
// runSettings resolves a Generate call's logger (default slog's), tries
// per candidate (default 60), seed (the request's, or the clock's when it
// has none; candidates record it) and the random source it seeds.
func runSettings(log *slog.Logger, maxTries int, seed int64) (*slog.Logger, int, int64, *rand.Rand) {
	if log == nil {
		log = slog.Default()
	}
	if maxTries <= 0 {
		maxTries = 60
	}
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	return log, maxTries, seed, rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

func (g *Generator) attempt(pool []parsedParent, pol *Policy, rng *rand.Rand, seen *seenSet, log *slog.Logger) *synth.Candidate {
	p := tournament(pool, rng)
	cur := p.m
	code := p.Code
	parents := []string{p.Name}
	var ops []string
	steps := 1
	if rng.Float64() < pol.StackProb {
		steps = 2
	}
	var owned []*model
	defer func() {
		for _, m := range owned {
			m.close()
		}
	}()
	for s := 0; s < steps; s++ {
		op, ok := pol.pick(rng, func(op string) bool { return op != OpCrossover || len(pool) > 1 })
		if !ok {
			return nil
		}
		var next, detail string
		var err error
		if op == OpCrossover {
			q := tournament(pool, rng)
			if q.Name == p.Name {
				log.Debug("evolve: crossover with itself skipped", "parent", p.Name)
				return nil
			}
			next, detail, err = crossover(cur, q.m, rng)
			if err == nil {
				parents = append(parents, q.Name)
			}
		} else {
			next, detail, err = mutations()[op](cur, rng)
		}
		if err != nil {
			if !errors.Is(err, errNotApplicable) {
				log.Debug("evolve: operator failed", "op", op, "parent", p.Name, "err", err)
			}
			return nil
		}
		m, err := parseModel(next)
		if err != nil {
			// An operator produced broken Python: a bug worth seeing.
			log.Warn("evolve: operator produced unparsable code", "op", op, "parent", p.Name, "err", err)
			return nil
		}
		if err := contractKept(m, p.m); err != nil {
			log.Debug("evolve: operator broke the contract", "op", op, "parent", p.Name, "err", err)
			m.close()
			return nil
		}
		owned = append(owned, m)
		cur, code = m, next
		ops = append(ops, op+":"+detail)
	}
	if dup := seen.dup(cur); dup != "" || (g.Seen != nil && g.Seen(code)) {
		log.Debug("evolve: duplicate skipped", "ops", ops, "of", dup)
		return nil
	}
	c := synth.New(Name, code)
	seen.add(cur, c.Name)
	c.Parents = parents
	c.Operators = ops
	c.Transform = p.Transform
	if c.Transform == "" {
		c.Transform = DefaultTransform
	}
	c.HP = baseHP(p.HP, supported(cur))
	if rng.Float64() < pol.HPProb {
		var d string
		c.HP, d = perturbHP(c.HP, rng)
		if d != "" {
			c.Operators = append(c.Operators, OpHP+":"+d)
		}
	}
	return c
}

// seenSet holds the code ids and structural fingerprints of the parents
// and of what was generated, so a run never yields the same model twice,
// not even renamed.
// loadPool reads and parses the parents; the models they hold are known
// to seen. Close the pool with closePool.
func loadPool(ctx context.Context, src Source, req synth.Request, log *slog.Logger) ([]parsedParent, *seenSet, error) {
	parents, err := src.Parents(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("evolve: read parents: %w", err)
	}
	var pool []parsedParent
	seen := newSeenSet()
	for _, p := range parents {
		m, err := parseModel(p.Code)
		if err != nil {
			log.Debug("evolve: skip parent", "name", p.Name, "err", err)
			continue
		}
		pool = append(pool, parsedParent{p, m})
		seen.add(m, p.Name)
	}
	if len(pool) == 0 {
		return nil, nil, ErrNoParents
	}
	return pool, seen, nil
}

func closePool(pool []parsedParent) {
	for _, p := range pool {
		p.m.close()
	}
}

type seenSet struct{ ids map[string]string }

func newSeenSet() *seenSet { return &seenSet{ids: map[string]string{}} }

func keys(m *model) []string {
	ids := m.analysis().IDs
	return []string{"c:" + ids.Code, "s:" + ids.Structure}
}

func (s *seenSet) add(m *model, name string) {
	for _, k := range keys(m) {
		if _, ok := s.ids[k]; !ok {
			s.ids[k] = name
		}
	}
}

func (s *seenSet) dup(m *model) string {
	for _, k := range keys(m) {
		if n, ok := s.ids[k]; ok {
			return n
		}
	}
	return ""
}

var _ synth.Generator = (*Generator)(nil)

// contractKept checks what an operator must never break and the gate would
// reject: the LEMUR contract and NNGPT's rule that every declared
// hyperparameter is read. Operators avoid both by construction; this is
// the net under them, so evolve never hands on a candidate it broke. A
// problem the parent already had is not the operator's doing.
func contractKept(m, parent *model) error {
	a, pa := m.analysis(), parent.analysis()
	switch {
	case len(a.Syntax) > 0:
		return fmt.Errorf("syntax: %v", a.Syntax[0])
	case !a.Contract.OK() && pa.Contract.OK():
		return fmt.Errorf("contract: %v", a.Contract.Problems[0])
	case len(a.Hparams.Dynamic) == 0 && len(a.Hparams.Unused) > len(pa.Hparams.Unused):
		return fmt.Errorf("declared but unused hyperparameters %v", a.Hparams.Unused)
	}
	return nil
}
