// Package dashboard is nngpt's web UI: a read-only view of a workspace's
// store (loops, candidates, the corpus, HPO studies, the block library)
// that updates live while `nngpt run` and `nngpt hpo` write to it from
// other processes.
//
// Pages are rendered on the server with html/template (every string from a
// model, an LLM or a log is escaped), charts are the report's own SVG plots
// or drawn by one small embedded script from JSON data blocks, and one
// change feed (a cheap probe of the store, not a poll of its tables) tells
// connected browsers over server-sent events when to refresh. Responses
// carry a Content-Security-Policy that allows only the embedded script, so
// even a string that slipped through escaping could not run.
package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nngpt/nngpt/store"
)

// Store is what the dashboard reads. It only calls read methods; open the
// store read-only (sqlite.OpenReadOnly) so that holds by construction.
type Store interface {
	store.Journal
	store.Corpus
	store.Runs
	store.HPO
	store.RAG
}

// ChangeSource is the change feed's probe: a number that changes whenever
// the store was written (sqlite.Changes: PRAGMA data_version). It must be
// cheap, since it is asked every Options.Poll.
type ChangeSource interface {
	Version(ctx context.Context) (int64, error)
}

// Lease is a loop's coordinator as the store records it: which process
// holds the loop and when it last said it is alive.
type Lease struct {
	Host      string
	PID       int
	Heartbeat time.Time
}

// Options configure a Server. Store is required.
type Options struct {
	Store Store
	// Changes drives live updates; nil: pages are served but never
	// refresh by themselves.
	Changes ChangeSource
	// Poll is how often the change feed asks Changes (default 1s).
	Poll time.Duration
	// WorkspaceDir is the workspace folder, where candidates/<code id>/
	// may hold an LLM candidate's prompt.txt and reply.txt.
	WorkspaceDir string
	// Token, when set, is required on every request (?token= once, then a
	// cookie; or Authorization: Bearer). Empty: requests must come to a
	// loopback host name (no DNS rebinding).
	Token string
	// Leases returns the lease of each loop that has one, by loop id; nil
	// while the store keeps none (then a running loop shows its last
	// activity instead of host and pid).
	Leases func(ctx context.Context) (map[string]Lease, error)
	// StaleAfter is how old a lease's heartbeat may be before its loop is
	// shown as stale (default 2 minutes).
	StaleAfter time.Duration
	// Preferences returns the operator weights the loop's generator uses
	// for its next cycle, computed from the journal (nil: evolve's learned
	// policy); an empty map: not shown.
	Preferences func(l store.Loop, rows []store.CandidateRow) map[string]float64
	Log         *slog.Logger
}

// Server serves the dashboard. Run its change feed with Run.
type Server struct {
	opt     Options
	tmpl    map[string]*template.Template
	feed    *feed
	journal journal
	corpus  corpusCache
	host    string // this machine, to tell a dead local coordinator
	mux     *http.ServeMux
	start   time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New checks the options and parses the templates.
func New(opt Options) (*Server, error) {
	if opt.Store == nil {
		return nil, errors.New("dashboard: no store")
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.StaleAfter <= 0 {
		opt.StaleAfter = 2 * time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Preferences == nil {
		opt.Preferences = evolvePreferences
	}
	s := &Server{opt: opt, feed: newFeed(opt.Changes, opt.Poll, opt.Log), start: time.Now()}
	s.host, _ = os.Hostname()
	var err error
	if s.tmpl, err = parseTemplates(template.FuncMap{"seq": s.feed.current}); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Run runs the change feed until ctx ends.
func (s *Server) Run(ctx context.Context) error { return s.feed.run(ctx) }

// Handler is the dashboard with its access checks and security headers.
func (s *Server) Handler() http.Handler { return s.guard(s.mux) }

func (s *Server) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	m.HandleFunc("GET /events", s.feed.serveSSE)
	m.HandleFunc("GET /{$}", s.page(s.loopsPage))
	m.HandleFunc("GET /compare", s.page(s.comparePage))
	m.HandleFunc("GET /loops/{id}", s.page(s.loopPage))
	m.HandleFunc("GET /loops/{id}/plot/{name}", s.loopPlot)
	m.HandleFunc("GET /candidates/{id}", s.page(s.candidatePage))
	m.HandleFunc("GET /candidates/{id}/curve.svg", s.candidateCurve)
	m.HandleFunc("GET /corpus", s.page(s.corpusPage))
	m.HandleFunc("GET /hpo", s.page(s.studiesPage))
	m.HandleFunc("GET /hpo/{name}", s.page(s.studyPage))
	m.HandleFunc("GET /rag", s.page(s.ragPage))
	m.HandleFunc("GET /rag/{name}", s.page(s.blockPage))
	s.mux = m
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache") // revalidate: a new build ships new files
		h.ServeHTTP(w, r)
	})
}

// csp allows the dashboard's own script, styles and images and nothing
// inline: an injected <script> or on* attribute cannot run.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const cookieName = "nngpt_dashboard_token"

// guard sets the security headers and enforces the token, or without one
// a loopback Host header.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if s.opt.Token == "" {
			if !loopbackHost(r.Host) {
				http.Error(w, fmt.Sprintf("dashboard: host %q refused: without an access token the dashboard answers only on localhost "+
					"(start it with --token to serve other hosts)", r.Host), http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if tok := r.URL.Query().Get("token"); tok != "" {
			if !s.tokenOK(tok) {
				http.Error(w, "dashboard: wrong access token: use the URL nngpt dashboard printed", http.StatusUnauthorized)
				return
			}
			// Trade the token in the URL for a cookie, so it leaves the
			// address bar and the history.
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			q := r.URL.Query()
			q.Del("token")
			u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		if c, err := r.Cookie(cookieName); err == nil && s.tokenOK(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.tokenOK(b) {
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "dashboard: access token required: open the URL nngpt dashboard printed (it ends in ?token=...)", http.StatusUnauthorized)
	})
}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.opt.Token)) == 1
}

// loopbackHost reports whether a Host header names this machine's loopback
// interface (localhost, 127.0.0.0/8, ::1), with or without a port.
func loopbackHost(hostport string) bool {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether a listen address (host:port) binds only the
// loopback interface. An empty host binds every interface: not loopback.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("address %q: %w (want host:port, e.g. 127.0.0.1:8080)", addr, err)
	}
	if host == "" {
		return false, nil
	}
	return loopbackHost(host), nil
}

// NewToken returns a random access token (128 bits, hex).
func NewToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pageFunc renders one page's data; a *httpError picks the status.
type pageFunc func(r *http.Request) (name string, data any, err error)

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// page wraps a pageFunc: it renders the named template into the layout,
// or an error page.
func (s *Server) page(f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, data, err := f(r)
		if err != nil {
			code := http.StatusInternalServerError
			var he *httpError
			if errors.As(err, &he) {
				code = he.code
			} else {
				s.opt.Log.Error("dashboard page", "path", r.URL.Path, "err", err)
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(code)
			s.tmpl["error"].ExecuteTemplate(w, "layout", map[string]any{"Title": http.StatusText(code), "Error": err.Error(), "Code": code})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := s.tmpl[name].ExecuteTemplate(w, "layout", data); err != nil {
			s.opt.Log.Error("dashboard render", "page", name, "err", err)
		}
	}
}

func svgResponse(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}
