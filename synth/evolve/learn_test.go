package evolve_test

import (
	"testing"

	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth/evolve"
)

func TestLearnPolicy(t *testing.T) {
	row := func(cycle, index int, gen, state string, acc float64, ops ...string) store.CandidateRow {
		r := store.CandidateRow{Cycle: cycle, Index: index, Generator: gen, State: state, Operators: ops}
		if state == store.StateDone {
			r.Epochs = []float64{acc / 2, acc} // the best epoch counts
		}
		return r
	}
	rows := []store.CandidateRow{
		row(2, 0, evolve.Name, store.StateDone, 0.99, evolve.OpPool+":x"), // not before cycle 2
		row(1, 1, evolve.Name, store.StateDone, 0.80, evolve.OpConv+":widen", "hp:lr=0.1"),
		row(1, 0, evolve.Name, store.StateRejected, 0, evolve.OpResidual+":add"),
		row(1, 2, evolve.Name, store.StateDone, 0.50, evolve.OpDropout+":0.3"),
		row(1, 3, evolve.Name, store.StateDone, 0.65, evolve.OpKernel+":3->5"),
		row(1, 4, "llm", store.StateFailed, 0, evolve.OpCrossover+":a+b"), // another generator
		row(1, 5, evolve.Name, store.StateDuplicate, 0, evolve.OpBatchNorm+":remove"),
		row(1, 6, evolve.Name, store.StatePruned, 0, evolve.OpWidth+":64->32"),
	}
	def := evolve.DefaultWeights
	tests := []struct {
		cycle int
		op    string
		want  int // sign of the change from the default weight
	}{
		{1, evolve.OpConv, 0},      // nothing before cycle 1
		{2, evolve.OpConv, +1},     // the best trained candidate
		{2, evolve.OpKernel, 0},    // the median one
		{2, evolve.OpDropout, -1},  // the worst one
		{2, evolve.OpResidual, -1}, // rejected
		{2, evolve.OpBatchNorm, -1},
		{2, evolve.OpWidth, -1}, // pruned
		{2, evolve.OpCrossover, 0},
		{2, evolve.OpPool, 0},
		{3, evolve.OpPool, +1},
		{3, evolve.OpConv, +1},   // second of four trained: rank reward +1/3
		{3, evolve.OpKernel, -1}, // third of four: -1/3
	}
	for _, tc := range tests {
		w := evolve.LearnPolicy(rows, tc.cycle).Weights()[tc.op]
		got := 0
		switch {
		case w > def[tc.op]+1e-12:
			got = 1
		case w < def[tc.op]-1e-12:
			got = -1
		}
		if got != tc.want {
			t.Errorf("cycle %d: %s weight %.4f (default %.4f), want a change of sign %d", tc.cycle, tc.op, w, def[tc.op], tc.want)
		}
	}
}
