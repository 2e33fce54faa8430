package predict

import (
	"context"
	"sync"

	"github.com/nngpt/nngpt/store"
)

// LoopPruner is the closed loop's early stopping through a Pruner: it
// judges a candidate after each epoch and puts every finished candidate on
// the pruner's board, so "the current top-k" includes the loop's own
// results (loop.Pruner).
type LoopPruner struct {
	p        *Pruner
	epochs   int // the epochs each candidate trains for
	features codeFeatures
}

// codeFeatures analyses each candidate's code once, by code id.
type codeFeatures struct {
	mu sync.Mutex
	m  map[string]CodeFeatures
}

func (c *codeFeatures) of(row *store.CandidateRow) CodeFeatures {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf, ok := c.m[row.CodeID]
	if !ok {
		cf, _ = CodeFeaturesOf([]byte(row.Code))
		if c.m == nil {
			c.m = map[string]CodeFeatures{}
		}
		c.m[row.CodeID] = cf
	}
	return cf
}

// NewLoopPruner judges candidates that train for epochs epochs with p.
func NewLoopPruner(p *Pruner, epochs int) *LoopPruner {
	return &LoopPruner{p: p, epochs: epochs}
}

// Prune decides after epoch whether the candidate is hopeless; predicted
// is the predicted best accuracy it judged by.
func (lp *LoopPruner) Prune(ctx context.Context, row *store.CandidateRow, epoch int, acc float64) (stop bool, predicted float64) {
	d, err := lp.p.Decide(ctx, CandidateState(row, epoch, acc, lp.epochs, lp.features.of(row)))
	if err != nil || !d.Stop || d.Prediction == nil {
		return false, 0
	}
	return true, d.Prediction.BestAccuracy
}

// Finished puts a trained or pruned candidate's best accuracy on the board.
func (lp *LoopPruner) Finished(row store.CandidateRow) {
	if row.State == store.StateDone || row.State == store.StatePruned {
		lp.p.Board.Add(row.Pipeline.Task, row.Pipeline.Dataset, row.Best())
	}
}

// LoopScreener is the closed loop's screening through a Screener: before a
// gated candidate trains, its zero-shot prediction decides whether the
// training is worth it (loop.Screener).
type LoopScreener struct {
	s        *Screener
	epochs   int
	features codeFeatures
}

// NewLoopScreener screens candidates that would train for epochs epochs.
func NewLoopScreener(s *Screener, epochs int) *LoopScreener {
	return &LoopScreener{s: s, epochs: epochs}
}

// Screen says whether row should train; when not, predicted is the
// predicted best accuracy and why the rule that screened it. A candidate
// a rule would screen but the explore draw trains gets why too, so the
// report can count what screening costs. An error trains it.
func (ls *LoopScreener) Screen(ctx context.Context, row *store.CandidateRow) (train bool, predicted float64, why string) {
	d, err := ls.s.Screen(ctx, CandidateOf(row, ls.epochs, ls.features.of(row), 0))
	if err != nil {
		return true, 0, ""
	}
	switch {
	case !d.Train:
		return false, d.Prediction.BestAccuracy, d.Reason
	case d.Explore:
		return true, d.Prediction.BestAccuracy, "explored: trained although " + d.Reason
	}
	return true, d.Prediction.BestAccuracy, ""
}
