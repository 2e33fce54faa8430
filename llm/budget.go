package llm

import (
	"context"
	"fmt"
	"math"
)

// TokenCounter counts the tokens of a text.
type TokenCounter interface {
	// CountTokens returns the number of tokens of text and whether the
	// number is exact (from the server's tokenizer) or an estimate.
	CountTokens(ctx context.Context, text string) (n int, exact bool, err error)
}

// CharsPerToken is the divisor of the token estimate. BPE tokenizers of
// current code models give about 4 characters per token on English and 3.2
// to 3.8 on Python; 3.0 over-counts both, so an estimate that fits leaves a
// margin rather than overflowing the server's context.
const CharsPerToken = 3.0

// MessageOverhead is the estimated number of tokens a chat template adds
// per message (role markers, separators); PromptOverhead is added once
// (the assistant turn's header).
const (
	MessageOverhead = 8
	PromptOverhead  = 8
)

// EstimateTokens is the conservative token estimate of text:
// ceil(bytes / CharsPerToken). Bytes, not runes, so non-Latin scripts
// (several bytes per character, often one token per character) are not
// under-counted.
func EstimateTokens(text string) int {
	return int(math.Ceil(float64(len(text)) / CharsPerToken))
}

// Estimator is the TokenCounter that always estimates.
type Estimator struct{}

// CountTokens estimates with EstimateTokens.
func (Estimator) CountTokens(_ context.Context, text string) (int, bool, error) {
	return EstimateTokens(text), false, nil
}

// Budget is a model's context: the prompt plus the reply budget must fit in
// ContextLength tokens.
type Budget struct {
	ContextLength int // tokens the server accepts, prompt and reply together
	ReplyTokens   int // tokens reserved for the reply (the max_tokens sent)
	Counter       TokenCounter
}

// Fit is the outcome of Budget.Check.
type Fit struct {
	PromptTokens int  `json:"prompt_tokens"`
	Available    int  `json:"available"` // ContextLength - ReplyTokens
	Exact        bool `json:"exact"`     // counted by the server's tokenizer
}

// TooLongError says a prompt does not fit the context budget.
type TooLongError struct {
	PromptTokens, Available, ContextLength, ReplyTokens int
	Exact                                               bool
	What                                                string // what the caller already dropped, if anything
}

func (e *TooLongError) Error() string {
	how := "estimated"
	if e.Exact {
		how = "counted by the server"
	}
	msg := fmt.Sprintf("prompt needs %d tokens (%s) but only %d are available (context length %d minus %d reserved for the reply)",
		e.PromptTokens, how, e.Available, e.ContextLength, e.ReplyTokens)
	if e.What != "" {
		msg += " " + e.What
	}
	return msg + "; raise the context length (llm.context_length) if the server allows it, lower the reply budget (llm.max_tokens), or use fewer/shorter examples"
}

// Count counts the tokens of a whole chat prompt: the messages' contents
// plus the template overhead.
func (b Budget) Count(ctx context.Context, msgs []Message) (n int, exact bool, err error) {
	c := b.Counter
	if c == nil {
		c = Estimator{}
	}
	exact = true
	n = PromptOverhead
	for _, m := range msgs {
		k, ex, err := c.CountTokens(ctx, m.Content)
		if err != nil {
			return 0, false, fmt.Errorf("count prompt tokens: %w", err)
		}
		exact = exact && ex
		n += k + MessageOverhead
	}
	return n, exact, nil
}

// Check counts msgs and returns a *TooLongError when they do not fit.
func (b Budget) Check(ctx context.Context, msgs []Message) (Fit, error) {
	n, exact, err := b.Count(ctx, msgs)
	if err != nil {
		return Fit{}, err
	}
	f := Fit{PromptTokens: n, Available: b.ContextLength - b.ReplyTokens, Exact: exact}
	if b.ContextLength <= 0 {
		return f, fmt.Errorf("context length is %d: configure the model's context length (llm.context_length)", b.ContextLength)
	}
	if n > f.Available {
		return f, &TooLongError{PromptTokens: n, Available: f.Available, ContextLength: b.ContextLength, ReplyTokens: b.ReplyTokens, Exact: exact}
	}
	return f, nil
}
