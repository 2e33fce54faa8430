package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// Config configures the OpenAI-compatible backend.
type Config struct {
	// BaseURL is the server's OpenAI API root, e.g. http://localhost:8000/v1
	// (vLLM), http://localhost:8080/v1 (llama.cpp server),
	// http://localhost:11434/v1 (Ollama).
	BaseURL string
	Model   string
	// APIKey is sent as a bearer token; empty: NNGPT_LLM_API_KEY, then
	// OPENAI_API_KEY; none at all is fine for local servers.
	APIKey string

	Temperature *float64 // nil: the server's default
	TopP        *float64 // nil: the server's default
	// MaxTokens is the reply budget sent as max_tokens and reserved in the
	// context budget. 0: DefaultMaxTokens.
	MaxTokens int
	// ContextLength is the model's context in tokens (prompt + reply).
	// 0: DefaultContextLength. Set it to the server's value (vLLM
	// --max-model-len, llama.cpp -c / --ctx-size, Ollama num_ctx).
	ContextLength int

	// RequestTimeout bounds one attempt, reply included. 0: 10 minutes.
	RequestTimeout time.Duration
	// StallTimeout bounds the silence of a streaming attempt: until the
	// first chunk and between chunks. 0: 2 minutes.
	StallTimeout time.Duration
	// MaxRetries is the number of retries after the first attempt for
	// transient failures; 0 means none (DefaultConfig sets 4).
	MaxRetries int
	// BackoffBase and BackoffMax shape the exponential wait used when the
	// server sends no Retry-After. 0: 1s and 30s.
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits; a server
	// asking for more fails the call at once. 0: 5 minutes.
	MaxRetryAfter time.Duration

	// Tokenizer chooses the token counter of the context budget:
	// "auto" (default: the server's /tokenize endpoint when it answers,
	// as llama.cpp server and vLLM do, else the estimate), "server" (the
	// endpoint or fail), "estimate" (never ask the server).
	Tokenizer string

	HTTPClient *http.Client
	Logger     *slog.Logger
	// Sleep waits between attempts; tests replace it. nil: a timer that
	// ends early when ctx does.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Defaults of Config.
const (
	DefaultMaxTokens      = 4096
	DefaultContextLength  = 16384
	DefaultRequestTimeout = 10 * time.Minute
	DefaultStallTimeout   = 2 * time.Minute
	DefaultMaxRetries     = 4
)

// DefaultConfig is a Config with retries on; the caller sets BaseURL and
// Model.
func DefaultConfig() Config {
	return Config{MaxRetries: DefaultMaxRetries, Tokenizer: "auto"}
}

// OpenAI is the backend for OpenAI-compatible chat-completions servers.
// openai-go's own retry loop is switched off (it honours Retry-After but
// not cut or stalled streams, and does not report attempts): retries are
// done here, for all transient failures alike.
type OpenAI struct {
	cfg      Config
	client   openai.Client
	endpoint string
	counter  TokenCounter
	sleep    func(context.Context, time.Duration) error
	log      *slog.Logger
	rnd      func() float64
}

// New checks cfg and returns the backend. It does not contact the server.
func New(cfg Config) (*OpenAI, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, errors.New("llm: no base URL: give the server's OpenAI API root, e.g. http://localhost:8000/v1")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llm: base URL %q is not an http(s) URL; give e.g. http://localhost:8000/v1", cfg.BaseURL)
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("llm: no model name: give the name the server serves (see GET <base URL>/models)")
	}
	for name, v := range map[string]*float64{"temperature": cfg.Temperature, "top_p": cfg.TopP} {
		if v != nil && (*v < 0 || *v > 2 || (name == "top_p" && *v > 1)) {
			return nil, fmt.Errorf("llm: %s %g is out of range (temperature 0..2, top_p 0..1)", name, *v)
		}
	}
	if cfg.MaxTokens < 0 || cfg.ContextLength < 0 || cfg.MaxRetries < 0 {
		return nil, fmt.Errorf("llm: max tokens %d, context length %d and max retries %d must not be negative", cfg.MaxTokens, cfg.ContextLength, cfg.MaxRetries)
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.ContextLength == 0 {
		cfg.ContextLength = DefaultContextLength
	}
	if cfg.MaxTokens >= cfg.ContextLength {
		return nil, fmt.Errorf("llm: max tokens %d leaves no room for a prompt in a context of %d tokens; lower llm.max_tokens or raise llm.context_length", cfg.MaxTokens, cfg.ContextLength)
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = time.Second
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = 5 * time.Minute
	}
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("NNGPT_LLM_API_KEY")
	}
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("OPENAI_API_KEY")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	base := strings.TrimRight(cfg.BaseURL, "/") + "/"
	o := &OpenAI{
		cfg:      cfg,
		endpoint: base + "chat/completions",
		sleep:    cfg.Sleep,
		log:      cfg.Logger,
		rnd:      defaultRand,
	}
	if o.sleep == nil {
		o.sleep = sleepCtx
	}
	opts := []option.RequestOption{
		option.WithBaseURL(base),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(0),
		// The SDK sends OpenAI-Organization/-Project headers from the
		// environment; a local server has no use for them.
		option.WithHeaderDel("OpenAI-Organization"),
		option.WithHeaderDel("OpenAI-Project"),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	} else {
		opts = append(opts, option.WithAPIKey(""))
	}
	o.client = openai.NewClient(opts...)
	switch cfg.Tokenizer {
	case "", "auto":
		o.counter = &serverTokenizer{url: rootURL(base) + "tokenize", model: cfg.Model, http: cfg.HTTPClient, fallback: true}
	case "server":
		o.counter = &serverTokenizer{url: rootURL(base) + "tokenize", model: cfg.Model, http: cfg.HTTPClient}
	case "estimate":
		o.counter = Estimator{}
	default:
		return nil, fmt.Errorf("llm: tokenizer %q: want auto, server or estimate", cfg.Tokenizer)
	}
	return o, nil
}

