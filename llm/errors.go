package llm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorKind classifies a failed call.
type ErrorKind string

const (
	KindRateLimited   ErrorKind = "rate_limited"   // 429
	KindUnavailable   ErrorKind = "unavailable"    // 5xx, 408, 409
	KindAuth          ErrorKind = "auth"           // 401, 403
	KindNotFound      ErrorKind = "not_found"      // 404: wrong base URL or model
	KindContextLength ErrorKind = "context_length" // the server says the prompt is too long
	KindBadRequest    ErrorKind = "bad_request"    // other 4xx
	KindTimeout       ErrorKind = "timeout"        // Config.RequestTimeout passed
	KindStalled       ErrorKind = "stalled"        // no chunk for Config.StallTimeout
	KindStreamCut     ErrorKind = "stream_cut"     // the stream ended without a finish reason
	KindNetwork       ErrorKind = "network"        // connection refused, reset, DNS
	KindBadResponse   ErrorKind = "bad_response"   // no choices, undecodable body
	KindCanceled      ErrorKind = "canceled"       // the caller's context ended
)

// retryable kinds are those a later attempt can fix.
func (k ErrorKind) retryable() bool {
	switch k {
	case KindRateLimited, KindUnavailable, KindTimeout, KindStalled, KindStreamCut, KindNetwork, KindBadResponse:
		return true
	}
	return false
}

// Error is a failed Chat call.
type Error struct {
	Kind     ErrorKind
	Status   int    // HTTP status, 0 when there was no response
	Attempts int    // attempts made
	URL      string // the endpoint called
	Err      error  // the last underlying error
	// RetryAfter is what the server asked for on the last attempt (0: none).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm %s", e.URL)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	fmt.Fprintf(&b, " (%s, %d attempt", e.Kind, e.Attempts)
	if e.Attempts != 1 {
		b.WriteString("s")
	}
	b.WriteString(")")
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if h := e.hint(); h != "" {
		b.WriteString("; ")
		b.WriteString(h)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) hint() string {
	switch e.Kind {
	case KindAuth:
		return "set the API key in NNGPT_LLM_API_KEY (or OPENAI_API_KEY)"
	case KindNotFound:
		return "check the base URL (OpenAI-compatible servers serve /v1/chat/completions: give the URL ending in /v1) and the model name the server knows"
	case KindContextLength:
		return "the server's context is shorter than configured: lower llm.context_length to the server's value"
	case KindRateLimited, KindUnavailable:
		return "the server is busy or down; retry later or raise llm.max_retries"
	case KindTimeout:
		return "raise llm.request_timeout for slow servers"
	case KindStalled:
		return "the server sent nothing for the stall timeout; raise llm.stall_timeout if it is slow to start (long prompt on CPU)"
	case KindNetwork:
		return "is the server running and the base URL right?"
	case KindStreamCut:
		return "the connection dropped mid-reply (server crash or proxy timeout?)"
	}
	return ""
}

// IsRetryable reports whether err is an *Error a later call could fix.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind.retryable()
}

// kindOfStatus maps an HTTP status and error body to a kind.
func kindOfStatus(status int, body string) ErrorKind {
	switch {
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status >= 500:
		return KindUnavailable
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return KindAuth
	case status == http.StatusNotFound:
		return KindNotFound
	}
	l := strings.ToLower(body)
	if strings.Contains(l, "context length") || strings.Contains(l, "context_length") || strings.Contains(l, "maximum context") ||
		strings.Contains(l, "too many tokens") || strings.Contains(l, "exceeds the available context") {
		return KindContextLength
	}
	return KindBadRequest
}

// ParseRetryAfter reads the wait a response asks for: Retry-After-Ms
// (milliseconds, sent by OpenAI), then Retry-After as delay-seconds
// (fractions accepted) or an HTTP date. ok is false when neither header is
// usable.
func ParseRetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && !math.IsInf(ms, 0) && !math.IsNaN(ms) {
			return durationOf(ms, time.Millisecond), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || math.IsNaN(s) {
			return 0, false
		}
		return durationOf(s, time.Second), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// durationOf converts without overflowing: anything beyond ~290 years is
// clamped, the caller's MaxRetryAfter refuses it anyway.
func durationOf(v float64, unit time.Duration) time.Duration {
	f := v * float64(unit)
	if f >= math.MaxInt64 || math.IsInf(f, 1) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(f)
}

// backoff is the exponential wait before retry number n (1-based) when the
// server gave no Retry-After: base * 2^(n-1) capped at max, with up to 25%
// jitter taken off so parallel generators do not retry in lockstep.
func backoff(n int, base, max time.Duration, rnd func() float64) time.Duration {
	d := float64(base) * math.Pow(2, float64(n-1))
	if d > float64(max) || math.IsInf(d, 0) {
		d = float64(max)
	}
	if rnd != nil {
		d -= d * 0.25 * rnd()
	}
	return time.Duration(d)
}

var defaultRand = rand.Float64
