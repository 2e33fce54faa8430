package llm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// serverTokenizer counts tokens with the server's /tokenize endpoint.
// llama.cpp server takes {"content": text} and answers {"tokens": [...]};
// vLLM takes {"model", "prompt"} and answers {"count", "tokens", ...}. One
// body carries both spellings (each server ignores the other's fields).
// With fallback set, a server without the endpoint (Ollama, hosted APIs)
// makes it estimate from then on.
type serverTokenizer struct {
	url, model string
	http       *http.Client
	fallback   bool

	mu          sync.Mutex
	unsupported bool
	cache       map[[32]byte]int
}

const tokenizeTimeout = 30 * time.Second

func (t *serverTokenizer) CountTokens(ctx context.Context, text string) (int, bool, error) {
	t.mu.Lock()
	if t.unsupported {
		t.mu.Unlock()
		return EstimateTokens(text), false, nil
	}
	key := sha256.Sum256([]byte(text))
	if n, ok := t.cache[key]; ok {
		t.mu.Unlock()
		return n, true, nil
	}
	t.mu.Unlock()

	n, err := t.ask(ctx, text)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
		if !t.fallback {
			return 0, false, fmt.Errorf("server tokenizer %s: %w (set llm.tokenizer to estimate or auto for servers without /tokenize)", t.url, err)
		}
		t.unsupported = true
		return EstimateTokens(text), false, nil
	}
	if t.cache == nil || len(t.cache) > 1024 {
		t.cache = map[[32]byte]int{}
	}
	t.cache[key] = n
	return n, true, nil
}

func (t *serverTokenizer) ask(ctx context.Context, text string) (int, error) {
	body, _ := json.Marshal(map[string]any{"model": t.model, "prompt": text, "content": text, "add_special_tokens": false})
	ctx, cancel := context.WithTimeout(ctx, tokenizeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := t.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return 0, err
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	var out struct {
		Count  *int              `json:"count"`
		Tokens []json.RawMessage `json:"tokens"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return 0, fmt.Errorf("not a tokenize reply: %w", err)
	}
	if out.Count != nil {
		return *out.Count, nil
	}
	if out.Tokens == nil {
		return 0, fmt.Errorf("tokenize reply has neither count nor tokens")
	}
	return len(out.Tokens), nil
}