// Config returns the configuration in effect (defaults applied, API key
// blanked).
func (o *OpenAI) Config() Config {
	c := o.cfg
	if c.APIKey != "" {
		c.APIKey = "(set)"
	}
	return c
}

// Budget is the configured context budget with the server's tokenizer
// when it has one.
func (o *OpenAI) Budget() Budget {
	return Budget{ContextLength: o.cfg.ContextLength, ReplyTokens: o.cfg.MaxTokens, Counter: o.counter}
}

// Chat sends req, retrying transient failures.
func (o *OpenAI) Chat(ctx context.Context, req Request) (*Response, error) {
	if len(req.Messages) == 0 {
		return nil, errors.New("llm: chat request has no messages")
	}
	params := o.params(req)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		var (
			resp *Response
			aerr *Error
		)
		if req.Stream {
			resp, aerr = o.stream(ctx, params, req, attempt)
		} else {
			resp, aerr = o.once(ctx, params, attempt)
		}
		if aerr == nil {
			resp.Attempts = attempt
			resp.Duration = time.Since(start)
			est := estimateUsage(req.Messages, resp.Content)
			if resp.Usage == (Usage{}) {
				resp.Usage = est
			} else if resp.Usage.PromptTokens > 0 && resp.Usage.PromptTokens*2 < est.PromptTokens {
				resp.PromptCut = true
				o.log.Warn("the server counted far fewer prompt tokens than the prompt has: it probably cut the prompt to a shorter context",
					"server_prompt_tokens", resp.Usage.PromptTokens, "estimated", est.PromptTokens,
					"hint", "raise the server's context (Ollama: OLLAMA_CONTEXT_LENGTH or num_ctx; llama.cpp: -c) and set llm.context_length to it")
			}
			return resp, nil
		}
		if req.Stream && aerr.Kind == KindBadRequest && aerr.Err != nil && strings.Contains(aerr.Err.Error(), "stream_options") &&
			params.StreamOptions.IncludeUsage.Valid() {
			// An older server that rejects stream_options: ask again
			// without it (usage is then estimated unless it sends some).
			o.log.Info("llm server rejects stream_options; streaming without usage", "url", o.endpoint)
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
			attempt--
			continue
		}
		aerr.Attempts = attempt
		aerr.URL = o.endpoint
		if ctx.Err() != nil {
			aerr.Kind = KindCanceled
			aerr.Err = ctx.Err()
			return nil, aerr
		}
		if !aerr.Kind.retryable() || attempt > o.cfg.MaxRetries {
			return nil, aerr
		}
		wait := backoff(attempt, o.cfg.BackoffBase, o.cfg.BackoffMax, o.rnd)
		if aerr.RetryAfter > 0 || aerr.Kind == KindRateLimited || aerr.Kind == KindUnavailable {
			if aerr.RetryAfter > o.cfg.MaxRetryAfter {
				aerr.Err = fmt.Errorf("%w; the server asks to retry after %s, more than llm.max_retry_after (%s)", aerr.Err, aerr.RetryAfter, o.cfg.MaxRetryAfter)
				return nil, aerr
			}
			if aerr.RetryAfter > 0 {
				wait = aerr.RetryAfter
			}
		}
		o.log.Warn("llm call failed, retrying", "kind", aerr.Kind, "status", aerr.Status, "attempt", attempt, "wait", wait, "err", aerr.Err)
		if err := o.sleep(ctx, wait); err != nil {
			return nil, &Error{Kind: KindCanceled, Attempts: attempt, URL: o.endpoint, Err: err}
		}
	}
}

