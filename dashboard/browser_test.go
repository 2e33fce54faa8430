package dashboard

import (
	"context"
	"iter"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/zoo"
)

// browser starts headless Chromium (Debian's chromium) or skips the test.
// Messages the pages write to the console are collected.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
	shot string // folder for screenshots
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: starts a browser (-short)")
	}
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("skipping: needs Chromium (apt-get install chromium)")
	}
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.UserDataDir(dir),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1440, 1000))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // start it
		t.Fatalf("start chromium %s: %v", path, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.msgs = append(b.msgs, m)
			b.mu.Unlock()
		}
	}()
	shots, err := os.MkdirTemp("", "nngpt-dashboard-shots-")
	if err != nil {
		t.Fatal(err)
	}
	b.shot = shots
	t.Logf("screenshots in %s", shots)
	return b
}

// errors returns the console errors and exceptions seen since the last call.
func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.msgs {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.IsException() {
			out = append(out, m.String())
		}
	}
	b.msgs = nil
	return out
}

func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// poll waits until the expression is true on the page.
func (b *browser) poll(js string, timeout time.Duration) error {
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(timeout)))
	return err
}

func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// TestBrowserPages loads every page in Chromium: no console error, the
// charts drawn, and the hostile candidate's strings inert.
func TestBrowserPages(t *testing.T) {
	b := newBrowser(t)
	f := newFixture(t)
	c := &counter{}
	s := newServer(t, f, Options{Changes: c, Poll: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	ts := httptest.NewServer(s.Handler())
	defer func() { cancel(); ts.Close() }()
	for _, tc := range []struct {
		name, path string
		charts     int // svg charts the script must have drawn
	}{
		{"loops", "/", 0},
		{"loop", "/loops/" + f.loop, 4},
		{"loop-running", "/loops/" + f.live, 0},
		{"candidate", "/candidates/" + f.loop + "-c02-00", 0},
		{"candidate-hostile", "/candidates/" + f.loop + "-c01-01", 0},
		{"compare", "/compare?a=" + f.loop + "&b=" + f.live, 1},
		{"corpus", "/corpus", 0},
		{"studies", "/hpo", 0},
		{"study", "/hpo/" + url.PathEscape("study-"+hostile), 3},
		{"rag", "/rag", 0},
		{"block", "/rag/mod.Block", 0},
	} {
		if err := chromedp.Do(b.ctx, chromedp.Navigate(ts.URL+tc.path), chromedp.WaitVisible(chromedp.CSS("#main"))); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// The live indicator says the event stream is up.
		if err := b.poll(`document.getElementById('live-state').textContent === 'live'`, 5*time.Second); err != nil {
			t.Errorf("%s: event stream not live: %v", tc.name, err)
		}
		if n := eval[int](t, b, `document.querySelectorAll('svg.svgchart').length`); n < tc.charts {
			t.Errorf("%s: %d charts drawn, want at least %d", tc.name, n, tc.charts)
		}
		if p := eval[bool](t, b, `window.pwned !== undefined`); p {
			t.Errorf("%s: a hostile string ran", tc.name)
		}
		if n := eval[int](t, b, `document.querySelectorAll('#main script:not([type="application/json"]), #main img[src="x"]').length`); n != 0 {
			t.Errorf("%s: %d injected elements in the page", tc.name, n)
		}
		b.screenshot(t, tc.name)
		if errs := b.errors(); len(errs) > 0 {
			t.Errorf("%s: console errors:\n%s", tc.name, strings.Join(errs, "\n"))
		}
	}
	// The hostile candidate's strings are shown as text.
	if err := chromedp.Do(b.ctx, chromedp.Navigate(ts.URL+"/candidates/"+f.loop+"-c01-01")); err != nil {
		t.Fatal(err)
	}
	if txt := eval[string](t, b, `document.getElementById('verdict').textContent`); !strings.Contains(txt, "<script>window.pwned=1</script>") {
		t.Errorf("hostile detail not shown as text: %q", txt)
	}
	// A change in the store refreshes the open page without a reload.
	eval[bool](t, b, `window.__marker = true`)
	c.v.Add(1) // before or after the stream connects: the page hears of it either way
	if err := b.poll(`document.body.dataset.refreshes >= 1`, 10*time.Second); err != nil {
		t.Fatalf("page did not refresh after a change: %v", err)
	}
	if !eval[bool](t, b, `window.__marker === true`) {
		t.Fatal("the page reloaded instead of refreshing in place")
	}
}

// zooGen yields zoo models, each naming the previous one as its parent,
// so the live loop has a lineage.
type zooGen struct{}

func (zooGen) Name() string { return "zoo" }

func (zooGen) Generate(ctx context.Context, req synth.Request) iter.Seq2[*synth.Candidate, error] {
	return func(yield func(*synth.Candidate, error) bool) {
		ms := zoo.Models()
		for i := range req.N {
			m := ms[(int(req.Seed%1000)*req.N+i)%len(ms)]
			c := synth.New("zoo", m.Code)
			c.Parents = []string{m.Name}
			c.Transform = "norm"
			if !yield(c, nil) {
				return
			}
		}
	}
}

// TestBrowserLiveLoop watches a real tiny loop (the local executor on
// tiny shapes data) from the loop page: candidates appear and finish
// without a reload.
func TestBrowserLiveLoop(t *testing.T) {
	b := newBrowser(t)
	ctx := context.Background()
	py, _, err := runner.FindPython(ctx, runner.PythonOptions{})
	if err != nil {
		t.Skipf("skipping: needs python3 with torch: %v", err)
	}
	cache, err := os.MkdirTemp("", "nngpt-dashboard-test-") // not t.TempDir: the sandbox's uid must enter it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(cache) })
	os.Chmod(cache, 0o755)
	sb, err := runner.NewSandbox(ctx, runner.SandboxAuto)
	if err != nil {
		t.Fatal(err)
	}
	data, err := runner.Datasets{CacheDir: cache, Sandbox: sb}.Prepare(ctx, py, runner.DatasetSpec{Name: "shapes", NTrain: 96, NTest: 48, Size: 16, Seed: 1})
	if err != nil {
		t.Fatalf("prepare shapes: %v", err)
	}
	scratch := filepath.Join(cache, "scratch")
	os.MkdirAll(scratch, 0o755)
	ex, err := runner.NewLocal(ctx, runner.LocalConfig{Python: py, Sandbox: sb, CacheDir: cache, ScratchRoot: scratch, Slots: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nngpt.db")
	w, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ro, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	changes, err := ro.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer changes.Close()
	s, err := New(Options{Store: ro, Changes: changes, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go s.Run(sctx)
	ts := httptest.NewServer(s.Handler())
	defer func() { stop(); ts.Close() }()

	cfg := loop.DefaultSettings()
	cfg.Cycles, cfg.Candidates, cfg.Epochs, cfg.Dataset, cfg.Seed, cfg.Batch = 1, 2, 2, "shapes", 3, 16
	eng := &loop.Engine{Store: w, Generator: zooGen{}, Exec: ex, Data: data}
	// The first training waits until the browser watches, so the page sees
	// the loop before anything finished.
	watching := make(chan struct{})
	var once sync.Once
	eng.Hooks = []loop.Hook{waitFirst(watching)}
	lctx, cancelLoop := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelLoop()
	done := make(chan error, 1)
	go func() {
		plan, err := loop.Resolve(lctx, w, loop.Selection{New: true}, cfg)
		if err == nil {
			_, err = eng.Run(lctx, plan, 0)
		}
		done <- err
	}()
	var loopID string
	for deadline := time.Now().Add(time.Minute); loopID == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ls, _ := w.Loops(ctx); len(ls) > 0 {
			loopID = ls[0].ID
		}
	}
	if loopID == "" {
		t.Fatal("the loop never appeared in the store")
	}
	if err := chromedp.Do(b.ctx, chromedp.Navigate(ts.URL+"/loops/"+loopID), chromedp.WaitVisible(chromedp.CSS("#cand-table"))); err != nil {
		t.Fatal(err)
	}
	if n := eval[int](t, b, `document.querySelectorAll('#cand-table tbody .badge.st-done').length`); n != 0 {
		t.Fatalf("%d done candidates before any trained", n)
	}
	eval[bool](t, b, `window.__marker = true`)
	once.Do(func() { close(watching) })
	b.screenshot(t, "live-start")
	// A candidate shows up running, then done, without a reload.
	if err := b.poll(`document.querySelectorAll('#running .badge.st-running').length > 0 || document.querySelectorAll('#cand-table .badge.st-done').length > 0`, 2*time.Minute); err != nil {
		t.Fatalf("no training ever showed: %v", err)
	}
	b.screenshot(t, "live-running")
	if err := b.poll(`document.querySelectorAll('#cand-table .badge.st-done').length > 0`, 3*time.Minute); err != nil {
		t.Fatalf("no candidate finished on the page: %v", err)
	}
	if !eval[bool](t, b, `window.__marker === true`) {
		t.Fatal("the loop page reloaded instead of updating in place")
	}
	if err := <-done; err != nil {
		t.Fatalf("loop: %v", err)
	}
	// The last write reaches the page too: the loop shows done.
	if err := b.poll(`document.querySelector('h1 .badge').textContent === 'done'`, 20*time.Second); err != nil {
		t.Fatalf("the page never showed the loop done: %v", err)
	}
	refreshes := eval[string](t, b, `document.body.dataset.refreshes`)
	t.Logf("loop page refreshed itself %s times during the loop", refreshes)
	b.screenshot(t, "live-done")
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// waitFirst holds the first cycle until watching is closed.
type waitFirst chan struct{}

func (w waitFirst) BeforeCycle(ctx context.Context, _ store.Loop, cycle int) error {
	if cycle == 1 {
		select {
		case <-w:
		case <-ctx.Done():
		}
	}
	return nil
}

func (waitFirst) AfterCycle(context.Context, store.Loop, int) error { return nil }
