package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/report"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth/evolve"
)

// settingsOf is a loop's stored settings (migrated from older forms), with
// the generator resolved.
func settingsOf(l store.Loop) loop.Settings {
	s, err := loop.DecodeSettings(l.Config)
	if err != nil {
		return loop.Settings{}
	}
	s.Generator = s.GeneratorName()
	return s
}

// evolvePreferences is the operator weights evolve's learned policy uses
// for the loop's next cycle, rebuilt from the journal as the loop does
// (evolve.LearnPolicy); nil unless the loop learns them (evolve.learn).
func evolvePreferences(l store.Loop, rows []store.CandidateRow) map[string]float64 {
	if s, err := loop.DecodeSettings(l.Config); err != nil || !s.Evolve.Learn {
		return nil
	}
	next := 1
	for _, r := range rows {
		next = max(next, r.Cycle+1)
	}
	return evolve.LearnPolicy(rows, next).Weights()
}

// liveness is whether a loop's coordinator is still there.
type liveness struct {
	State     string // running, stale, or the loop's own status (done, stopped, interrupted)
	Host      string
	PID       int
	Heartbeat time.Time
	Note      string
}

// loopRow is one loop as the list and the loop page head show it.
type loopRow struct {
	Loop       store.Loop
	Set        loop.Settings
	Live       liveness
	Candidates int
	Trained    int
	Admitted   int
	Best       float64
	BestID     string
	BestName   string
	LastWrite  time.Time
}