func (o *OpenAI) params(req Request) openai.ChatCompletionNewParams {
	msgs := make([]openai.ChatCompletionMessageParamUnion, 0, len(req.Messages))
	for _, m := range req.Messages {
		switch m.Role {
		case System:
			msgs = append(msgs, openai.SystemMessage(m.Content))
		case Assistant:
			msgs = append(msgs, openai.AssistantMessage(m.Content))
		default:
			msgs = append(msgs, openai.UserMessage(m.Content))
		}
	}
	p := openai.ChatCompletionNewParams{Messages: msgs, Model: o.cfg.Model}
	maxTok := req.MaxTokens
	if maxTok == 0 {
		maxTok = o.cfg.MaxTokens
	}
	// max_tokens, not max_completion_tokens: llama.cpp, vLLM and Ollama
	// all read it; hosted reasoning models are not the target.
	p.MaxTokens = openai.Int(int64(maxTok))
	if t := pick(req.Temperature, o.cfg.Temperature); t != nil {
		p.Temperature = openai.Float(*t)
	}
	if t := pick(req.TopP, o.cfg.TopP); t != nil {
		p.TopP = openai.Float(*t)
	}
	if req.Seed != nil {
		p.Seed = openai.Int(*req.Seed)
	}
	if req.Stream {
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	}
	return p
}

func pick(a, b *float64) *float64 {
	if a != nil {
		return a
	}
	return b
}

func (o *OpenAI) once(ctx context.Context, params openai.ChatCompletionNewParams, attempt int) (*Response, *Error) {
	actx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	cc, err := o.client.Chat.Completions.New(actx, params)
	if err != nil {
		return nil, o.classify(ctx, actx, err)
	}
	if len(cc.Choices) == 0 {
		return nil, &Error{Kind: KindBadResponse, Err: errors.New("the reply has no choices")}
	}
	ch := cc.Choices[0]
	r := &Response{ID: cc.ID, Model: cc.Model, Content: ch.Message.Content, FinishReason: ch.FinishReason}
	if cc.Usage.TotalTokens > 0 || cc.Usage.PromptTokens > 0 {
		r.Usage = Usage{PromptTokens: int(cc.Usage.PromptTokens), CompletionTokens: int(cc.Usage.CompletionTokens), TotalTokens: int(cc.Usage.TotalTokens)}
	}
	return r, nil
}

