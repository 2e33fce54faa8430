package prompt_test

import (
	"context"
	"testing"

	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/prompt"
)

// BenchmarkFit measures rendering and fitting a 3-shot prompt with the
// estimate, once when it fits and once when two supporting models must go.
func BenchmarkFit(b *testing.B) {
	s := prompt.Builtin()
	d := nshotData(3)
	p, _ := s.Render(prompt.NShot, d)
	n, _, _ := llm.Budget{}.Count(context.Background(), p.Messages)
	for _, tc := range []struct {
		name string
		ctx  int
	}{{"fits", n + 1000}, {"drops2", n + 1000 - 900}} {
		b.Run(tc.name, func(b *testing.B) {
			budget := llm.Budget{ContextLength: tc.ctx, ReplyTokens: 1000}
			for b.Loop() {
				if _, err := s.Fit(context.Background(), budget, prompt.NShot, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
