package llmtest_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nngpt/nngpt/llm/llmtest"
)

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	res, err := http.Post(url+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestWireFormat(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply("héllo wörld"), llmtest.Reply("héllo wörld"))
	// Plain JSON.
	res := post(t, srv.URL, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	var cc struct {
		Object  string
		Model   string
		Choices []struct {
			Index        int
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&cc); err != nil {
		t.Fatal(err)
	}
	if cc.Object != "chat.completion" || cc.Model != "m" || len(cc.Choices) != 1 || cc.Choices[0].Message.Content != "héllo wörld" ||
		cc.Choices[0].Message.Role != "assistant" || cc.Choices[0].FinishReason != "stop" || cc.Usage.TotalTokens != cc.Usage.PromptTokens+cc.Usage.CompletionTokens {
		t.Errorf("completion %+v", cc)
	}
	// SSE.
	res = post(t, srv.URL, `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	var events []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			if !strings.HasPrefix(l, "data: ") {
				t.Fatalf("line %q is not an SSE data line", l)
			}
			events = append(events, strings.TrimPrefix(l, "data: "))
		}
	}
	if events[len(events)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %v", events)
	}
	var content strings.Builder
	var finish string
	var usageSeen bool
	for _, e := range events[:len(events)-1] {
		var ch struct {
			Object  string
			Choices []struct {
				Delta        struct{ Content string }
				FinishReason *string `json:"finish_reason"`
			}
			Usage *struct {
				TotalTokens int `json:"total_tokens"`
			}
		}
		if err := json.Unmarshal([]byte(e), &ch); err != nil {
			t.Fatalf("event %q: %v", e, err)
		}
		if ch.Object != "chat.completion.chunk" {
			t.Errorf("object %q", ch.Object)
		}
		for _, c := range ch.Choices {
			content.WriteString(c.Delta.Content)
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
		if ch.Usage != nil {
			usageSeen = len(ch.Choices) == 0 && ch.Usage.TotalTokens > 0
		}
	}
	if content.String() != "héllo wörld" || finish != "stop" || !usageSeen {
		t.Errorf("stream content %q finish %q usage chunk %v", content.String(), finish, usageSeen)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.RateLimited("3"), llmtest.Unavailable(""))
	for _, want := range []struct {
		code int
		ra   string
	}{{429, "3"}, {503, ""}} {
		res := post(t, srv.URL, `{"messages":[{"role":"user","content":"x"}]}`)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != want.code || res.Header.Get("Retry-After") != want.ra || !strings.Contains(string(body), `"error"`) {
			t.Errorf("status %d Retry-After %q body %s", res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
}

// recorder catches the server's test failures.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

func TestScriptControl(t *testing.T) {
	rec := &recorder{TB: t}
	srv := llmtest.NewServer(rec, llmtest.Func(func(r llmtest.Request) llmtest.Step {
		return llmtest.Reply("echo: " + r.Messages[0].Content)
	}))
	res := post(t, srv.URL, `{"messages":[{"role":"user","content":"ping"}]}`)
	if b, _ := io.ReadAll(res.Body); !strings.Contains(string(b), "echo: ping") {
		t.Errorf("func step: %s", b)
	}
	// Exhausted: 500 and a test failure.
	res = post(t, srv.URL, `{"messages":[{"role":"user","content":"x"}]}`)
	if res.StatusCode != 500 || len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "no step left") {
		t.Errorf("exhausted script: status %d errors %v", res.StatusCode, rec.errs)
	}
	srv.Add(llmtest.Forever(llmtest.Reply("again")))
	for range 3 {
		if res := post(t, srv.URL, `{"messages":[{"role":"user","content":"x"}]}`); res.StatusCode != 200 {
			t.Errorf("forever step: %d", res.StatusCode)
		}
	}
	if srv.Remaining() != 1 || len(srv.Requests()) != 5 {
		t.Errorf("remaining %d requests %d", srv.Remaining(), len(srv.Requests()))
	}
	// A bad body is refused like a real server would.
	if res := post(t, srv.URL, `{"messages":[]}`); res.StatusCode != 400 {
		t.Errorf("empty messages: %d", res.StatusCode)
	}
}