func (s *Server) summarise(l store.Loop, cs []store.CandidateRow, leases map[string]Lease) loopRow {
	row := loopRow{Loop: l, Set: settingsOf(l), Candidates: len(cs), LastWrite: l.Updated}
	for i := range cs {
		c := &cs[i]
		if c.Updated.After(row.LastWrite) {
			row.LastWrite = c.Updated
		}
		if c.State == store.StateDone || c.State == store.StatePruned {
			row.Trained++
		}
		if c.Admitted {
			row.Admitted++
		}
		if b := c.Best(); c.State == store.StateDone && b > row.Best {
			row.Best, row.BestID, row.BestName = b, c.ID, c.Name
		}
	}
	// The generators that made the candidates beat the settings' guess.
	gens := map[string]bool{}
	var names []string
	for i := range cs {
		if g := cs[i].Generator; g != "" && !gens[g] {
			gens[g] = true
			names = append(names, g)
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		row.Set.Generator = strings.Join(names, ", ")
	}
	row.Live = s.liveness(l, row.LastWrite, leases)
	return row
}

// liveness judges a loop that says it is running: with a lease, by its
// heartbeat and (on this machine) by whether its process exists; without
// one, only its last write can be shown.
func (s *Server) liveness(l store.Loop, last time.Time, leases map[string]Lease) liveness {
	lv := liveness{State: string(l.Status)}
	if l.Status != store.LoopRunning {
		return lv
	}
	ls, ok := leases[l.ID]
	if !ok {
		lv.Note = "no lease recorded; last write " + ago(last)
		return lv
	}
	lv.Host, lv.PID, lv.Heartbeat = ls.Host, ls.PID, ls.Heartbeat
	switch {
	case ls.Host == s.host && ls.PID > 0 && !processAlive(ls.PID):
		lv.State, lv.Note = "stale", fmt.Sprintf("process %d is gone; `nngpt run` resumes the loop", ls.PID)
	case time.Since(ls.Heartbeat) > s.opt.StaleAfter:
		lv.State, lv.Note = "stale", "no heartbeat since "+ago(ls.Heartbeat)
	default:
		lv.Note = "heartbeat " + ago(ls.Heartbeat)
	}
	return lv
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (s *Server) leases(ctx context.Context) map[string]Lease {
	if s.opt.Leases == nil {
		return nil
	}
	m, err := s.opt.Leases(ctx)
	if err != nil {
		s.opt.Log.Warn("dashboard: read leases", "err", err)
	}
	return m
}

type loopsData struct {
	Title string
	Nav   string
	Loops []loopRow
}

func (s *Server) loopsPage(r *http.Request) (string, any, error) {
	ctx := r.Context()
	ls, err := s.opt.Store.Loops(ctx)
	if err != nil {
		return "", nil, err
	}
	leases := s.leases(ctx)
	d := loopsData{Title: "Loops", Nav: "loops"}
	for _, l := range ls {
		cs, err := s.candidates(ctx, l.ID)
		if err != nil {
			return "", nil, err
		}
		d.Loops = append(d.Loops, s.summarise(l, cs, leases))
	}
	return "loops", d, nil
}

// loopData is everything a loop page shows.
type loopData struct {
	Title   string
	Nav     string
	Row     loopRow
	Report  *report.Report
	Cycle   cycleProgress
	Running []runningRow
	Table   table
	Charts  loopCharts
	Ops     []report.OperatorStats
	Prefs   []pref
	HasPlot map[string]bool
}

type cycleProgress struct {
	Cycle, Of       int
	Final, Planned  int
	Pct, LoopPct    float64
	Active, Pending bool
}

type runningRow struct {
	ID, Name, State string
	Done, Of        int
	Pct, Last       float64
	Since           time.Time
}

type pref struct {
	Op     string
	Weight float64
	Pct    float64 // share of the total weight
}

// loopCharts is the data the page's script draws: one point per
// candidate with a result, the best-so-far per cycle and the lineage.
type loopCharts struct {
	Points    []point   `json:"points"`
	BestSoFar []xy      `json:"best"`
	Lineage   *lineage  `json:"lineage"`
	Threshold float64   `json:"threshold,omitempty"`
	Cycles    []float64 `json:"cycles"`
}

type point struct {
	ID    string  `json:"id"`
	Name  string  `json:"n"`
	Cycle int     `json:"c"`
	State string  `json:"s"`
	Acc   float64 `json:"a"`
	P     int64   `json:"p"`
	T     float64 `json:"t"` // training seconds
	Adm   bool    `json:"adm,omitempty"`
}

type xy struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

func (s *Server) loadLoop(ctx context.Context, id string) (store.Loop, []store.CandidateRow, error) {
	l, ok, err := s.opt.Store.GetLoop(ctx, id)
	if err != nil {
		return l, nil, err
	}
	if !ok {
		return l, nil, notFound("no loop %q in this workspace: the loops page lists them", id)
	}
	cs, err := s.candidates(ctx, id)
	return l, cs, err
}

func (s *Server) loopPage(r *http.Request) (string, any, error) {
	ctx := r.Context()
	l, cs, err := s.loadLoop(ctx, r.PathValue("id"))
	if err != nil {
		return "", nil, err
	}
	row := s.summarise(l, cs, s.leases(ctx))
	rep := report.FromCandidates(l, cs)
	d := loopData{Title: "Loop " + l.ID, Nav: "loops", Row: row, Report: rep, Ops: rep.Operators}
	d.Cycle = progress(l, row.Set, cs)
	d.Running = running(cs, row.Set.Epochs)
	if d.Table, err = candidateTable(r.URL.Query(), cs, "/loops/"+url.PathEscape(l.ID)); err != nil {
		return "", nil, err
	}
	d.Charts = chartsOf(cs)
	if s.opt.Preferences != nil {
		d.Prefs = prefsOf(s.opt.Preferences(l, cs))
	}
	d.HasPlot = map[string]bool{report.PlotOutcomes: len(rep.Cycles) > 0}
	return "loop", d, nil
}

func progress(l store.Loop, set loop.Settings, cs []store.CandidateRow) cycleProgress {
	p := cycleProgress{Cycle: min(l.CycleDone+1, max(l.Cycles, 1)), Of: l.Cycles, Planned: set.Candidates}
	p.Active = l.Status == store.LoopRunning
	if l.Cycles > 0 {
		p.LoopPct = 100 * float64(l.CycleDone) / float64(l.Cycles)
	}
	if l.CycleDone >= l.Cycles {
		p.Cycle = l.Cycles
	}
	for i := range cs {
		if cs[i].Cycle == p.Cycle && store.Final(cs[i].State) {
			p.Final++
		}
	}
	if p.Planned > 0 {
		p.Pct = min(100, 100*float64(p.Final)/float64(p.Planned))
	}
	p.Pending = p.Final < p.Planned && p.Active
	return p
}

func running(cs []store.CandidateRow, epochs int) []runningRow {
	var out []runningRow
	for i := range cs {
		c := &cs[i]
		if c.State != store.StateRunning && c.State != store.StateQueued {
			continue
		}
		rr := runningRow{ID: c.ID, Name: c.Name, State: c.State, Done: len(c.Epochs), Of: max(epochs, len(c.Epochs)), Since: c.Updated}
		if rr.Of > 0 {
			rr.Pct = 100 * float64(rr.Done) / float64(rr.Of)
		}
		if n := len(c.Epochs); n > 0 {
			rr.Last = c.Epochs[n-1]
		}
		out = append(out, rr)
	}
	return out
}

func prefsOf(w map[string]float64) []pref {
	total := 0.0
	for _, v := range w {
		total += v
	}
	var out []pref
	for k, v := range w {
		p := pref{Op: k, Weight: v}
		if total > 0 {
			p.Pct = 100 * v / total
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b pref) int { return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.Op, b.Op)) })
	return out
}

