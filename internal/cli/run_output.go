package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/nngpt/nngpt/internal/text"
	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/store"
)

// runOutput shows a loop's progress: bars on a terminal, a plain line per
// event otherwise, or one JSON object per event with --json.
type runOutput struct {
	w      io.Writer
	json   *json.Encoder
	p      *mpb.Progress
	mu     sync.Mutex
	cycle  *mpb.Bar
	cands  *mpb.Bar
	trains map[string]*mpb.Bar
	final  map[string]bool
	epochs int
	n      int // candidates per cycle
}

func newRunOutput(g *globals, asJSON bool, epochs int) *runOutput {
	o := &runOutput{w: g.stdout, trains: map[string]*mpb.Bar{}, final: map[string]bool{}, epochs: epochs}
	if asJSON {
		o.json = json.NewEncoder(g.stdout)
		return o
	}
	if f, ok := g.stdout.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		o.p = mpb.New(mpb.WithOutput(g.stdout), mpb.WithWidth(40), mpb.WithAutoRefresh())
		o.w = o.p
	}
	return o
}

func (o *runOutput) observe(ev loop.Event) {
	if o.json != nil {
		o.json.Encode(ev)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch ev.Type {
	case loop.EventLoop:
		fmt.Fprintf(o.w, "loop %s %s (%d cycles)\n", ev.Loop, ev.Message, ev.Cycles)
		if o.p != nil && o.cycle == nil {
			o.cycle = o.p.AddBar(int64(ev.Cycles), mpb.PrependDecorators(decor.Name("cycles     ", decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d")),
				mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
		}
	case loop.EventCycle:
		fmt.Fprintf(o.w, "cycle %d/%d\n", ev.Cycle, ev.Cycles)
		if o.cycle != nil {
			o.cycle.SetCurrent(int64(ev.Cycle - 1))
		}
		if o.cands != nil {
			o.cands.Abort(true)
		}
		o.cands, o.final = nil, map[string]bool{}
	case loop.EventCandidate:
		o.candidate(ev.Candidate)
	case loop.EventBatch:
		// A training's bar counts batches over all its epochs.
		if b, p := o.trains[ev.Candidate.ID], ev.Progress; b != nil && p.Batches > 0 {
			b.SetTotal(int64(o.epochs*p.Batches), false)
			b.SetCurrent(int64((p.Epoch-1)*p.Batches + p.Batch))
		}
	case loop.EventEpoch:
		if o.p == nil {
			fmt.Fprintf(o.w, "  %-44s epoch %d acc=%.4f\n", ev.Candidate.Name, ev.Epoch.Epoch, ev.Epoch.Accuracy)
		}
	case loop.EventAdmitted:
		fmt.Fprintf(o.w, "  %-44s admitted to the corpus (acc %.4f)\n", ev.Candidate.Name, ev.Candidate.Best())
	case loop.EventCycleDone:
		if o.cycle != nil {
			o.cycle.SetCurrent(int64(ev.Cycle))
		}
	}
}

// candidate updates the bars and prints a line when a candidate ends.
func (o *runOutput) candidate(c *store.CandidateRow) {
	if o.p != nil && o.cands == nil {
		o.cands = o.p.AddBar(0, mpb.PrependDecorators(decor.Name("candidates ", decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d")))
	}
	if o.cands != nil && c.Index+1 > o.n {
		o.n = c.Index + 1
		o.cands.SetTotal(int64(o.n), false)
	}
	if c.State == store.StateRunning && o.p != nil && o.trains[c.ID] == nil {
		o.trains[c.ID] = o.p.AddBar(0, mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Name("  "+text.Head(c.Name, 30)+" ", decor.WCSyncSpaceR), decor.CountersNoUnit("batch %d/%d")),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
	}
	if !store.Final(c.State) || o.final[c.ID] {
		return
	}
	o.final[c.ID] = true
	if b := o.trains[c.ID]; b != nil {
		b.Abort(true)
		delete(o.trains, c.ID)
	}
	if o.cands != nil {
		o.cands.Increment()
	}
	fmt.Fprintln(o.w, candidateLine(c))
}

// candidateLine is the line printed per finished candidate: name,
// accuracy, params, time, verdict.
func candidateLine(c *store.CandidateRow) string {
	name := c.Name
	if name == "" {
		name = c.ID
	}
	switch c.State {
	case store.StateDone, store.StatePruned:
		v := c.State
		if c.State == store.StatePruned && c.Predicted != nil {
			v = fmt.Sprintf("pruned (predicted %.3f)", *c.Predicted)
		}
		return fmt.Sprintf("  %-44s acc=%.4f  params=%-9d %6.1fs  %s", text.Head(name, 44), c.Best(), c.Params,
			time.Duration(c.Duration).Seconds(), v)
	case store.StateDuplicate:
		return fmt.Sprintf("  %-44s duplicate of %s", text.Head(name, 44), c.Detail)
	default:
		return fmt.Sprintf("  %-44s %s: %s %s", text.Head(name, 44), c.State, c.Reason, text.Head(firstLine(c.Detail), 80))
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func (o *runOutput) close() {
	if o.p == nil {
		return
	}
	for _, b := range o.trains {
		b.Abort(true)
	}
	if o.cands != nil {
		o.cands.Abort(false)
	}
	if o.cycle != nil {
		o.cycle.Abort(false)
	}
	o.p.Wait()
}
