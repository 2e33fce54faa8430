package prompt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/store"
)

// Strategy picks the models of an n-shot prompt.
type Strategy string

const (
	// Best: the best model is the main one, the next n support it.
	Best Strategy = "best"
	// Random: n+1 models drawn at random; the best of them is the main one.
	Random Strategy = "random"
	// Diverse: the best model is the main one; the supporting ones are the
	// best models whose structural fingerprint differs from every model
	// already chosen (renamed or re-commented copies of one architecture
	// count once), topped up by accuracy when there are not enough.
	Diverse Strategy = "diverse"
)

// Strategies lists the strategies.
var Strategies = []Strategy{Best, Random, Diverse}

// ParseStrategy reads a strategy name ("" is Best).
func ParseStrategy(s string) (Strategy, error) {
	if s == "" {
		return Best, nil
	}
	for _, k := range Strategies {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("example selection %q: want best, random or diverse", s)
}

// ErrNoExamples says the corpus has no model with code and a run on the
// pipeline: an n-shot prompt cannot be built (use zero-shot).
var ErrNoExamples = errors.New("no corpus model with code and a recorded run on this pipeline")

// Selector chooses the main and supporting models from a pool.
type Selector struct {
	Strategy Strategy
	// Rand draws for Random; nil: a fixed seed (reproducible).
	Rand *rand.Rand
	// Fingerprint is the structural key for Diverse; nil: pyast's
	// structural fingerprint.
	Fingerprint func(code string) string
}

// StructuralFingerprint is pyast's renaming-invariant id of code.
func StructuralFingerprint(code string) string { return pyast.CodeIDs([]byte(code)).Structure }

// Select returns the main model and up to n supporting models, most
// useful first (Fit drops from the end). Models without code or without
// a run (Accuracy < 0) are never chosen, and a code is never shown twice.
func (s Selector) Select(pool []Model, n int) (main Model, supporting []Model, err error) {
	if n < 0 {
		return Model{}, nil, fmt.Errorf("shots %d: want 0 or more", n)
	}
	cands := rank(pool)
	if len(cands) == 0 {
		return Model{}, nil, ErrNoExamples
	}
	switch s.Strategy {
	case Best, "":
		main = cands[0]
		supporting = cands[1:min(len(cands), n+1)]
	case Random:
		r := s.Rand
		if r == nil {
			r = rand.New(rand.NewPCG(1, 2))
		}
		idx := r.Perm(len(cands))[:min(len(cands), n+1)]
		sort.Ints(idx) // cands is ranked: the lowest index is the best
		main = cands[idx[0]]
		for _, i := range idx[1:] {
			supporting = append(supporting, cands[i])
		}
	case Diverse:
		fp := s.Fingerprint
		if fp == nil {
			fp = StructuralFingerprint
		}
		main = cands[0]
		seen := map[string]bool{fp(main.Code): true}
		used := map[int]bool{0: true}
		for i := 1; i < len(cands) && len(supporting) < n; i++ {
			f := fp(cands[i].Code)
			if seen[f] {
				continue
			}
			seen[f], used[i] = true, true
			supporting = append(supporting, cands[i])
		}
		for i := 1; i < len(cands) && len(supporting) < n; i++ {
			if !used[i] {
				used[i] = true
				supporting = append(supporting, cands[i])
			}
		}
	default:
		return Model{}, nil, fmt.Errorf("unknown example selection %q", s.Strategy)
	}
	return main, append([]Model(nil), supporting...), nil
}

// rank keeps models with code and a run, one per code id, best first
// (ties by name, so selection is deterministic).
func rank(pool []Model) []Model {
	var out []Model
	for _, m := range pool {
		if m.Code != "" && m.Accuracy >= 0 {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Accuracy != out[j].Accuracy {
			return out[i].Accuracy > out[j].Accuracy
		}
		return out[i].Name < out[j].Name
	})
	seen := map[string]bool{}
	k := 0
	for _, m := range out {
		id := lemur.CodeID(m.Code)
		if seen[id] {
			continue
		}
		seen[id] = true
		out[k] = m
		k++
	}
	return out[:k]
}

// FromCorpus lists the corpus models with code and their best run on the
// pipeline (empty fields match any), as prompt models.
func FromCorpus(ctx context.Context, st store.Store, task, dataset, metric string) ([]Model, error) {
	ms, err := corpus.Models(ctx, st, task, dataset, metric)
	if err != nil {
		return nil, err
	}
	out := make([]Model, 0, len(ms))
	for _, m := range ms {
		if m.Accuracy < 0 {
			continue
		}
		out = append(out, ModelFrom(m.Name, m.Code, m.Accuracy, m.Epoch, m.Prm))
	}
	return out, nil
}
