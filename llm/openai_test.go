package llm_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/llm/llmtest"
)

// sleeps records the waits between attempts instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newClient(t *testing.T, srv *llmtest.Server, mod func(*llm.Config)) (*llm.OpenAI, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	cfg := llm.DefaultConfig()
	cfg.BaseURL = srv.URL
	cfg.Model = llmtest.Model
	cfg.Sleep = sl.sleep
	cfg.BackoffBase = time.Second
	if mod != nil {
		mod(&cfg)
	}
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

func userMsg(s string) []llm.Message {
	return []llm.Message{{Role: llm.System, Content: "You write PyTorch models."}, {Role: llm.User, Content: s}}
}

func TestChatPlainAndStream(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "sse"}[stream], func(t *testing.T) {
			t.Setenv("NNGPT_LLM_API_KEY", "sk-test-123")
			srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyGood.Text))
			temp, topP, seed := 0.7, 0.95, int64(42)
			c, _ := newClient(t, srv, func(c *llm.Config) { c.Temperature = &temp; c.TopP = &topP; c.MaxTokens = 1234 })
			var progress []llm.Progress
			resp, err := c.Chat(context.Background(), llm.Request{
				Messages: userMsg("make a net"), Stream: stream, Seed: &seed,
				OnProgress: func(p llm.Progress) { progress = append(progress, p) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != llmtest.ReplyGood.Text {
				t.Errorf("content differs:\n%q\nwant\n%q", resp.Content, llmtest.ReplyGood.Text)
			}
			if resp.FinishReason != "stop" || resp.Truncated() || resp.Attempts != 1 || resp.Model != llmtest.Model {
				t.Errorf("finish %q truncated %v attempts %d model %q", resp.FinishReason, resp.Truncated(), resp.Attempts, resp.Model)
			}
			wantCompletion := llmtest.CountTokens(llmtest.ReplyGood.Text)
			if resp.Usage.CompletionTokens != wantCompletion || resp.Usage.Estimated || resp.Usage.TotalTokens != resp.Usage.PromptTokens+wantCompletion {
				t.Errorf("usage %+v, want the server's (completion %d)", resp.Usage, wantCompletion)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Model != llmtest.Model || r.MaxTokens != 1234 || r.Temperature == nil || *r.Temperature != 0.7 ||
				r.TopP == nil || *r.TopP != 0.95 || r.Seed == nil || *r.Seed != 42 || r.Stream != stream || r.IncludeUsage != stream {
				t.Errorf("request sent %+v", r)
			}
			if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[1].Content != "make a net" {
				t.Errorf("messages sent %+v", r.Messages)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer sk-test-123" {
				t.Errorf("Authorization %q", got)
			}
			if stream {
				if len(progress) < 10 {
					t.Fatalf("%d progress calls for a %d-char reply", len(progress), len(resp.Content))
				}
				last := progress[len(progress)-1]
				if last.Chars != len(resp.Content) || last.Chunks != len(progress) || last.Attempt != 1 {
					t.Errorf("last progress %+v", last)
				}
			} else if len(progress) != 0 {
				t.Errorf("progress called %d times without streaming", len(progress))
			}
		})
	}
}

func TestAPIKeyFallback(t *testing.T) {
	tests := []struct{ nngpt, openai, want string }{
		{"a", "b", "Bearer a"},
		{"", "b", "Bearer b"},
		{"", "", ""},
	}
	for _, tc := range tests {
		t.Setenv("NNGPT_LLM_API_KEY", tc.nngpt)
		t.Setenv("OPENAI_API_KEY", tc.openai)
		srv := llmtest.NewServer(t, llmtest.Reply("ok"))
		c, _ := newClient(t, srv, nil)
		if _, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi")}); err != nil {
			t.Fatal(err)
		}
		if got := srv.Requests()[0].Header.Get("Authorization"); got != tc.want {
			t.Errorf("keys %q/%q: Authorization %q, want %q", tc.nngpt, tc.openai, got, tc.want)
		}
	}
}

func TestUsageEstimatedWhenServerOmitsIt(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Answer("hello world", llmtest.ReplyOptions{OmitUsage: true}))
	c, _ := newClient(t, srv, nil)
	resp, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi"), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Usage.Estimated || resp.Usage.CompletionTokens != llm.EstimateTokens("hello world") {
		t.Errorf("usage %+v, want an estimate", resp.Usage)
	}
}