func (o *OpenAI) stream(ctx context.Context, params openai.ChatCompletionNewParams, req Request, attempt int) (*Response, *Error) {
	actx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	// The watchdog cancels the attempt when the server goes silent; every
	// chunk rearms it.
	var stalled atomic.Bool
	dog := time.AfterFunc(o.cfg.StallTimeout, func() { stalled.Store(true); cancel() })
	defer dog.Stop()

	start := time.Now()
	s := o.client.Chat.Completions.NewStreaming(actx, params)
	defer s.Close()
	var (
		b       strings.Builder
		r       = &Response{}
		chunks  int
		gotStop bool
	)
	for s.Next() {
		dog.Reset(o.cfg.StallTimeout)
		c := s.Current()
		if r.ID == "" {
			r.ID = c.ID
		}
		if c.Model != "" {
			r.Model = c.Model
		}
		if c.Usage.TotalTokens > 0 || c.Usage.PromptTokens > 0 {
			r.Usage = Usage{PromptTokens: int(c.Usage.PromptTokens), CompletionTokens: int(c.Usage.CompletionTokens), TotalTokens: int(c.Usage.TotalTokens)}
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				continue
			}
			if ch.FinishReason != "" {
				r.FinishReason = ch.FinishReason
				gotStop = true
			}
			if d := ch.Delta.Content; d != "" {
				b.WriteString(d)
				chunks++
				if req.OnProgress != nil {
					req.OnProgress(Progress{Attempt: attempt, Chunks: chunks, Chars: b.Len(), Elapsed: time.Since(start), Delta: d})
				}
			}
		}
	}
	if err := s.Err(); err != nil {
		if stalled.Load() && ctx.Err() == nil {
			return nil, &Error{Kind: KindStalled, Err: fmt.Errorf("no data for %s after %d chunks", o.cfg.StallTimeout, chunks)}
		}
		return nil, o.classify(ctx, actx, err)
	}
	if !gotStop {
		return nil, &Error{Kind: KindStreamCut, Err: fmt.Errorf("the stream ended after %d chunks (%d characters) without a finish reason", chunks, b.Len())}
	}
	r.Content = b.String()
	return r, nil
}

// classify turns an openai-go or transport error into an *Error.
func (o *OpenAI) classify(ctx, actx context.Context, err error) *Error {
	var apierr *openai.Error
	if errors.As(err, &apierr) {
		e := &Error{Status: apierr.StatusCode, Err: errors.New(apiMessage(apierr))}
		e.Kind = kindOfStatus(apierr.StatusCode, apierr.Message+" "+apierr.RawJSON())
		if apierr.Response != nil {
			if d, ok := ParseRetryAfter(apierr.Response.Header, time.Now()); ok {
				e.RetryAfter = d
			}
		}
		return e
	}
	if ctx.Err() != nil {
		return &Error{Kind: KindCanceled, Err: ctx.Err()}
	}
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: KindTimeout, Err: fmt.Errorf("no complete reply within %s", o.cfg.RequestTimeout)}
	}
	var nerr net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF"):
		// The connection dropped in the middle of the reply.
		return &Error{Kind: KindStreamCut, Err: err}
	case errors.As(err, &nerr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Kind: KindNetwork, Err: err}
	}
	var serr *ssestream.StreamError
	if errors.As(err, &serr) {
		// An error event in the stream (vLLM sends one when generation
		// fails server-side).
		return &Error{Kind: KindUnavailable, Err: err}
	}
	// JSON decode errors and the like: the body was not a chat completion.
	return &Error{Kind: KindBadResponse, Err: err}
}

func apiMessage(e *openai.Error) string {
	if e.Message != "" {
		return e.Message
	}
	if raw := strings.TrimSpace(e.RawJSON()); raw != "" && raw != "null" {
		return raw
	}
	return http.StatusText(e.StatusCode)
}

func estimateUsage(msgs []Message, reply string) Usage {
	p := PromptOverhead
	for _, m := range msgs {
		p += EstimateTokens(m.Content) + MessageOverhead
	}
	c := EstimateTokens(reply)
	return Usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c, Estimated: true}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rootURL strips a trailing /v1/ from base: llama.cpp and vLLM serve
// /tokenize at the server root.
func rootURL(base string) string {
	if r, ok := strings.CutSuffix(base, "v1/"); ok {
		return r
	}
	return base
}
