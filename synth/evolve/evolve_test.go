package evolve

import (
	"context"
	"strings"
	"testing"

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
	cands := generate(t, g, 100, 7)
	if len(cands) != 100 {
		t.Fatalf("got %d candidates, want 100", len(cands))
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