func TestRetries(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		steps      []llmtest.Step
		stream     bool
		maxRetries int
		wantErr    llm.ErrorKind // "" : success
		attempts   int
		waits      []time.Duration // exact waits; nil: not checked
		waitNear   time.Duration   // for HTTP-date waits
	}{
		{name: "429 Retry-After seconds", steps: []llmtest.Step{llmtest.RateLimited("7"), llmtest.Reply("ok")}, maxRetries: 2, attempts: 2, waits: []time.Duration{7 * time.Second}},
		{name: "429 on a streaming request", steps: []llmtest.Step{llmtest.RateLimited("2"), llmtest.Reply("ok")}, stream: true, maxRetries: 1, attempts: 2, waits: []time.Duration{2 * time.Second}},
		{name: "503 Retry-After fraction", steps: []llmtest.Step{llmtest.Unavailable("0.25"), llmtest.Reply("ok")}, maxRetries: 2, attempts: 2, waits: []time.Duration{250 * time.Millisecond}},
		{name: "503 Retry-After date", steps: []llmtest.Step{llmtest.Unavailable(date), llmtest.Reply("ok")}, maxRetries: 2, attempts: 2, waitNear: 90 * time.Second},
		{name: "503 no header: exponential backoff", steps: []llmtest.Step{llmtest.Unavailable(""), llmtest.Status(502, "", "bad gateway"), llmtest.Status(500, "", "oops"), llmtest.Reply("ok")}, maxRetries: 3, attempts: 4, waits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{name: "exhausted", steps: []llmtest.Step{llmtest.Unavailable("1"), llmtest.Unavailable("1"), llmtest.Unavailable("1")}, maxRetries: 2, wantErr: llm.KindUnavailable, attempts: 3, waits: []time.Duration{time.Second, time.Second}},
		{name: "no retries configured", steps: []llmtest.Step{llmtest.RateLimited("1")}, maxRetries: 0, wantErr: llm.KindRateLimited, attempts: 1},
		{name: "Retry-After beyond the limit fails at once", steps: []llmtest.Step{llmtest.RateLimited("3600")}, maxRetries: 3, wantErr: llm.KindRateLimited, attempts: 1},
		{name: "401 not retried", steps: []llmtest.Step{llmtest.Status(401, "", "Incorrect API key provided")}, maxRetries: 3, wantErr: llm.KindAuth, attempts: 1},
		{name: "context length 400 not retried", steps: []llmtest.Step{llmtest.Status(400, "", "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.")}, maxRetries: 3, wantErr: llm.KindContextLength, attempts: 1},
		{name: "cut stream retried", steps: []llmtest.Step{llmtest.Cut(llmtest.ReplyGood.Text, 100), llmtest.Reply("ok")}, stream: true, maxRetries: 1, attempts: 2, waits: []time.Duration{time.Second}},
		{name: "cut body retried", steps: []llmtest.Step{llmtest.Cut(llmtest.ReplyGood.Text, 100), llmtest.Reply("ok")}, maxRetries: 1, attempts: 2},
		{name: "stream ended without finish", steps: []llmtest.Step{llmtest.EndEarly(llmtest.ReplyGood.Text, 50), llmtest.EndEarly(llmtest.ReplyGood.Text, 50)}, stream: true, maxRetries: 1, wantErr: llm.KindStreamCut, attempts: 2},
		{name: "error event in stream", steps: []llmtest.Step{llmtest.StreamError("abc", 2, "CUDA out of memory"), llmtest.Reply("ok")}, stream: true, maxRetries: 1, attempts: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tc.steps...)
			c, sl := newClient(t, srv, func(c *llm.Config) { c.MaxRetries = tc.maxRetries; c.MaxRetryAfter = 5 * time.Minute })
			llm.SetJitter(c, func() float64 { return 0 })
			resp, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi"), Stream: tc.stream})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if resp.Content != "ok" || resp.Attempts != tc.attempts {
					t.Errorf("content %q attempts %d, want ok and %d", resp.Content, resp.Attempts, tc.attempts)
				}
			} else {
				var e *llm.Error
				if !errors.As(err, &e) {
					t.Fatalf("error %v (%T), want *llm.Error", err, err)
				}
				if e.Kind != tc.wantErr || e.Attempts != tc.attempts {
					t.Errorf("kind %s attempts %d, want %s and %d: %v", e.Kind, e.Attempts, tc.wantErr, tc.attempts, err)
				}
			}
			if got := len(srv.Requests()); got != tc.attempts {
				t.Errorf("server saw %d requests, want %d", got, tc.attempts)
			}
			if tc.waits != nil && !equalDurations(sl.d, tc.waits) {
				t.Errorf("waits %v, want %v", sl.d, tc.waits)
			}
			if tc.waitNear != 0 && (len(sl.d) != 1 || sl.d[0] < tc.waitNear-5*time.Second || sl.d[0] > tc.waitNear) {
				t.Errorf("waits %v, want one near %s", sl.d, tc.waitNear)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestErrorMessagesSayWhatToDo(t *testing.T) {
	tests := []struct {
		step llmtest.Step
		want string
	}{
		{llmtest.Status(401, "", "bad key"), "NNGPT_LLM_API_KEY"},
		{llmtest.Status(400, "", "maximum context length is 2048 tokens"), "llm.context_length"},
		{llmtest.RateLimited("3600"), "llm.max_retry_after"},
	}
	for _, tc := range tests {
		srv := llmtest.NewServer(t, tc.step)
		c, _ := newClient(t, srv, nil)
		_, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi")})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.step, err, tc.want)
		}
	}
}

func TestWrongBaseURLIsNotFound(t *testing.T) {
	srv := llmtest.NewServer(t)
	cfg := llm.DefaultConfig()
	cfg.BaseURL = srv.Root // missing /v1
	cfg.Model = "m"
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Chat(context.Background(), llm.Request{Messages: userMsg("hi")})
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindNotFound || !strings.Contains(err.Error(), "/v1") {
		t.Errorf("error %v, want not_found with a hint about /v1", err)
	}
}

