package loop

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/evolve"
	"github.com/nngpt/nngpt/zoo"
)

// BenchmarkCoordinatorOverhead measures what the coordinator spends per
// candidate besides the training itself: evolve generation from the seed
// zoo, the static gates and dedup, every journal commit, admission into the
// corpus. Training is the instant fake executor. Reports the median over
// cycles of (cycle wall time / candidates).
func BenchmarkCoordinatorOverhead(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		st := openStore(b, filepath.Join(b.TempDir(), "nngpt.db"))
		if _, err := zoo.Seed(ctx, st); err != nil {
			b.Fatal(err)
		}
		gt, _, err := gate.Open(ctx, st, gate.DefaultConfig(), nil)
		if err != nil {
			b.Fatal(err)
		}
		gen := &evolve.Generator{Source: evolve.SourceFunc(func(ctx context.Context, req synth.Request) ([]evolve.Parent, error) {
			ms, err := corpus.Models(ctx, st, req.Task, req.Dataset, req.Metric)
			out := make([]evolve.Parent, len(ms))
			for i, m := range ms {
				out[i] = evolve.Parent{Name: m.Name, Code: m.Code, Accuracy: m.Accuracy}
			}
			return out, err
		})}
		eng := newEngine(st, &fakeExec{trains: map[string]int{}}, gen)
		eng.Gate = gate.SynthChecker{Gate: gt}
		var per []time.Duration
		var cycleStart time.Time
		cfg := testConfig()
		cfg.Cycles, cfg.Candidates = 6, 8
		eng.Observe = func(e Event) {
			switch e.Type {
			case EventCycle:
				cycleStart = time.Now()
			case EventCycleDone:
				per = append(per, time.Since(cycleStart)/time.Duration(cfg.Candidates))
			}
		}
		if _, err := runLoop(ctx, eng, cfg); err != nil {
			b.Fatal(err)
		}
		sort.Slice(per, func(i, j int) bool { return per[i] < per[j] })
		b.ReportMetric(float64(per[len(per)/2].Microseconds())/1000, "ms/candidate-median")
	}
}
