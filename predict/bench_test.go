package predict_test

import (
	"testing"

	"github.com/nngpt/nngpt/predict"
)

// BenchmarkPredict times one prediction (the pruner's cost per epoch) of a
// small model; LEMUR-sized models have more and deeper trees.
func BenchmarkPredict(b *testing.B) {
	m, _, test := trained(b)
	in := predict.InputOf(&test[0], 2, nil)
	for b.Loop() {
		if _, err := m.Predict(in); err != nil {
			b.Fatal(err)
		}
	}
}