func TestStallIsDetectedAndRetried(t *testing.T) {
	srv := llmtest.NewServer(t,
		llmtest.StallMidStream(llmtest.ReplyGood.Text, 40, time.Minute),
		llmtest.Reply("ok"))
	c, _ := newClient(t, srv, func(c *llm.Config) { c.StallTimeout = 150 * time.Millisecond; c.MaxRetries = 1 })
	var attempts []int
	resp, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi"), Stream: true,
		OnProgress: func(p llm.Progress) { attempts = append(attempts, p.Attempt) }})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "ok" || resp.Attempts != 2 {
		t.Errorf("content %q attempts %d", resp.Content, resp.Attempts)
	}
	if len(attempts) < 2 || attempts[0] != 1 || attempts[len(attempts)-1] != 2 {
		t.Errorf("progress attempts %v, want chunks of attempt 1 then 2", attempts)
	}
}

func TestStallWithoutRetryFails(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.StallMidStream("abc", 0, time.Minute))
	c, _ := newClient(t, srv, func(c *llm.Config) { c.StallTimeout = 100 * time.Millisecond; c.MaxRetries = 0 })
	_, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi"), Stream: true})
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindStalled {
		t.Errorf("error %v, want stalled", err)
	}
}

func TestRequestTimeout(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Stall(time.Minute))
	c, _ := newClient(t, srv, func(c *llm.Config) { c.RequestTimeout = 100 * time.Millisecond; c.MaxRetries = 0 })
	_, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi")})
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindTimeout {
		t.Errorf("error %v, want timeout", err)
	}
}

func TestCancelDuringRetryWait(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.RateLimited("30"))
	c, _ := newClient(t, srv, func(c *llm.Config) { c.Sleep = nil; c.MaxRetries = 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Chat(ctx, llm.Request{Messages: userMsg("hi")})
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindCanceled || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want canceled wrapping the deadline", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the retry wait ignored the context")
	}
}

func TestTruncatedReplyIsNotAnError(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Truncated(llmtest.ReplyTruncated.Text))
	c, _ := newClient(t, srv, nil)
	resp, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi"), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Truncated() || resp.Content != llmtest.ReplyTruncated.Text {
		t.Errorf("truncated %v, content %d chars", resp.Truncated(), len(resp.Content))
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	neg, big := -0.5, 1.5
	tests := []struct {
		name string
		cfg  llm.Config
		want string
	}{
		{"no url", llm.Config{Model: "m"}, "no base URL"},
		{"not http", llm.Config{BaseURL: "localhost:8000", Model: "m"}, "not an http(s) URL"},
		{"no model", llm.Config{BaseURL: "http://x/v1"}, "no model"},
		{"temperature", llm.Config{BaseURL: "http://x/v1", Model: "m", Temperature: &neg}, "temperature"},
		{"top_p", llm.Config{BaseURL: "http://x/v1", Model: "m", TopP: &big}, "top_p"},
		{"reply fills context", llm.Config{BaseURL: "http://x/v1", Model: "m", MaxTokens: 4096, ContextLength: 4096}, "no room"},
		{"tokenizer", llm.Config{BaseURL: "http://x/v1", Model: "m", Tokenizer: "tiktoken"}, "tokenizer"},
	}
	for _, tc := range tests {
		_, err := llm.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestPromptCutIsFlagged(t *testing.T) {
	long := strings.Repeat("conv bn relu ", 2000) // ~8700 tokens estimated
	srv := llmtest.NewServer(t,
		llmtest.Answer("ok", llmtest.ReplyOptions{Usage: &llmtest.Usage{PromptTokens: 2048, CompletionTokens: 1, TotalTokens: 2049}}),
		llmtest.Reply("ok"))
	c, _ := newClient(t, srv, nil)
	for i, want := range []bool{true, false} {
		resp, err := c.Chat(context.Background(), llm.Request{Messages: userMsg(long)})
		if err != nil {
			t.Fatal(err)
		}
		if resp.PromptCut != want {
			t.Errorf("call %d: prompt cut %v, want %v (usage %+v)", i, resp.PromptCut, want, resp.Usage)
		}
	}
}

func TestServerWithoutStreamOptions(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Status(400, "", "Unrecognized request argument supplied: stream_options"), llmtest.Reply("ok"))
	c, _ := newClient(t, srv, func(c *llm.Config) { c.MaxRetries = 0 })
	resp, err := c.Chat(context.Background(), llm.Request{Messages: userMsg("hi"), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if resp.Content != "ok" || resp.Attempts != 1 || len(reqs) != 2 || !reqs[0].IncludeUsage || reqs[1].IncludeUsage || strings.Contains(string(reqs[1].Body), "stream_options") {
		t.Errorf("content %q attempts %d; requests %d, include_usage %v then %v", resp.Content, resp.Attempts, len(reqs), reqs[0].IncludeUsage, reqs[1].IncludeUsage)
	}
}
