package evolve

import (
	"context"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/zoo"
)

func zooSource() Source {
	return SourceFunc(func(context.Context, synth.Request) ([]Parent, error) {
		var ps []Parent
		for _, m := range zoo.Models() {
			ps = append(ps, Parent{Name: m.Name, Code: m.Code, Accuracy: -1})
		}
		return ps, nil
	})
}

func generate(t *testing.T, g *Generator, n int, seed int64) []*synth.Candidate {
	t.Helper()
	var out []*synth.Candidate
	for c, err := range g.Generate(context.Background(), synth.Request{N: n, Seed: seed}) {
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		out = append(out, c)
	}
	return out
}

func TestGenerateZoo(t *testing.T) {
	g := &Generator{Source: zooSource()}
	cands := generate(t, g, 30, 7)
	if len(cands) != 30 {
		t.Fatalf("got %d candidates, want 30", len(cands))
	}
	ids := map[string]bool{}
	for _, c := range cands {
		if ids[c.ID] {
			t.Errorf("duplicate candidate %s", c.ID)
		}
		ids[c.ID] = true
		m, err := parseModel(c.Code)
		if err != nil {
			t.Errorf("%s (%v from %v) does not parse: %v\n%s", c.Name, c.Operators, c.Parents, err, c.Code)
			continue
		}
		m.close()
		if len(c.Parents) == 0 || len(c.Operators) == 0 || c.Generator != Name || !strings.HasPrefix(c.Name, "evolve-") {
			t.Errorf("%s: parents %v operators %v generator %q", c.Name, c.Parents, c.Operators, c.Generator)
		}
	}
}

// TestGateRateAndDedup checks evolve's targets that need no torch: at least
// 90% of its candidates pass the static gates, and 100 candidates hold no
// duplicate by any of the gate's three ids (code, normalised, structure).
func TestGateRateAndDedup(t *testing.T) {
	g := &Generator{Source: zooSource()}
	cands := generate(t, g, 100, 42)
	gt, err := gate.New(gate.DefaultConfig(), gate.NewIndex(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range zoo.Models() {
		gt.Index().Add(m.Name, pyast.Analyze([]byte(m.Code)).IDs, gate.SourceCorpus)
	}
	passed, dups := 0, 0
	for _, c := range cands {
		v, err := gt.Check(context.Background(), gate.Candidate{Name: c.Name, Code: c.Code})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case v.Accepted():
			passed++
		case v.Reason.Duplicate():
			dups++
			t.Errorf("%s (%v) duplicates %v", c.Name, c.Operators, v.Duplicate)
		default:
			t.Logf("%s (%v from %v) rejected: %v", c.Name, c.Operators, c.Parents, v)
		}
	}
	if passed < 90 {
		t.Errorf("%d of 100 candidates passed the static gates, want at least 90", passed)
	}
	if dups != 0 {
		t.Errorf("%d duplicates in 100 candidates, want 0", dups)
	}
}

// BenchmarkGenerate measures evolve's cost per candidate on the zoo,
// parsing, mutation, contract check and dedup ids included.
func BenchmarkGenerate(b *testing.B) {
	g := &Generator{Source: zooSource()}
	ctx := context.Background()
	n := 0
	for b.Loop() {
		for c, err := range g.Generate(ctx, synth.Request{N: 10, Seed: int64(n + 1)}) {
			if err != nil {
				b.Fatal(err)
			}
			_ = c
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n*10), "µs/candidate")
}
