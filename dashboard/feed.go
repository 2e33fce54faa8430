package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// feed is the one change feed: a single goroutine asks the ChangeSource
// every poll interval and, when the number moved, wakes every connected
// browser. Nothing is read per client, so twenty idle browsers cost what
// one does.
type feed struct {
	src  ChangeSource
	poll time.Duration
	log  *slog.Logger

	mu      sync.Mutex
	version int64
	seq     int64 // changes seen since start: the SSE event id
	subs    map[chan int64]struct{}
	stopped chan struct{} // closed when run returns: event streams end
	live    atomic.Bool   // run is watching the source: no change means none
}

// keepAlive is how often an idle SSE stream gets a comment, so proxies and
// browsers keep it open.
const keepAlive = 25 * time.Second

func newFeed(src ChangeSource, poll time.Duration, log *slog.Logger) *feed {
	return &feed{src: src, poll: poll, log: log, subs: map[chan int64]struct{}{}, stopped: make(chan struct{})}
}

func (f *feed) run(ctx context.Context) error {
	defer close(f.stopped)
	if f.src == nil {
		<-ctx.Done()
		return nil
	}
	v, err := f.src.Version(ctx)
	if err != nil {
		return fmt.Errorf("dashboard change feed: %w", err)
	}
	f.mu.Lock()
	f.version = v
	f.mu.Unlock()
	f.live.Store(true)
	defer f.live.Store(false)
	t := time.NewTicker(f.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		v, err := f.src.Version(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.log.Warn("dashboard change feed", "err", err)
			continue
		}
		f.mu.Lock()
		if v != f.version {
			f.version = v
			f.seq++
			for c := range f.subs {
				select {
				case c <- f.seq:
				default: // the client has a wake-up pending already
				}
			}
		}
		f.mu.Unlock()
	}
}

func (f *feed) subscribe() (chan int64, func()) {
	c := make(chan int64, 1)
	f.mu.Lock()
	f.subs[c] = struct{}{}
	f.mu.Unlock()
	return c, func() {
		f.mu.Lock()
		delete(f.subs, c)
		f.mu.Unlock()
	}
}

// current is the number of changes seen so far; pages carry it, so a
// stream that connects after a change still reports it.
func (f *feed) current() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq
}

// clients counts the connected SSE streams.
func (f *feed) clients() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// serveSSE streams "change" events: the page refetches itself on one.
func (f *feed) serveSSE(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "dashboard: streaming unsupported by this connection", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c, cancel := f.subscribe()
	defer cancel()
	live := "on"
	if f.src == nil {
		live = "off"
	}
	fmt.Fprintf(w, "retry: 3000\nevent: hello\ndata: {\"live\":%q}\n\n", live)
	// The page was rendered at change `since` (or the stream reconnects
	// after event Last-Event-ID): a change in between is reported now.
	since := r.URL.Query().Get("since")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		since = id
	}
	if n, err := strconv.ParseInt(since, 10, 64); err == nil {
		if cur := f.current(); cur > n {
			fmt.Fprintf(w, "id: %d\nevent: change\ndata: {\"seq\":%d}\n\n", cur, cur)
		}
	}
	fl.Flush()
	t := time.NewTicker(keepAlive)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-f.stopped:
			return
		case seq := <-c:
			fmt.Fprintf(w, "id: %d\nevent: change\ndata: {\"seq\":%d}\n\n", seq, seq)
		case <-t.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		fl.Flush()
	}
}
