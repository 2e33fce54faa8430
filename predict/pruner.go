package predict

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"sync"

	"github.com/nngpt/nngpt/lemur"
)

// Policy says when a run in progress is stopped. A run is stopped after
// epoch After (or later) when the upper bound of its predicted best
// accuracy is below the admission threshold, or below the reference
// accuracy of its task and dataset: the accuracy of the rank-th best run on
// the board, rank = max(TopK, ceil(TopShare * runs on the board)).
type Policy struct {
	// After is the first epoch after which a run may be stopped; 0 means
	// the model's K (2 by default). It cannot be below K.
	After int `json:"after"`
	// Admission is the lowest accuracy worth keeping; 0 means 1.2 times
	// chance for LEMUR's classification datasets (the validity bar) and
	// no bar elsewhere. Negative disables the bar.
	Admission float64 `json:"admission"`
	// TopK and TopShare set the reference rank (both 0: no reference, only
	// the admission bar applies).
	TopK     int     `json:"top_k"`
	TopShare float64 `json:"top_share"`
	// MinBoard is the fewest runs of a task and dataset on the board before
	// the reference applies (default 20): too few to rank against.
	MinBoard int `json:"min_board"`
	// Margin is added to the upper bound before comparing: positive is more
	// careful (fewer stops), negative more aggressive.
	Margin float64 `json:"margin"`
}

// DefaultPolicy stops runs whose upper bound cannot reach the validity bar
// or the top decile of their task and dataset. A fixed top-k is too strict
// on a large board: on LEMUR's runs top-10 loses half of the top-decile
// runs (see 'nngpt bench prune').
func DefaultPolicy() Policy { return Policy{TopShare: 0.1, MinBoard: 20} }

// DefaultStages are the stages (observed epochs beyond K) a predictor for
// early stopping is fitted with: a run is judged again after each.
var DefaultStages = []int{3, 4, 5, 7, 10, 20}

// Board keeps the best accuracy of every finished run per task and
// dataset: what a new run is ranked against. It is safe for concurrent use.
type Board struct {
	mu   sync.Mutex
	best map[[2]string][]float64 // descending
}

// NewBoard returns an empty board.
func NewBoard() *Board { return &Board{best: map[[2]string][]float64{}} }

// Add records one finished (or stopped) run's best accuracy.
func (b *Board) Add(task, dataset string, best float64) {
	if math.IsNaN(best) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{task, dataset}
	v := b.best[k]
	i, _ := slices.BinarySearchFunc(v, best, func(e, t float64) int {
		// Descending order.
		switch {
		case e > t:
			return -1
		case e < t:
			return 1
		}
		return 0
	})
	b.best[k] = slices.Insert(v, i, best)
}

// Len is the number of runs of a task and dataset on the board.
func (b *Board) Len(task, dataset string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.best[[2]string{task, dataset}])
}

// Ranked returns the rank-th best accuracy (1-based) of a task and dataset;
// ok is false when the board has fewer runs.
func (b *Board) Ranked(task, dataset string, rank int) (acc float64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.best[[2]string{task, dataset}]
	if rank < 1 || rank > len(v) {
		return 0, false
	}
	return v[rank-1], true
}

// BoardFromRecords fills a board with the best accuracy of every (pipeline,
// uid) in the records, e.g. store.Stats(ctx, store.Filter{Task: t, Dataset: d}).
func BoardFromRecords(recs iter.Seq2[lemur.Record, error]) (*Board, error) {
	type key struct {
		lemur.Pipeline
		uid string
	}
	best := map[key]float64{}
	for r, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("read records for the board: %w", err)
		}
		k := key{r.Pipeline, r.UID}
		if v, ok := best[k]; !ok || r.Accuracy > v {
			best[k] = r.Accuracy
		}
	}
	b := NewBoard()
	for k, v := range best {
		b.Add(k.Task, k.Dataset, v)
	}
	return b, nil
}

// RunState is a run in progress, as the runner or the loop knows it after
// an epoch.
type RunState struct {
	Task, Dataset, Metric string
	NN                    string
	Prm                   lemur.Dict
	// Acc are the accuracies of the epochs run so far (Acc[0] = epoch 1).
	Acc []float64
	// Dur are the cumulative durations in seconds (optional).
	Dur      []float64
	MaxEpoch int
	// Code are the model's code features (nil when unknown); see
	// CodeFeaturesOf.
	Code CodeFeatures
}

