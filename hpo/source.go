package hpo

import (
	"context"
	"sync"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
)

// CorpusSource settles the hyperparameters of the closed loop's candidates
// (loop.HPSource): a candidate's own (an LLM's <hp>, evolve's inherited
// ones) when they fit the model's LEMUR search space, clipped into it, and
// otherwise First's proposal (the LLM's one-shot, when set), then the
// learned recommender fitted on the corpus as it stood when the
// candidate's cycle began.
type CorpusSource struct {
	Store                 store.Corpus
	First                 Recommender // nil: the learned one only
	Task, Dataset, Metric string
	Epochs                int

	mu       sync.Mutex
	learned  *Learned
	fittedAt store.Counts
}

// Hyperparameters returns the candidate's hyperparameters, batch and
// transform included, and which source gave them.
func (s *CorpusSource) Hyperparameters(ctx context.Context, c *synth.Candidate) (lemur.Dict, string, error) {
	sp, err := LEMURSpace(pyast.Analyze([]byte(c.Code)).Contract.Supported, nil)
	if err != nil {
		return nil, "", err
	}
	hp, batch, _ := lemur.SplitPrm(c.HP)
	given := lemur.JoinPrm(hp, batch, c.Transform)
	learned, err := s.fit(ctx)
	if err != nil {
		return nil, "", err
	}
	var recs []Recommender
	if s.First != nil {
		recs = append(recs, s.First)
	}
	if learned != nil {
		recs = append(recs, learned)
	}
	q := Query{Task: s.Task, Dataset: s.Dataset, Metric: s.Metric, Model: c.Name, Code: c.Code, Epochs: s.Epochs}
	prm, source, _, err := CandidateHP(ctx, recs, q, sp, given)
	if source == "llm-hp" {
		source = c.Generator // the generator's own, accepted
	}
	return prm, source, err
}

// fit refits the learned recommender when the corpus changed (it only
// grows between cycles); nil when it cannot be fitted yet.
func (s *CorpusSource) fit(ctx context.Context) (*Learned, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts, err := s.Store.Counts(ctx)
	if err != nil || (s.learned != nil && counts == s.fittedAt) {
		return s.learned, nil
	}
	var recs []lemur.Record
	for r, err := range s.Store.Stats(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	if s.learned, err = FitLearned(recs, LearnedOptions{}); err != nil {
		s.learned = nil
	}
	s.fittedAt = counts
	return s.learned, nil
}
