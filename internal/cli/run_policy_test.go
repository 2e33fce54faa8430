package cli

import (
	"testing"

	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth/evolve"
)

func TestOperatorPolicy(t *testing.T) {
	row := func(cycle, index int, gen, state string, admitted bool, ops ...string) store.CandidateRow {
		return store.CandidateRow{Cycle: cycle, Index: index, Generator: gen, State: state, Admitted: admitted, Operators: ops}
	}
	rows := []store.CandidateRow{
		row(2, 0, evolve.Name, store.StateDone, true, evolve.OpPool+":x"), // cycle 2: not yet, for cycle 2
		row(1, 1, evolve.Name, store.StateDone, true, evolve.OpConv+":widen", "hp:lr=0.1"),
		row(1, 0, evolve.Name, store.StateRejected, false, evolve.OpResidual+":add"),
		row(1, 2, evolve.Name, store.StateDone, false, evolve.OpDropout+":0.3"),
		row(1, 3, "llm", store.StateFailed, false, evolve.OpCrossover+":a+b"), // another generator
		row(1, 4, evolve.Name, store.StateDuplicate, false, evolve.OpBatchNorm+":remove"),
	}
	def := evolve.DefaultWeights
	tests := []struct {
		cycle int
		op    string
		want  int // sign of the change from the default weight
	}{
		{1, evolve.OpConv, 0}, // nothing before cycle 1
		{2, evolve.OpConv, +1},
		{2, evolve.OpResidual, -1},
		{2, evolve.OpBatchNorm, -1},
		{2, evolve.OpDropout, 0},
		{2, evolve.OpCrossover, 0},
		{2, evolve.OpPool, 0},
		{3, evolve.OpPool, +1},
	}
	for _, tc := range tests {
		w := operatorPolicy(rows, tc.cycle).Weights()[tc.op]
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
