// Package llmtest is a scripted OpenAI-compatible chat-completions server
// for tests (net/http/httptest). It speaks the real wire format, plain JSON
// and server-sent events alike, so the real llm client (openai-go) is what
// the tests exercise. A script is a list of Steps, one per request, in
// order; a Step can answer a reply, an HTTP error with Retry-After, stall,
// or cut a stream. Canned replies a real model would write (good, broken,
// truncated, chatty, duplicated) are in replies.go.
//
//	srv := llmtest.NewServer(t, llmtest.RateLimited("0"), llmtest.Reply(llmtest.ReplyGood))
//	client, _ := llm.New(llm.Config{BaseURL: srv.URL, Model: llmtest.Model, MaxRetries: 2})
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Model is the model name the server reports when a request names none.
const Model = "llmtest-coder"

// Message is a chat message as received.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is a chat-completions request as the server received it.
type Request struct {
	Model        string
	Messages     []Message
	Stream       bool
	IncludeUsage bool // stream_options.include_usage
	MaxTokens    int  // max_tokens or max_completion_tokens, 0 when absent
	Temperature  *float64
	TopP         *float64
	Seed         *int64
	Header       http.Header
	Body         []byte // the raw JSON body
}

// Prompt is the concatenated content of the request's messages.
func (r Request) Prompt() string {
	var b strings.Builder
	for _, m := range r.Messages {
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return b.String()
}

// Step answers one request.
type Step struct {
	name    string
	forever bool
	serve   func(w http.ResponseWriter, r *http.Request, req *Request)
}

// String names the step in failure messages.
func (s Step) String() string { return s.name }

// Server is a running scripted server; it is closed when the test ends.
type Server struct {
	// URL is the OpenAI API root (ending in /v1) to give the client.
	URL string
	// Root is the server root (where /tokenize lives).
	Root string

	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	steps    []Step
	reqs     []Request
	tokenize func(text string) int
	ctxLen   int
	llamaCtx int
}

// NewServer starts a server that answers the steps in order, one per
// chat-completions request. A request beyond the script fails the test and
// gets a 500.
func NewServer(t testing.TB, steps ...Step) *Server {
	t.Helper()
	s := &Server{t: t, steps: append([]Step(nil), steps...)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("POST /tokenize", s.tokenizeHandler)
	mux.HandleFunc("GET /props", s.props)
	s.srv = httptest.NewServer(mux)
	s.Root = s.srv.URL
	s.URL = s.srv.URL + "/v1"
	t.Cleanup(s.Close)
	return s
}

// Close stops the server; tests need not call it.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Add appends steps to the script.
func (s *Server) Add(steps ...Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, steps...)
}

// Requests returns the chat requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Remaining is the number of steps not yet used (Forever steps count once).
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.steps)
}

// EnableTokenize makes POST /tokenize answer like llama.cpp server
// ({"tokens": [...]}) with count(text) tokens; a nil count uses
// CountTokens. Without it /tokenize is 404, as on Ollama.
func (s *Server) EnableTokenize(count func(text string) int) {
	if count == nil {
		count = CountTokens
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenize = count
}

// CountTokens is the scripted server's tokenizer: one token per 4 bytes,
// rounded up (deliberately unlike the client's estimate so tests can tell
// which one was used).
func CountTokens(text string) int { return int(math.Ceil(float64(len(text)) / 4)) }

func (s *Server) tokenizeHandler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	count := s.tokenize
	s.mu.Unlock()
	if count == nil {
		http.NotFound(w, r)
		return
	}
	var in struct {
		Content string `json:"content"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "", "bad tokenize body: "+err.Error())
		return
	}
	n := count(in.Content)
	toks := make([]int, n)
	for i := range toks {
		toks[i] = i + 1
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
}

// SetContextLength makes GET /v1/models report max_model_len n for Model,
// as vLLM does.
func (s *Server) SetContextLength(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctxLen = n
}

// SetPropsContext makes GET /props report n_ctx n, as llama.cpp server
// does (0: /props is 404).
func (s *Server) SetPropsContext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.llamaCtx = n
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := s.ctxLen
	s.mu.Unlock()
	m := map[string]any{"id": Model, "object": "model", "created": 1700000000, "owned_by": "llmtest"}
	if n > 0 {
		m["max_model_len"] = n
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{m}})
}

func (s *Server) props(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := s.llamaCtx
	s.mu.Unlock()
	if n == 0 {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"default_generation_settings": map[string]any{"n_ctx": n}, "total_slots": 1})
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	req, err := parseRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, *req)
	n := len(s.reqs)
	var step Step
	ok := len(s.steps) > 0
	if ok {
		step = s.steps[0]
		if !step.forever {
			s.steps = s.steps[1:]
		}
	}
	s.mu.Unlock()
	if !ok {
		s.t.Errorf("llmtest: request %d has no step left in the script", n)
		writeError(w, http.StatusInternalServerError, "server_error", fmt.Sprintf("llmtest: script exhausted at request %d", n))
		return
	}
	step.serve(w, r, req)
}

func parseRequest(r *http.Request) (*Request, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read request body: %v", err)
	}
	var in struct {
		Model               string    `json:"model"`
		Messages            []Message `json:"messages"`
		Stream              bool      `json:"stream"`
		MaxTokens           *int      `json:"max_tokens"`
		MaxCompletionTokens *int      `json:"max_completion_tokens"`
		Temperature         *float64  `json:"temperature"`
		TopP                *float64  `json:"top_p"`
		Seed                *int64    `json:"seed"`
		StreamOptions       *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("request body is not JSON: %v", err)
	}
	if len(in.Messages) == 0 {
		return nil, fmt.Errorf("'messages' is required and must not be empty")
	}
	req := &Request{Model: in.Model, Messages: in.Messages, Stream: in.Stream, Temperature: in.Temperature, TopP: in.TopP, Seed: in.Seed, Header: r.Header.Clone(), Body: body}
	if in.StreamOptions != nil {
		req.IncludeUsage = in.StreamOptions.IncludeUsage
	}
	switch {
	case in.MaxTokens != nil:
		req.MaxTokens = *in.MaxTokens
	case in.MaxCompletionTokens != nil:
		req.MaxTokens = *in.MaxCompletionTokens
	}
	if req.Model == "" {
		req.Model = Model
	}
	return req, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	if typ == "" {
		typ = "invalid_request_error"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
}

// sleepOrGone waits d or until the client goes away.
func sleepOrGone(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
