// Package predict forecasts where a training run will end up from its first
// epochs: the best accuracy it will reach (with an interval), the epoch of
// that peak and the final accuracy. It builds run trajectories from LEMUR
// records, turns a run into features (early accuracies, hyperparameters,
// transform, dataset and, when the code is known, code structure), fits a
// 3-parameter linear reference and a gradient-boosted model, and decides
// whether a run in progress is worth finishing (Pruner).
//
// Early stopping from a runner or loop:
//
//	pr, err := predict.OpenPruner(ctx, ws.Dir, ws.Store, predict.DefaultPolicy())
//	// err == predict.ErrNoPredictor: run without early stopping
//	code, _ := predict.CodeFeaturesOf([]byte(src)) // once per model; nil is fine
//	// after each epoch:
//	d, err := pr.Decide(ctx, predict.RunState{Task: ..., Dataset: ..., Metric: ...,
//		NN: name, Prm: prm, Acc: accuracies, MaxEpoch: epochs, Code: code})
//	if err == nil && d.Stop {
//		// stop the run; record it as pruned with d.Prediction.BestAccuracy
//		// (and d.Reason, d.Bar)
//	}
//	// when a run ends (finished or pruned), rank later runs against it:
//	pr.Board.Add(task, dataset, bestAccuracy)
//
// CandidateState builds the RunState from a loop candidate row.
package predict

import (
	"cmp"
	"fmt"
	"iter"
	"math"
	"slices"

	"github.com/nngpt/nngpt/lemur"
)

// Run is one complete training trajectory: a (task, dataset, metric, nn,
// uid) whose uid occurs exactly once in each epoch 1..E.
type Run struct {
	lemur.Pipeline
	UID string
	// Prm are the hyperparameters (from the epoch-1 record): lr, batch,
	// transform, momentum, dropout, ...
	Prm lemur.Dict
	// Acc[i] is the accuracy after epoch i+1; len(Acc) is E.
	Acc []float64
	// Dur[i] is the cumulative duration in seconds after epoch i+1, NaN
	// where the record has none.
	Dur []float64
}

// MaxEpoch is E, the run's last epoch.
func (r *Run) MaxEpoch() int { return len(r.Acc) }

// Best is the best accuracy over the run and the first epoch (1-based)
// that reached it.
func (r *Run) Best() (acc float64, epoch int) {
	acc = math.Inf(-1)
	for i, a := range r.Acc {
		if a > acc {
			acc, epoch = a, i+1
		}
	}
	return acc, epoch
}

// Final is the accuracy after the last epoch.
func (r *Run) Final() float64 { return r.Acc[len(r.Acc)-1] }

// BuildStats counts what BuildRuns kept and left out.
type BuildStats struct {
	Records    int `json:"records"`      // records read
	Epoch0     int `json:"epoch0"`       // records of epoch 0 (or below), ignored
	Candidates int `json:"candidates"`   // distinct (pipeline, uid)
	Runs       int `json:"runs"`         // complete, unambiguous runs kept
	Ambiguous  int `json:"ambiguous"`    // uid occurs more than once in one epoch
	Incomplete int `json:"incomplete"`   // some epoch in 1..E has no record
	BadAcc     int `json:"bad_accuracy"` // NaN or infinite accuracy
}

func (s BuildStats) String() string {
	return fmt.Sprintf("%d records -> %d runs (%d ambiguous, %d incomplete, %d with a bad accuracy left out; %d epoch-0 records ignored)",
		s.Records, s.Runs, s.Ambiguous, s.Incomplete, s.BadAcc, s.Epoch0)
}

type runKey struct {
	lemur.Pipeline
	uid string
}

type runAcc struct {
	prm   lemur.Dict
	acc   map[int]float64
	dur   map[int]float64
	dup   bool
	bad   bool
	order int
}

// BuildRuns groups stat records into runs. Runs whose uid occurs twice in an
// epoch (LEMUR keeps a few such collisions) or that miss an epoch are left
// out and counted, since their trajectory cannot be told apart. The result
// is sorted by pipeline and uid, so it does not depend on record order.
func BuildRuns(recs iter.Seq2[lemur.Record, error]) ([]Run, BuildStats, error) {
	var st BuildStats
	groups := map[runKey]*runAcc{}
	for r, err := range recs {
		if err != nil {
			return nil, st, fmt.Errorf("read records: %w", err)
		}
		st.Records++
		if r.Epoch < 1 {
			st.Epoch0++
			continue
		}
		k := runKey{r.Pipeline, r.UID}
		g := groups[k]
		if g == nil {
			g = &runAcc{acc: map[int]float64{}, dur: map[int]float64{}, order: len(groups)}
			groups[k] = g
		}
		if _, seen := g.acc[r.Epoch]; seen {
			g.dup = true
			continue
		}
		if math.IsNaN(r.Accuracy) || math.IsInf(r.Accuracy, 0) {
			g.bad = true
		}
		g.acc[r.Epoch] = r.Accuracy
		d := math.NaN()
		if r.Duration != nil {
			d = float64(*r.Duration) / 1e9
		}
		g.dur[r.Epoch] = d
		if g.prm == nil || r.Epoch == 1 {
			g.prm = r.Prm
		}
	}
	st.Candidates = len(groups)
	runs := make([]Run, 0, len(groups))
	for k, g := range groups {
		switch {
		case g.dup:
			st.Ambiguous++
			continue
		case g.bad:
			st.BadAcc++
			continue
		}
		e := 0
		for ep := range g.acc {
			e = max(e, ep)
		}
		if len(g.acc) != e {
			st.Incomplete++
			continue
		}
		run := Run{Pipeline: k.Pipeline, UID: k.uid, Prm: g.prm, Acc: make([]float64, e), Dur: make([]float64, e)}
		for i := range e {
			run.Acc[i] = g.acc[i+1]
			run.Dur[i] = g.dur[i+1]
		}
		runs = append(runs, run)
	}
	st.Runs = len(runs)
	slices.SortFunc(runs, func(a, b Run) int {
		return cmp.Or(cmp.Compare(a.Pipeline.String(), b.Pipeline.String()), cmp.Compare(a.UID, b.UID))
	})
	return runs, st, nil
}

// Records adapts a slice to the iterator BuildRuns reads.
func Records(recs []lemur.Record) iter.Seq2[lemur.Record, error] {
	return func(yield func(lemur.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Transform is the run's transform name ("" when it has none).
func (r *Run) Transform() string {
	s, _ := r.Prm.String("transform")
	return s
}