// Decision is the pruner's verdict after one epoch. When Stop is true the
// caller stops the run and records it as pruned, with this decision.
type Decision struct {
	Stop bool `json:"stop"`
	// Epoch is the number of epochs run when the decision was taken.
	Epoch int `json:"epoch"`
	// Reason says why, in words (empty when the pruner had nothing to say).
	Reason string `json:"reason,omitempty"`
	// Bar is the accuracy the upper bound was compared with (0 if none).
	Bar        float64     `json:"bar,omitempty"`
	Prediction *Prediction `json:"prediction,omitempty"`
}

// Pruner decides between epochs whether a run is worth finishing.
//
// Typical use in an epoch loop:
//
//	d, err := pruner.Decide(ctx, state)
//	if err == nil && d.Stop { stop the run; record it as pruned with d }
//	...
//	pruner.Board.Add(task, dataset, best) // when a run ends
type Pruner struct {
	Model  *Model
	Policy Policy
	Board  *Board
}

// NewPruner checks the policy against the model and fills in defaults.
func NewPruner(m *Model, pol Policy, board *Board) (*Pruner, error) {
	if m == nil {
		return nil, errors.New("pruner: no predictor; train one with 'nngpt predict train'")
	}
	if pol.After == 0 {
		pol.After = m.Schema.K
	}
	if pol.After < m.Schema.K {
		return nil, fmt.Errorf("pruner: after = %d epochs, but the predictor needs %d", pol.After, m.Schema.K)
	}
	if pol.TopK < 0 || pol.TopShare < 0 || pol.TopShare >= 1 {
		return nil, fmt.Errorf("pruner: top-k %d and top share %v must be >= 0 (share below 1)", pol.TopK, pol.TopShare)
	}
	if pol.MinBoard == 0 {
		pol.MinBoard = 20
	}
	if board == nil {
		board = NewBoard()
	}
	return &Pruner{Model: m, Policy: pol, Board: board}, nil
}

// Decide predicts the run and says whether to stop it. A run is never
// stopped before epoch After or after its last epoch.
func (p *Pruner) Decide(ctx context.Context, s RunState) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	d := Decision{Epoch: len(s.Acc)}
	if len(s.Acc) < p.Policy.After || len(s.Acc) >= s.MaxEpoch {
		return d, nil
	}
	pred, err := p.Model.Predict(Input{Task: s.Task, Dataset: s.Dataset, Metric: s.Metric, Prm: s.Prm,
		Acc: s.Acc, Dur: s.Dur, MaxEpoch: s.MaxEpoch, Code: s.Code})
	if err != nil {
		return d, fmt.Errorf("pruner: predict %s on %s: %w", s.NN, s.Dataset, err)
	}
	d.Prediction = &pred
	upper := pred.High + p.Policy.Margin
	adm := p.Policy.Admission
	if adm == 0 {
		adm = lemur.AdmitFactor * Chance(s.Task, s.Dataset)
	}
	if adm > 0 && upper < adm {
		d.Stop, d.Bar = true, adm
		d.Reason = fmt.Sprintf("upper bound %.4f of the best accuracy is below the admission bar %.4f", upper, adm)
		return d, nil
	}
	if rank, ok := p.rank(s.Task, s.Dataset); ok {
		if ref, ok := p.Board.Ranked(s.Task, s.Dataset, rank); ok && upper < ref {
			d.Stop, d.Bar = true, ref
			d.Reason = fmt.Sprintf("upper bound %.4f of the best accuracy is below %.4f, the #%d run of %s on %s",
				upper, ref, rank, s.Task, s.Dataset)
		}
	}
	return d, nil
}

func (p *Pruner) rank(task, dataset string) (int, bool) {
	n := p.Board.Len(task, dataset)
	if n < p.Policy.MinBoard || (p.Policy.TopK == 0 && p.Policy.TopShare == 0) {
		return 0, false
	}
	r := max(p.Policy.TopK, int(math.Ceil(p.Policy.TopShare*float64(n))))
	return r, r <= n
}
