package prompt

import (
	"context"
	"errors"
	"fmt"

	"github.com/nngpt/nngpt/llm"
)

// Fit renders the prompt and checks it against the context budget. When it
// does not fit, supporting models are dropped from the end (the least
// useful, as the selection orders them) one at a time; a prompt that does
// not fit even without any is an *llm.TooLongError saying what was dropped.
// Nothing is ever cut from a model's code or an error text beyond
// TruncateError's fixed bound.
func (s *Set) Fit(ctx context.Context, b llm.Budget, kind Kind, d Data) (*Prompt, error) {
	total := len(d.Supporting)
	for keep := total; keep >= 0; keep-- {
		dd := d
		dd.Supporting = d.Supporting[:keep]
		p, err := s.Render(kind, dd)
		if err != nil {
			return nil, err
		}
		fit, err := b.Check(ctx, p.Messages)
		var tl *llm.TooLongError
		switch {
		case err == nil:
			p.Dropped = total - keep
			p.Tokens = fit.PromptTokens
			return p, nil
		case errors.As(err, &tl):
			if keep == 0 {
				if total > 0 {
					tl.What = fmt.Sprintf("even after dropping all %d supporting models", total)
				}
				switch kind {
				case NShot:
					tl.What = joinWhat(tl.What, "(the main model's code alone is too long)")
				case Repair:
					tl.What = joinWhat(tl.What, "(the previous code and its error are too long)")
				case RAG:
					tl.What = joinWhat(tl.What, "(the block's code is too long)")
				}
				return nil, fmt.Errorf("%s prompt: %w", kind, tl)
			}
		default:
			return nil, err
		}
	}
	panic("unreachable")
}

func joinWhat(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}