func chartsOf(cs []store.CandidateRow) loopCharts {
	ch := loopCharts{Points: []point{}, BestSoFar: []xy{}}
	best := map[int]float64{}
	cycles := map[int]bool{}
	for i := range cs {
		c := &cs[i]
		cycles[c.Cycle] = true
		if len(c.Epochs) == 0 || (c.State != store.StateDone && c.State != store.StatePruned) {
			continue
		}
		a := c.Best()
		ch.Points = append(ch.Points, point{ID: c.ID, Name: report.ShortName(c.Name), Cycle: c.Cycle, State: c.State, Acc: a,
			P: c.Params, T: time.Duration(c.Duration).Seconds(), Adm: c.Admitted})
		if c.State == store.StateDone {
			best[c.Cycle] = max(best[c.Cycle], a)
		}
	}
	keys := make([]int, 0, len(cycles))
	for k := range cycles {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	run := 0.0
	for _, k := range keys {
		ch.Cycles = append(ch.Cycles, float64(k))
		if b, ok := best[k]; ok {
			run = max(run, b)
		}
		if run > 0 {
			ch.BestSoFar = append(ch.BestSoFar, xy{X: float64(k), Y: run})
		}
	}
	ch.Lineage = lineageOf(cs, maxLineage)
	return ch
}

// loopPlot serves one of the report's plots of a loop as SVG.
func (s *Server) loopPlot(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSuffix(r.PathValue("name"), ".svg")
	l, cs, err := s.loadLoop(r.Context(), r.PathValue("id"))
	if err != nil {
		httpFail(w, err)
		return
	}
	b, err := report.FromCandidates(l, cs).SVG(name)
	if err != nil {
		httpFail(w, badRequest("%v", err))
		return
	}
	if b == nil {
		httpFail(w, notFound("loop %s has nothing to plot in %s yet", l.ID, name))
		return
	}
	svgResponse(w, b)
}

func httpFail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		code = he.code
	}
	http.Error(w, err.Error(), code)
}

// compareData puts two loops side by side.
type compareData struct {
	Title    string
	Nav      string
	Loops    []loopRow
	A, B     *loopSide
	Settings []settingDiff
	Charts   compareCharts
}

type loopSide struct {
	Row    loopRow
	Report *report.Report
	Top    []report.Entry
}

type settingDiff struct {
	Key, A, B string
	Same      bool
}

type compareCharts struct {
	A, B   []xy
	NA, NB string
}

func (s *Server) comparePage(r *http.Request) (string, any, error) {
	ctx := r.Context()
	q := r.URL.Query()
	ls, err := s.opt.Store.Loops(ctx)
	if err != nil {
		return "", nil, err
	}
	d := compareData{Title: "Compare loops", Nav: "loops"}
	leases := s.leases(ctx)
	for _, l := range ls {
		d.Loops = append(d.Loops, loopRow{Loop: l, Set: settingsOf(l)})
	}
	a, b := q.Get("a"), q.Get("b")
	if a == "" || b == "" {
		return "compare", d, nil
	}
	side := func(id string) (*loopSide, []xy, error) {
		l, cs, err := s.loadLoop(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		rep := report.FromCandidates(l, cs)
		ls := &loopSide{Row: s.summarise(l, cs, leases), Report: rep, Top: rep.Leaderboard[:min(5, len(rep.Leaderboard))]}
		return ls, chartsOf(cs).BestSoFar, nil
	}
	if d.A, d.Charts.A, err = side(a); err != nil {
		return "", nil, err
	}
	if d.B, d.Charts.B, err = side(b); err != nil {
		return "", nil, err
	}
	d.Charts.NA, d.Charts.NB = a, b
	d.Settings = diffSettings(d.A.Row.Loop.Config, d.B.Row.Loop.Config)
	return "compare", d, nil
}

// diffSettings flattens two settings JSON objects into key/value rows.
func diffSettings(a, b string) []settingDiff {
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", decodeJSON(a), fa)
	flatten("", decodeJSON(b), fb)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var out []settingDiff
	for k := range keys {
		out = append(out, settingDiff{Key: k, A: fa[k], B: fb[k], Same: fa[k] == fb[k]})
	}
	slices.SortFunc(out, func(x, y settingDiff) int {
		if x.Same != y.Same { // differences first
			if x.Same {
				return 1
			}
			return -1
		}
		return cmp.Compare(x.Key, y.Key)
	})
	return out
}

func decodeJSON(s string) any {
	var v any
	json.Unmarshal([]byte(s), &v)
	return v
}

func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, x, out)
		}
	case nil:
		if prefix != "" {
			out[prefix] = ""
		}
	case string:
		out[prefix] = t
	case float64:
		out[prefix] = strconv.FormatFloat(t, 'g', -1, 64)
	default:
		b, _ := json.Marshal(t)
		out[prefix] = string(b)
	}
}
