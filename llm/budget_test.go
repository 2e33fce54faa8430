package llm_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/llm/llmtest"
)

func TestEstimateTokens(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		{"a", 1},
		{"abc", 1},
		{"abcd", 2},
		{strings.Repeat("x", 300), 100},
		{"日本語", 3}, // 9 bytes
	}
	for _, tc := range tests {
		if got := llm.EstimateTokens(tc.text); got != tc.want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
}

func TestBudgetCheck(t *testing.T) {
	msgs := []llm.Message{{Role: llm.User, Content: strings.Repeat("x", 3000)}} // 1000 tokens estimated
	need := 1000 + llm.MessageOverhead + llm.PromptOverhead
	tests := []struct {
		ctxLen, reply int
		ok            bool
	}{
		{need + 100, 100, true},
		{need + 99, 100, false},
		{0, 0, false},
	}
	for _, tc := range tests {
		b := llm.Budget{ContextLength: tc.ctxLen, ReplyTokens: tc.reply}
		fit, err := b.Check(context.Background(), msgs)
		if (err == nil) != tc.ok {
			t.Errorf("ctx %d reply %d: err %v, want ok=%v", tc.ctxLen, tc.reply, err, tc.ok)
		}
		if fit.PromptTokens != need || fit.Exact {
			t.Errorf("fit %+v, want %d estimated tokens", fit, need)
		}
		var tl *llm.TooLongError
		if !tc.ok && tc.ctxLen > 0 && (!errors.As(err, &tl) || tl.PromptTokens != need || !strings.Contains(err.Error(), "llm.context_length")) {
			t.Errorf("error %v, want a TooLongError saying what to do", err)
		}
	}
}

func TestBudgetUsesServerTokenizer(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.EnableTokenize(nil)
	for _, mode := range []string{"auto", "server"} {
		cfg := llm.Config{BaseURL: srv.URL, Model: llmtest.Model, Tokenizer: mode}
		c, err := llm.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Repeat("y", 400)
		n, exact, err := c.Budget().Count(context.Background(), []llm.Message{{Role: llm.User, Content: text}})
		if err != nil {
			t.Fatal(err)
		}
		if want := llmtest.CountTokens(text) + llm.MessageOverhead + llm.PromptOverhead; n != want || !exact {
			t.Errorf("%s: count %d exact %v, want the server's %d", mode, n, exact, want)
		}
	}
}

func TestBudgetFallsBackWithoutTokenizeEndpoint(t *testing.T) {
	srv := llmtest.NewServer(t) // /tokenize answers 404, as on Ollama
	c, err := llm.New(llm.Config{BaseURL: srv.URL, Model: llmtest.Model})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("z", 300)
	n, exact, err := c.Budget().Count(context.Background(), []llm.Message{{Role: llm.User, Content: text}})
	if err != nil || exact || n != 100+llm.MessageOverhead+llm.PromptOverhead {
		t.Errorf("count %d exact %v err %v, want the estimate", n, exact, err)
	}
	strict, _ := llm.New(llm.Config{BaseURL: srv.URL, Model: llmtest.Model, Tokenizer: "server"})
	if _, _, err := strict.Budget().Count(context.Background(), []llm.Message{{Role: llm.User, Content: text}}); err == nil || !strings.Contains(err.Error(), "tokenize") {
		t.Errorf("strict server tokenizer without endpoint: err %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		hdr  map[string]string
		want time.Duration
		ok   bool
	}{
		{map[string]string{"Retry-After": "3"}, 3 * time.Second, true},
		{map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond, true},
		{map[string]string{"Retry-After": now.Add(10 * time.Second).Format(http.TimeFormat)}, 10 * time.Second, true},
		{map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0, true},
		{map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond, true},
		{map[string]string{"Retry-After": "-1"}, 0, false},
		{map[string]string{"Retry-After": "soon"}, 0, false},
		{map[string]string{}, 0, false},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, v := range tc.hdr {
			h.Set(k, v)
		}
		got, ok := llm.ParseRetryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%v: %s %v, want %s %v", tc.hdr, got, ok, tc.want, tc.ok)
		}
	}
}

func TestUsageAdd(t *testing.T) {
	a := llm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}
	b := llm.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3, Estimated: true}
	if got := a.Add(b); got != (llm.Usage{PromptTokens: 11, CompletionTokens: 7, TotalTokens: 18, Estimated: true}) {
		t.Errorf("sum %+v", got)
	}
}
