package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Usage is the usage block the server reports.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// ReplyOptions shape an answer.
type ReplyOptions struct {
	FinishReason string // "stop" when empty; "length" for a reply cut by max_tokens
	Model        string // reported model; the requested one when empty
	Usage        *Usage // reported usage; counted with CountTokens when nil
	OmitUsage    bool   // report no usage at all (some servers do not when streaming)

	// Streaming only.
	ChunkRunes int           // content runes per SSE chunk; 0: 24
	ChunkDelay time.Duration // pause before each content chunk

	// Failure injection, in runes of content sent before it happens.
	// For a non-streaming request the reply is the JSON body instead and
	// CutAfter counts its bytes.
	CutAfter   int           // > 0: drop the connection abruptly after that much
	StallAfter int           // with Stall: go silent after that much (0: at once)
	Stall      time.Duration // how long to stay silent (until the client leaves)
	NoFinish   bool          // end the stream cleanly but with no finish reason and no [DONE]
	ErrorEvent string        // send this error event (vLLM style) after StallAfter runes
}

var seq atomic.Int64

// Reply answers content with finish reason "stop".
func Reply(content string) Step { return Answer(content, ReplyOptions{}) }

// Truncated answers content with finish reason "length", as a server does
// when the reply hit max_tokens.
func Truncated(content string) Step {
	return Answer(content, ReplyOptions{FinishReason: "length"})
}

// Cut sends the first n runes of content (n bytes of the body when not
// streaming) and drops the connection.
func Cut(content string, n int) Step {
	s := Answer(content, ReplyOptions{CutAfter: max(n, 1)})
	s.name = fmt.Sprintf("cut after %d", n)
	return s
}

// StallMidStream sends the first n runes of content and then stays silent
// for d (or until the client gives up). A non-streaming request stalls
// before any byte.
func StallMidStream(content string, n int, d time.Duration) Step {
	s := Answer(content, ReplyOptions{StallAfter: n, Stall: d})
	s.name = fmt.Sprintf("stall after %d for %s", n, d)
	return s
}

// EndEarly streams n runes of content and ends the response cleanly but
// without a finish reason or [DONE], as a crashed proxy might.
func EndEarly(content string, n int) Step {
	s := Answer(content, ReplyOptions{StallAfter: n, NoFinish: true})
	s.name = fmt.Sprintf("end early after %d", n)
	return s
}

// StreamError streams n runes of content and then an error event.
func StreamError(content string, n int, msg string) Step {
	s := Answer(content, ReplyOptions{StallAfter: n, ErrorEvent: msg})
	s.name = "stream error"
	return s
}

// Stall stays silent for d (or until the client gives up), then answers
// 504.
func Stall(d time.Duration) Step {
	return Step{name: fmt.Sprintf("stall %s", d), serve: func(w http.ResponseWriter, r *http.Request, req *Request) {
		sleepOrGone(r, d)
		writeError(w, http.StatusGatewayTimeout, "server_error", "llmtest: stalled")
	}}
}

// Status answers an HTTP error with the OpenAI error body; retryAfter, when
// not empty, is sent as the Retry-After header (seconds or an HTTP date).
func Status(code int, retryAfter, msg string) Step {
	return Step{name: fmt.Sprintf("HTTP %d", code), serve: func(w http.ResponseWriter, r *http.Request, req *Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		typ := "invalid_request_error"
		switch {
		case code == http.StatusTooManyRequests:
			typ = "rate_limit_exceeded"
		case code >= 500:
			typ = "server_error"
		}
		writeError(w, code, typ, msg)
	}}
}

// RateLimited answers 429 with Retry-After.
func RateLimited(retryAfter string) Step {
	return Status(http.StatusTooManyRequests, retryAfter, "Rate limit reached, please retry later")
}

// Unavailable answers 503 with Retry-After, as vLLM and proxies do when the
// engine is overloaded or loading.
func Unavailable(retryAfter string) Step {
	return Status(http.StatusServiceUnavailable, retryAfter, "The server is overloaded or not ready yet.")
}

