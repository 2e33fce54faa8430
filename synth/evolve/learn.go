package evolve

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sort"

	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
)

// LearnPolicy is the operator policy after a loop's cycles before the given
// one. Each evolve candidate credits its operators with a reward in
// [-1, 1]: -1 when the gate rejected it (a duplicate included) or its
// training failed, -0.5 when it was pruned as hopeless, and for a trained
// one its accuracy's rank among all trained candidates so far, from -1 (the
// worst) to +1 (the best), so operators are judged against the loop's own
// baseline even where every candidate clears the admission bar. It depends
// on the journal alone, so a resumed loop rebuilds the policy an
// uninterrupted one had.
func LearnPolicy(rows []store.CandidateRow, cycle int) *Policy {
	var past []store.CandidateRow
	for _, r := range rows {
		if r.Cycle < cycle {
			past = append(past, r)
		}
	}
	slices.SortFunc(past, func(a, b store.CandidateRow) int {
		return cmp.Or(cmp.Compare(a.Cycle, b.Cycle), cmp.Compare(a.Index, b.Index))
	})
	var accs []float64
	for _, r := range past {
		if r.State == store.StateDone && len(r.Epochs) > 0 {
			accs = append(accs, r.Best())
		}
	}
	slices.Sort(accs)
	pol := NewPolicy()
	for _, r := range past {
		reward := 0.0
		switch r.State {
		case store.StateRejected, store.StateDuplicate, store.StateFailed:
			reward = -1
		case store.StatePruned:
			reward = -0.5
		case store.StateDone:
			if len(r.Epochs) > 0 && len(accs) > 1 {
				acc := r.Best()
				below := sort.SearchFloat64s(accs, acc)                                                // trained candidates that did worse
				above := len(accs) - sort.Search(len(accs), func(i int) bool { return accs[i] > acc }) // and better
				reward = float64(below-above) / float64(len(accs)-1)
			}
		}
		pol.Learn(&synth.Candidate{Generator: r.Generator, Operators: r.Operators}, reward)
	}
	return pol
}

// Learner is the loop hook that gives Gen the policy learned from the
// loop's journal before every cycle (loop.Hook).
type Learner struct {
	Gen     *Generator
	Journal store.Journal
	Log     *slog.Logger
}

// BeforeCycle sets Gen.Policy to LearnPolicy over the loop's candidates.
func (l Learner) BeforeCycle(ctx context.Context, lp store.Loop, cycle int) error {
	rows, err := l.Journal.Candidates(ctx, lp.ID)
	if err != nil {
		return err
	}
	l.Gen.Policy = LearnPolicy(rows, cycle)
	cmp.Or(l.Log, slog.Default()).Info("evolve operator weights", "cycle", cycle, "weights", l.Gen.Policy.String())
	return nil
}

// AfterCycle does nothing: the policy follows from the journal alone.
func (Learner) AfterCycle(context.Context, store.Loop, int) error { return nil }
