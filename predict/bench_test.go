package predict_test

import (
	"testing"

	"github.com/nngpt/nngpt/predict"
)

func BenchmarkPredict(b *testing.B) {
	t := &testing.T{}
	m, _, test := trained(t)
	in := predict.InputOf(&test[0], 2, nil)
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Predict(in); err != nil {
			b.Fatal(err)
		}
	}
}
