package hpo

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

func testSpace(t *testing.T) *Space {
	t.Helper()
	sp, err := LEMURSpace([]string{"lr", "momentum"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// toy is a smooth accuracy surface over the LEMUR space with its peak at
// lr=0.03, momentum=0.9, batch=32, transform=norm.
func toy(cfg lemur.Dict) float64 {
	lr, _ := cfg.Float("lr")
	m, _ := cfg.Float("momentum")
	b, _ := cfg.Float("batch")
	tr, _ := cfg.String("transform")
	v := 0.9 - 0.05*math.Pow(math.Log10(lr)-math.Log10(0.03), 2) - 0.2*math.Pow(m-0.9, 2) - 0.01*math.Pow(math.Log2(b)-5, 2)
	if tr != "norm" {
		v -= 0.1
	}
	return v
}

func TestStudyAskTellFindsGoodConfig(t *testing.T) {
	ctx := context.Background()
	for _, sampler := range []string{"tpe", "random"} {
		st, err := OpenStudy(ctx, NewMemoryStorage(), StudyInfo{Name: "s", Space: testSpace(t), Sampler: sampler, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		for range 40 {
			tr, err := st.Ask(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Source != sampler {
				t.Errorf("trial source %q, want %q", tr.Source, sampler)
			}
			if err := st.Tell(ctx, &tr, Complete, toy(tr.Params), ""); err != nil {
				t.Fatal(err)
			}
		}
		best, ok, err := st.Best(ctx)
		if err != nil || !ok {
			t.Fatalf("Best: %v %v", ok, err)
		}
		t.Logf("%s best %.3f %s", sampler, best.Value, lemur.Repr(best.Params))
		if best.Value < 0.6 {
			t.Errorf("%s: best value %.3f after 40 trials, want >= 0.6", sampler, best.Value)
		}
	}
}

func TestStudyTPEBeatsRandomOnAverage(t *testing.T) {
	ctx := context.Background()
	mean := func(sampler string) float64 {
		sum := 0.0
		for seed := range 8 {
			st, _ := OpenStudy(ctx, NewMemoryStorage(), StudyInfo{Name: "s", Space: testSpace(t), Sampler: sampler, Seed: uint64(seed)})
			for range 30 {
				tr, _ := st.Ask(ctx)
				st.Tell(ctx, &tr, Complete, toy(tr.Params), "")
			}
			b, _, _ := st.Best(ctx)
			sum += b.Value
		}
		return sum / 8
	}
	tpe, rnd := mean("tpe"), mean("random")
	t.Logf("mean best: tpe %.4f random %.4f", tpe, rnd)
	if tpe <= rnd {
		t.Errorf("TPE mean best %.4f not above random %.4f", tpe, rnd)
	}
}

func TestStudyReplaysWithSeed(t *testing.T) {
	ctx := context.Background()
	run := func() []string {
		st, _ := OpenStudy(ctx, NewMemoryStorage(), StudyInfo{Name: "s", Space: testSpace(t), Seed: 3})
		var out []string
		for range 15 {
			tr, _ := st.Ask(ctx)
			st.Tell(ctx, &tr, Complete, toy(tr.Params), "")
			out = append(out, lemur.Repr(tr.Params))
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("trial %d differs between two runs with the same seed:\n%s\n%s", i, a[i], b[i])
		}
	}
}

func TestStudyEnqueueAndResume(t *testing.T) {
	ctx := context.Background()
	mem := NewMemoryStorage()
	sp := testSpace(t)
	st, err := OpenStudy(ctx, mem, StudyInfo{Name: "s", Space: sp, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	warm := lemur.Dict{{Key: "batch", Value: int64(32)}, {Key: "lr", Value: 0.03}, {Key: "momentum", Value: 0.9}, {Key: "transform", Value: "norm"}}
	if _, err := st.Enqueue(ctx, warm, "learned"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enqueue(ctx, lemur.Dict{{Key: "lr", Value: 0.1}}, "learned"); err == nil {
		t.Error("an incomplete configuration was enqueued")
	}
	tr, err := st.Ask(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Source != "learned" || lemur.Repr(tr.Params) != lemur.Repr(warm) {
		t.Errorf("first ask = %s from %s, want the enqueued config", lemur.Repr(tr.Params), tr.Source)
	}
	st.Report(ctx, &tr, 1, 0.5)
	st.Tell(ctx, &tr, Pruned, math.NaN(), "median")
	// Reopening keeps the stored study; another space is refused.
	st2, err := OpenStudy(ctx, mem, StudyInfo{Name: "s", Space: sp, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	if st2.Info.Seed != 1 {
		t.Errorf("reopened study has seed %d, want the stored 1", st2.Info.Seed)
	}
	ts, _ := st2.Trials(ctx)
	if len(ts) != 1 || ts[0].State != Pruned || ts[0].Value != 0.5 {
		t.Errorf("trials after reopen = %+v", ts)
	}
	other, _ := LEMURSpace([]string{"lr"}, nil)
	if _, err := OpenStudy(ctx, mem, StudyInfo{Name: "s", Space: other}); err == nil || !strings.Contains(err.Error(), "another search space") {
		t.Errorf("reopen with another space: %v", err)
	}
}

func TestStudyConcurrentWorkersGetDistinctTrials(t *testing.T) {
	ctx := context.Background()
	st, _ := OpenStudy(ctx, NewMemoryStorage(), StudyInfo{Name: "s", Space: testSpace(t), Seed: 1})
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int]bool{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				tr, err := st.Ask(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[tr.Number] {
					t.Errorf("trial %d handed out twice", tr.Number)
				}
				seen[tr.Number] = true
				mu.Unlock()
				st.Tell(ctx, &tr, Complete, toy(tr.Params), "")
			}
		}()
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Errorf("%d distinct trials, want 40", len(seen))
	}
}

func TestMedianPruner(t *testing.T) {
	mk := func(n int, vals ...float64) Trial {
		tr := Trial{Number: n, State: Complete}
		for i, v := range vals {
			tr.Intermediate = append(tr.Intermediate, Step{Step: i + 1, Value: v})
		}
		return tr
	}
	others := []Trial{mk(0, 0.5, 0.6), mk(1, 0.4, 0.5), mk(2, 0.3, 0.4), mk(3, 0.6, 0.7), mk(4, 0.2, 0.3)}
	p := MedianPruner{Startup: 5}
	tests := []struct {
		name string
		t    Trial
		dir  Direction
		want bool
	}{
		{"below median", mk(9, 0.1, 0.2), Maximize, true},
		{"above median", mk(9, 0.6, 0.65), Maximize, false},
		{"minimise: high is bad", mk(9, 0.1, 0.9), Minimize, true},
	}
	for _, tc := range tests {
		got, reason := p.Prune(tc.t, others, tc.dir)
		if got != tc.want {
			t.Errorf("%s: prune %v (%s), want %v", tc.name, got, reason, tc.want)
		}
	}
	if got, _ := p.Prune(mk(9, 0.0), others[:3], Maximize); got {
		t.Error("pruned before Startup trials finished")
	}
}

func TestTPECategoricalAndIntStayInRange(t *testing.T) {
	sp, _ := NewSpace(Param{Name: "k", Kind: Int, Low: 2, High: 5}, Param{Name: "c", Kind: Categorical, Choices: []string{"a", "b", "c"}},
		Param{Name: "b", Kind: Pow2, Low: 4, High: 64}, Param{Name: "w", Kind: Int, Low: 1, High: 1000, Log: true})
	tpe := NewTPE()
	var obs []Observation
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		x := tpe.Sample(sp, obs, rng)
		cfg := sp.Decode(x)
		k, _ := cfg.Float("k")
		b, _ := cfg.Float("b")
		w, _ := cfg.Float("w")
		c, _ := cfg.String("c")
		if k < 2 || k > 5 || b < 4 || b > 64 || w < 1 || w > 1000 || !strings.Contains("abc", c) {
			t.Fatalf("trial %d out of range: %s", i, lemur.Repr(cfg))
		}
		loss := math.Abs(k-4) + math.Abs(math.Log2(b)-3)
		if c != "b" {
			loss++
		}
		obs = append(obs, Observation{X: sp.Encode(cfg), Loss: loss})
	}
	// The last 20 proposals should mostly be the categorical optimum.
	hits := 0
	for _, o := range obs[40:] {
		if o.X[sp.Index("c")] == 1 {
			hits++
		}
	}
	if hits < 12 {
		t.Errorf("TPE chose the best category %d of the last 20 times, want >= 12", hits)
	}
}

// BenchmarkTPEAsk1000 times one TPE proposal over 1,000 finished trials in
// the LEMUR space (lr, momentum, dropout, batch, transform).
func BenchmarkTPEAsk1000(b *testing.B) {
	sp, _ := LEMURSpace([]string{"lr", "momentum", "dropout"}, AllTransforms())
	rng := rand.New(rand.NewPCG(1, 1))
	obs := make([]Observation, 1000)
	for i := range obs {
		x := sp.Random(rng)
		obs[i] = Observation{X: x, Loss: -toy(sp.Decode(x))}
	}
	tpe := NewTPE()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tpe.Sample(sp, obs, rng)
	}
}

// BenchmarkStudyAsk1000 times a whole Ask (history read, encoding,
// TPE, the running trial stored) of a study with 1,000 finished trials
// in memory.
func BenchmarkStudyAsk1000(b *testing.B) {
	ctx := context.Background()
	sp, _ := LEMURSpace([]string{"lr", "momentum", "dropout"}, AllTransforms())
	mem := NewMemoryStorage()
	st, _ := OpenStudy(ctx, mem, StudyInfo{Name: "b", Space: sp, Seed: 1})
	rng := rand.New(rand.NewPCG(1, 1))
	for range 1000 {
		cfg := sp.Decode(sp.Random(rng))
		mem.AddTrial(ctx, "b", Trial{State: Complete, Params: cfg, Value: toy(cfg)})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.Ask(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
