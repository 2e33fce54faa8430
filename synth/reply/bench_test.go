package reply_test

import (
	"testing"

	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/synth/reply"
)

// BenchmarkExtract measures extraction per canned reply.
func BenchmarkExtract(b *testing.B) {
	for _, c := range llmtest.Replies() {
		b.Run(c.Name, func(b *testing.B) {
			b.SetBytes(int64(len(c.Text)))
			for b.Loop() {
				reply.Extract(c.Text)
			}
		})
	}
}
