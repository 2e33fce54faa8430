package report

import (
	"context"
	"testing"

	"github.com/nngpt/nngpt/store"
)

// BenchmarkReport measures Build and Write for the default job's size: 3
// cycles of 8 candidates, one epoch, 6 admitted per cycle (3 plots and 18
// learning curves, each as PNG and SVG).
func BenchmarkReport(b *testing.B) {
	ws := openWS(b)
	var cs []cand
	for c := 1; c <= 3; c++ {
		for i := range 8 {
			acc := 0.3 + 0.05*float64(c) + 0.02*float64(i)
			if i < 2 {
				cs = append(cs, cand{c, store.StateRejected, "unused-hp", nil, 0, false})
				continue
			}
			cs = append(cs, cand{c, store.StateDone, "", []float64{acc}, int64(10_000 * (i + 1)), true})
		}
	}
	putLoop(b, ws.Store, "B", cs)
	ctx := context.Background()
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			if _, err := Build(ctx, ws.Store, "B"); err != nil {
				b.Fatal(err)
			}
		}
	})
	r, err := Build(ctx, ws.Store, "B")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			if err := r.Write(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}
