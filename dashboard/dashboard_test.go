package dashboard

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
)

// hostile is what a malicious model, LLM reply or log could hold.
const hostile = `</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">`

const seedCode = "import torch\nimport torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.c = nn.Conv2d(3, 16, 3)\n\n    def forward(self, x):\n        return self.c(x)\n"

// fixture is a workspace store with one finished loop (a hostile
// candidate among its rows), one running loop, an HPO study, a block and
// corpus rows.
type fixture struct {
	db   *sqlite.DB
	loop string
	live string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "nngpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, loop: "20261203-100000-aaaa", live: "20261203-110000-bbbb"}
	if _, err := db.PutCode(ctx, store.Code{Kind: store.KindNN, Name: "seed", Code: seedCode, ID: lemur.CodeID(seedCode)}); err != nil {
		t.Fatal(err)
	}
	cfg := `{"Cycles":2,"Candidates":3,"Epochs":2,"Dataset":"shapes","Task":"img-classification","Metric":"acc","Generator":"evolve"}`
	for _, l := range []store.Loop{
		{ID: f.loop, Status: "done", Config: cfg, Seed: 7, Cycles: 2, CycleDone: 2},
		{ID: f.live, Status: "running", Config: cfg, Seed: 8, Cycles: 2, CycleDone: 0},
	} {
		if err := db.PutLoop(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	pipe := lemur.Pipeline{Task: "img-classification", Dataset: "shapes", Metric: "acc"}
	prm := lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "momentum", Value: 0.9}, {Key: "batch", Value: int64(32)}, {Key: "transform", Value: "norm"}}
	child := strings.Replace(seedCode, "16", "32", 1)
	rows := []store.CandidateRow{
		{ID: f.loop + "-c01-00", Cycle: 1, Index: 0, State: store.StateDone, Name: "evolve-aaaa", Code: child, Parents: []string{"seed"},
			Operators: []string{"width:16->32"}, Epochs: []float64{0.4, 0.61}, Durations: []int64{1e9, 2e9}, Params: 4200, Duration: 2e9, Admitted: true},
		{ID: f.loop + "-c01-01", Cycle: 1, Index: 1, State: store.StateRejected, Name: "evolve-" + hostile, Code: "x = '" + hostile + "'",
			Parents: []string{"seed"}, Reason: "syntax " + hostile, Detail: "line 1: " + hostile, Operators: []string{hostile}},
		{ID: f.loop + "-c01-02", Cycle: 1, Index: 2, State: store.StatePruned, Name: "evolve-cccc", Code: seedCode + "# pruned\n", Parents: []string{"seed"},
			Epochs: []float64{0.1}, Params: 900, Duration: 1e9, Reason: "predicted_below_bar"},
		{ID: f.loop + "-c02-00", Cycle: 2, Index: 0, State: store.StateDone, Name: "evolve-dddd", Code: child + "# more\n", Parents: []string{"evolve-aaaa"},
			Operators: []string{"dropout:insert"}, Epochs: []float64{0.5, 0.7}, Params: 5100, Duration: 3e9, Admitted: true},
		{ID: f.live + "-c01-00", Cycle: 1, Index: 0, State: store.StateRunning, Name: "evolve-eeee", Code: child, Parents: []string{"seed"}, Epochs: []float64{0.3}},
	}
	for _, r := range rows {
		r.LoopID = f.loop
		if strings.HasPrefix(r.ID, f.live) {
			r.LoopID = f.live
		}
		r.Generator = "evolve"
		r.Pipeline = pipe
		r.Pipeline.NN = r.Name
		r.Prm = prm
		r.CodeID = lemur.CodeID(r.Code)
		r.Repro = `{"seed":1,"note":"` + strings.ReplaceAll(hostile, `"`, `\"`) + `"}`
		if err := db.PutCandidate(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Admitted {
			p := pipe
			p.NN = r.Name
			var recs []lemur.Record
			for i, a := range r.Epochs {
				recs = append(recs, lemur.NewRecord(p, i+1, a, nil, prm))
			}
			if _, err := db.AddStats(ctx, recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := time.Now().UTC()
	if err := db.PutRun(ctx, store.Run{ID: "run-1", Origin: "loop", NN: "evolve-" + hostile, Status: "failed", Stage: "build",
		FailureKind: "build", FailureMessage: hostile, LogTail: "Traceback\n" + hostile, StartedAt: now, FinishedAt: now}); err != nil {
		t.Fatal(err)
	}
	sp, err := hpo.NewSpace(hpo.Param{Name: "lr", Kind: hpo.Float, Low: 1e-4, High: 1, Log: true},
		hpo.Param{Name: "transform", Kind: hpo.Categorical, Choices: []string{"echo", "norm"}})
	if err != nil {
		t.Fatal(err)
	}
	st := hpo.StoreStorage{S: db}
	if _, _, err := st.CreateStudy(ctx, hpo.StudyInfo{Name: "study-" + hostile, Direction: hpo.Maximize, Space: sp, Sampler: "tpe", Seed: 1,
		Attrs: map[string]string{"model": hostile}}); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		lr := 1e-4 * float64(i+1)
		tr := hpo.Trial{State: hpo.Complete, Params: lemur.Dict{{Key: "lr", Value: lr}, {Key: "transform", Value: []string{"echo", "norm"}[i%2]}},
			Value: 0.3 + float64(i)*0.02, Intermediate: []hpo.Step{{Step: 1, Value: 0.2}, {Step: 2, Value: 0.3 + float64(i)*0.02}},
			Source: "tpe", Started: now, Finished: now.Add(time.Second)}
		if i == 3 {
			tr.State, tr.Note, tr.Value = hpo.Pruned, "pruned "+hostile, 0.2
		}
		if _, err := st.AddTrial(ctx, "study-"+hostile, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutBlock(ctx, store.RAGBlock{Name: "mod.Block", Class: "Block", Module: "mod", Code: "class Block:\n    '''" + hostile + "'''\n",
		ID: "x", Repo: "repo", Level: 2, Input: "Block() on 2x3x8x8", Error: hostile, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return f
}

// counter is a ChangeSource a test moves by hand.
type counter struct{ v atomic.Int64 }

func (c *counter) Version(context.Context) (int64, error) { return c.v.Load(), nil }

func newServer(t testing.TB, f *fixture, opt Options) *Server {
	t.Helper()
	opt.Store = f.db
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t testing.TB, h http.Handler, target string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "127.0.0.1:8080"
	for _, m := range mod {
		m(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPages(t *testing.T) {
	f := newFixture(t)
	h := newServer(t, f, Options{Preferences: func(store.Loop, []store.CandidateRow) map[string]float64 {
		return map[string]float64{"width": 2, "conv": 1}
	}}).Handler()
	study := "/hpo/" + url.PathEscape("study-"+hostile)
	for _, tc := range []struct {
		path string
		code int
		want []string
	}{
		{"/", 200, []string{f.loop, f.live, "running", "evolve-dddd", "0.7000"}},
		{"/loops/" + f.loop, 200, []string{"Candidates", "evolve-aaaa", "predicted_below_bar", "Generator preferences", "width", `id="loop-data"`}},
		{"/loops/" + f.loop + "?state=done&sort=acc&dir=desc", 200, []string{"evolve-dddd", "2 of 4"}},
		{"/loops/" + f.loop + "?q=dropout", 200, []string{"1 of 4"}},
		{"/loops/" + f.loop + "?min_acc=0.65", 200, []string{"1 of 4"}},
		{"/loops/" + f.loop + "?sort=bogus", 400, []string{"sort"}},
		{"/loops/" + f.loop + "?min_acc=7", 400, []string{"min_acc"}},
		{"/loops/" + f.live, 200, []string{"Training now", "evolve-eeee", "1/2"}},
		{"/loops/nope", 404, []string{"no loop"}},
		{"/loops/" + f.loop + "/plot/outcomes_per_cycle.svg", 200, []string{"<svg"}},
		{"/loops/" + f.loop + "/plot/nope.svg", 400, []string{"no plot"}},
		{"/candidates/" + f.loop + "-c02-00", 200, []string{"evolve-dddd", "diff", "# more", "dropout:insert", "In the corpus", "0.7000"}},
		{"/candidates/" + f.loop + "-c01-00", 200, []string{"(corpus)", "Conv2d(3, 32, 3)", "Children"}},
		{"/candidates/" + f.loop + "-c01-01", 200, []string{"Log tail", "Traceback", "rejected"}},
		{"/candidates/" + f.loop + "-c02-00/curve.svg", 200, []string{"<svg"}},
		{"/candidates/" + f.loop + "-c09-09", 404, []string{"no candidate"}},
		{"/candidates/garbage", 404, []string{"not a candidate id"}},
		{"/corpus", 200, []string{"evolve-dddd", "shapes", "best per dataset first"}},
		{"/corpus?all=1&sort=acc", 200, []string{"4 rows"}},
		{"/corpus?epoch=x", 400, []string{"epoch"}},
		{"/hpo", 200, []string{"tpe", "complete 11", "pruned 1"}},
		{study, 200, []string{"Parameter importance", "lr", `id="study-data"`, "Parallel coordinates"}},
		{"/hpo/nope", 404, []string{"no HPO study"}},
		{"/rag", 200, []string{"mod.Block", "level 2"}},
		{"/rag?min_level=3", 400, []string{"min_level"}},
		{"/rag/mod.Block", 200, []string{"class Block"}},
		{"/compare?a=" + f.loop + "&b=" + f.live, 200, []string{"Settings", "Top admitted", `id="compare-data"`}},
		{"/compare", 200, []string{"Pick two loops"}},
		{"/static/app.js", 200, []string{"EventSource"}},
	} {
		w := get(t, h, tc.path)
		body := w.Body.String()
		if w.Code != tc.code {
			t.Errorf("%s: status %d, want %d\n%s", tc.path, w.Code, tc.code, firstN(body, 400))
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(body, s) {
				t.Errorf("%s: body lacks %q", tc.path, s)
			}
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
	}
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// TestHostileEscaped checks that no page carries a store string as markup.
func TestHostileEscaped(t *testing.T) {
	f := newFixture(t)
	h := newServer(t, f, Options{}).Handler()
	for _, path := range []string{"/", "/loops/" + f.loop, "/loops/" + f.loop + "?q=" + url.QueryEscape("<script>"),
		"/candidates/" + f.loop + "-c01-01", "/compare?a=" + f.loop + "&b=" + f.live, "/corpus",
		"/hpo", "/hpo/" + url.PathEscape("study-"+hostile), "/rag", "/rag/mod.Block"} {
		w := get(t, h, path)
		if w.Code != 200 {
			t.Fatalf("%s: status %d: %s", path, w.Code, firstN(w.Body.String(), 300))
		}
		body := w.Body.String()
		for _, raw := range []string{"<script>window.pwned", "<img src=x", "onerror=\"window"} {
			if strings.Contains(body, raw) {
				i := strings.Index(body, raw)
				t.Errorf("%s: raw %q in the page: …%s…", path, raw, body[max(0, i-80):min(len(body), i+80)])
			}
		}
	}
	// The hostile strings are there, escaped: shown, not dropped.
	body := get(t, h, "/candidates/"+f.loop+"-c01-01").Body.String()
	if !strings.Contains(body, "&lt;/script&gt;&lt;script&gt;window.pwned=1") {
		t.Error("the candidate page does not show the hostile detail escaped")
	}
	if body := get(t, h, "/loops/"+f.loop).Body.String(); !strings.Contains(body, `\u003c/script\u003e`) {
		t.Error("the loop page's chart data does not carry the hostile name JSON-escaped")
	}
}

func TestAccess(t *testing.T) {
	f := newFixture(t)
	open := newServer(t, f, Options{}).Handler()
	for _, tc := range []struct {
		host string
		code int
	}{
		{"127.0.0.1:8080", 200}, {"localhost:8080", 200}, {"[::1]:8080", 200},
		{"evil.example:8080", 403}, {"10.0.0.5:8080", 403},
	} {
		if w := get(t, open, "/", func(r *http.Request) { r.Host = tc.host }); w.Code != tc.code {
			t.Errorf("no token, host %s: status %d, want %d", tc.host, w.Code, tc.code)
		}
	}
	tok := NewToken()
	h := newServer(t, f, Options{Token: tok}).Handler()
	remote := func(r *http.Request) { r.Host = "10.0.0.5:8080" }
	if w := get(t, h, "/", remote); w.Code != 401 || !strings.Contains(w.Body.String(), "token") {
		t.Fatalf("no token: status %d %q", w.Code, w.Body.String())
	}
	if w := get(t, h, "/events", remote); w.Code != 401 {
		t.Fatalf("events without token: status %d", w.Code)
	}
	if w := get(t, h, "/?token=wrong", remote); w.Code != 401 {
		t.Fatalf("wrong token: status %d", w.Code)
	}
	w := get(t, h, "/corpus?token="+tok+"&dataset=shapes", remote)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/corpus?dataset=shapes" {
		t.Fatalf("token in URL: status %d location %q", w.Code, w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].Value != tok {
		t.Fatalf("cookie %+v", cookies)
	}
	if w := get(t, h, "/", remote, func(r *http.Request) { r.AddCookie(cookies[0]) }); w.Code != 200 {
		t.Fatalf("with cookie: status %d", w.Code)
	}
	if w := get(t, h, "/", remote, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }); w.Code != 200 {
		t.Fatalf("with bearer: status %d", w.Code)
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
		err  bool
	}{
		{"127.0.0.1:8080", true, false}, {"localhost:80", true, false}, {"[::1]:8080", true, false},
		{":8080", false, false}, {"0.0.0.0:8080", false, false}, {"192.168.1.2:8080", false, false}, {"8080", false, true},
	} {
		got, err := IsLoopback(tc.addr)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("IsLoopback(%q) = %v, %v; want %v, error %v", tc.addr, got, err, tc.want, tc.err)
		}
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	c := &counter{}
	s := newServer(t, f, Options{Changes: c, Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- ev
			}
		}
		close(events)
	}()
	next := func() string {
		select {
		case ev := <-events:
			return ev
		case <-time.After(5 * time.Second):
			return "(timeout)"
		}
	}
	if ev := next(); ev != "hello" {
		t.Fatalf("first event %q, want hello", ev)
	}
	for s.feed.clients() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case ev := <-events:
		t.Fatalf("event %q with no change", ev)
	case <-time.After(100 * time.Millisecond):
	}
	c.v.Add(1)
	if ev := next(); ev != "change" {
		t.Fatalf("after a write: event %q, want change", ev)
	}
}

func TestDiffLines(t *testing.T) {
	long := ""
	for i := range 20 {
		long += fmt.Sprintf("line %d\n", i)
	}
	for _, tc := range []struct {
		name, a, b string
		want       string // ops, one byte per line
	}{
		{"same", "a\nb\n", "a\nb\n", "~"},
		{"add", "a\nc\n", "a\nb\nc\n", " + "},
		{"remove", "a\nb\nc\n", "a\nc\n", " - "},
		{"replace", "a\nb\n", "a\nx\n", " -+"},
		{"empty old", "", "a\n", "+"},
		{"fold", long, strings.Replace(long, "line 10\n", "line ten\n", 1), "~   -+   ~"},
	} {
		var ops []byte
		for _, d := range diffLines(tc.a, tc.b) {
			ops = append(ops, d.Op)
		}
		if string(ops) != tc.want {
			t.Errorf("%s: ops %q, want %q", tc.name, ops, tc.want)
		}
	}
}

func TestParamImportance(t *testing.T) {
	sp, err := hpo.NewSpace(hpo.Param{Name: "lr", Kind: hpo.Float, Low: 0, High: 1}, hpo.Param{Name: "noise", Kind: hpo.Float, Low: 0, High: 1})
	if err != nil {
		t.Fatal(err)
	}
	var ts []hpo.Trial
	for i := range 60 {
		lr := float64(i) / 60
		noise := float64((i*37)%60) / 60
		ts = append(ts, hpo.Trial{State: hpo.Complete, Value: lr * lr, Params: lemur.Dict{{Key: "lr", Value: lr}, {Key: "noise", Value: noise}}})
	}
	imp := paramImportance(sp, ts)
	if len(imp) != 2 || imp[0].Name != "lr" || imp[0].Share < 80 {
		t.Fatalf("importance %+v: want lr first with most of the share", imp)
	}
	if got := paramImportance(sp, ts[:3]); got != nil {
		t.Fatalf("3 trials: %+v, want none", got)
	}
}

func TestLineageCut(t *testing.T) {
	var cs []store.CandidateRow
	for i := range 50 {
		parent := "seed"
		if i > 0 {
			parent = fmt.Sprintf("m%d", i-1)
		}
		cs = append(cs, store.CandidateRow{ID: fmt.Sprintf("L-c%02d-00", i+1), Cycle: i + 1, Name: fmt.Sprintf("m%d", i), State: store.StateDone,
			Parents: []string{parent}, Epochs: []float64{float64(i) / 100}})
	}
	full := lineageOf(cs, 100)
	if full.Cut || len(full.Nodes) != 51 || len(full.Edges) != 50 {
		t.Fatalf("full tree: cut %v, %d nodes, %d edges; want 51 and 50", full.Cut, len(full.Nodes), len(full.Edges))
	}
	cut := lineageOf(cs, 10)
	if !cut.Cut || len(cut.Nodes) != 10 {
		t.Fatalf("cut tree: cut %v, %d nodes; want the best one's 10 ancestors", cut.Cut, len(cut.Nodes))
	}
	if cut.Nodes[len(cut.Nodes)-1].Name != "m49" {
		t.Fatalf("cut tree lacks the best candidate: %+v", cut.Nodes)
	}
}

func TestReadOnlyEndToEnd(t *testing.T) {
	f := newFixture(t)
	ro, err := sqlite.OpenReadOnly(context.Background(), f.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	s, err := New(Options{Store: ro})
	if err != nil {
		t.Fatal(err)
	}
	w := get(t, s.Handler(), "/loops/"+f.loop)
	if w.Code != 200 {
		t.Fatalf("read-only store: status %d", w.Code)
	}
	b, _ := io.ReadAll(w.Body)
	if !strings.Contains(string(b), "evolve-dddd") {
		t.Fatal("read-only store: loop page lacks its candidates")
	}
}

// TestJournalCatchUp: after a write the loop page shows new and changed
// candidates (read incrementally), and without a feed it reads afresh.
func TestJournalCatchUp(t *testing.T) {
	for _, withFeed := range []bool{true, false} {
		f := newFixture(t)
		c := &counter{}
		opt := Options{}
		if withFeed {
			opt = Options{Changes: c, Poll: 5 * time.Millisecond}
		}
		s := newServer(t, f, opt)
		ctx, cancel := context.WithCancel(context.Background())
		go s.Run(ctx)
		for withFeed && !s.feed.live.Load() {
			time.Sleep(time.Millisecond)
		}
		h := s.Handler()
		page := "/loops/" + f.live
		if body := get(t, h, page).Body.String(); strings.Contains(body, "evolve-ffff") {
			t.Fatal("a candidate before it was written")
		}
		rows, err := f.db.Candidates(ctx, f.live)
		if err != nil {
			t.Fatal(err)
		}
		r := rows[0]
		r.State, r.Epochs = store.StateDone, []float64{0.3, 0.45}
		if err := f.db.PutCandidate(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.ID, r.Index, r.Name, r.State = f.live+"-c01-01", 1, "evolve-ffff", store.StateQueued
		if err := f.db.PutCandidate(ctx, r); err != nil {
			t.Fatal(err)
		}
		if withFeed {
			before := s.feed.current()
			c.v.Add(1)
			for s.feed.current() == before {
				time.Sleep(time.Millisecond)
			}
		}
		body := get(t, h, page).Body.String()
		if !strings.Contains(body, "evolve-ffff") || !strings.Contains(body, "0.4500") {
			t.Errorf("feed %v: the page lacks the new candidate or the finished one's accuracy", withFeed)
		}
		cancel()
	}
}