// Func decides the step when the request arrives (for replies that depend
// on the prompt).
func Func(f func(Request) Step) Step {
	return Step{name: "func", serve: func(w http.ResponseWriter, r *http.Request, req *Request) {
		f(*req).serve(w, r, req)
	}}
}

// Forever makes step answer this and every later request; steps after it
// are never reached.
func Forever(step Step) Step {
	step.forever = true
	step.name = "forever " + step.name
	return step
}

// Answer answers content with the given options, streaming when the
// request asked for it.
func Answer(content string, o ReplyOptions) Step {
	return Step{name: "answer", serve: func(w http.ResponseWriter, r *http.Request, req *Request) {
		if o.FinishReason == "" {
			o.FinishReason = "stop"
		}
		if o.Model == "" {
			o.Model = req.Model
		}
		if o.ChunkRunes <= 0 {
			o.ChunkRunes = 24
		}
		u := o.Usage
		if u == nil {
			p := CountTokens(req.Prompt()) + 8*len(req.Messages)
			c := CountTokens(content)
			u = &Usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c}
		}
		id := fmt.Sprintf("chatcmpl-llmtest-%d", seq.Add(1))
		if req.Stream {
			serveStream(w, r, req, content, o, u, id)
		} else {
			serveJSON(w, r, content, o, u, id)
		}
	}}
}

func serveJSON(w http.ResponseWriter, r *http.Request, content string, o ReplyOptions, u *Usage, id string) {
	if o.Stall > 0 {
		sleepOrGone(r, o.Stall)
		if r.Context().Err() != nil {
			return
		}
	}
	body := map[string]any{
		"id": id, "object": "chat.completion", "created": time.Now().Unix(), "model": o.Model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content},
			"logprobs":      nil,
			"finish_reason": o.FinishReason,
		}},
	}
	if !o.OmitUsage {
		body["usage"] = u
	}
	raw, _ := json.Marshal(body)
	if o.CutAfter > 0 && o.CutAfter < len(raw) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(raw[:o.CutAfter])
		hangUp(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
}

func serveStream(w http.ResponseWriter, r *http.Request, req *Request, content string, o ReplyOptions, u *Usage, id string) {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	created := time.Now().Unix()
	send := func(v any) bool {
		raw, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", raw); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return r.Context().Err() == nil
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": o.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
		if req.IncludeUsage {
			c["usage"] = nil
		}
		return c
	}
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	runes := []rune(content)
	stopAt := -1 // rune count after which a failure is injected
	switch {
	case o.CutAfter > 0:
		stopAt = min(o.CutAfter, len(runes))
	case o.Stall > 0 || o.NoFinish || o.ErrorEvent != "":
		stopAt = min(o.StallAfter, len(runes))
	}
	end := len(runes)
	if stopAt >= 0 {
		end = stopAt
	}
	for i := 0; i < end; i += o.ChunkRunes {
		if o.ChunkDelay > 0 {
			sleepOrGone(r, o.ChunkDelay)
		}
		if !send(chunk(map[string]any{"content": string(runes[i:min(i+o.ChunkRunes, end)])}, nil)) {
			return
		}
	}
	switch {
	case o.CutAfter > 0:
		hangUp(w)
		return
	case o.ErrorEvent != "":
		send(map[string]any{"error": map[string]any{"message": o.ErrorEvent, "type": "server_error", "code": 500}})
		return
	case o.Stall > 0:
		sleepOrGone(r, o.Stall)
		return
	case o.NoFinish:
		return
	}
	if !send(chunk(map[string]any{}, o.FinishReason)) {
		return
	}
	if req.IncludeUsage && !o.OmitUsage {
		if !send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": o.Model, "choices": []any{}, "usage": u}) {
			return
		}
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}

// hangUp closes the connection under the response without finishing it:
// the client sees an unexpected EOF in the middle of the body.
func hangUp(w http.ResponseWriter) {
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("llmtest: response writer cannot hijack; cannot cut the connection")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}
