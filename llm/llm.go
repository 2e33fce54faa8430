// Package llm is nngpt's chat interface to a language model: a small Client
// interface, the request/response/usage types every caller stores, a context
// budget that refuses prompts that do not fit (never truncating them), and
// one real backend for any OpenAI-compatible server (vLLM, llama.cpp server,
// Ollama's /v1, hosted APIs) built on openai-go.
package llm

import (
	"context"
	"time"
)

// Role is a chat message role.
type Role string

const (
	System    Role = "system"
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one chat message.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// Request is one chat call. Zero-valued sampling fields fall back to the
// client's configuration.
type Request struct {
	Messages []Message
	// Stream asks the server for server-sent events; OnProgress is called
	// for every chunk. Streaming is also what lets the client notice a
	// stalled server (Config.StallTimeout).
	Stream     bool
	OnProgress func(Progress)

	MaxTokens   int      // reply budget in tokens; 0: Config.MaxTokens
	Temperature *float64 // nil: Config.Temperature
	TopP        *float64 // nil: Config.TopP
	Seed        *int64   // nil: none sent
}

// Progress reports a streaming call as it goes.
type Progress struct {
	Attempt int           // 1-based; a retry starts again from zero chunks
	Chunks  int           // content chunks received in this attempt
	Chars   int           // characters of content received in this attempt
	Elapsed time.Duration // since the attempt started
	Delta   string        // the content of the chunk just received
}

// Usage is the token accounting of one call, as the server reported it or,
// when the server reported none (some servers omit it when streaming),
// estimated from the text with EstimateTokens (Estimated is then true).
type Usage struct {
	PromptTokens     int  `json:"prompt_tokens"`
	CompletionTokens int  `json:"completion_tokens"`
	TotalTokens      int  `json:"total_tokens"`
	Estimated        bool `json:"estimated,omitempty"`
}

// Add sums two usages (for a generator that makes several calls).
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + v.PromptTokens,
		CompletionTokens: u.CompletionTokens + v.CompletionTokens,
		TotalTokens:      u.TotalTokens + v.TotalTokens,
		Estimated:        u.Estimated || v.Estimated,
	}
}

// Response is a finished call.
type Response struct {
	ID           string        `json:"id,omitempty"`
	Model        string        `json:"model"`
	Content      string        `json:"content"`
	FinishReason string        `json:"finish_reason"` // "stop", "length", ...
	Usage        Usage         `json:"usage"`
	Attempts     int           `json:"attempts"` // 1 when no retry was needed
	Duration     time.Duration `json:"duration"` // all attempts and waits included
	// PromptCut is set when the server counted far fewer prompt tokens
	// than the prompt has (under half the conservative estimate): the
	// server probably cut the prompt to its own context (Ollama does so
	// silently at num_ctx), so the model saw only part of it.
	PromptCut bool `json:"prompt_cut,omitempty"`
}

// Truncated reports whether the server stopped because the reply hit its
// token limit: the content is then incomplete.
func (r *Response) Truncated() bool { return r.FinishReason == "length" }

// Client is a chat model.
type Client interface {
	// Chat sends the messages and returns the whole reply. Transient
	// failures (429, 5xx, cut or stalled streams, timeouts) are retried by
	// the client; the error of a failed call is an *Error.
	Chat(ctx context.Context, req Request) (*Response, error)
	// Budget is the context budget of the configured model: callers check
	// their prompt against it before calling Chat.
	Budget() Budget
}
