// Package report summarises one closed-loop study from its journal: a
// leaderboard of the admitted models, per-cycle counts and accuracies, plots
// (PNG and SVG) and a Markdown summary that embeds them. It only reads the
// store; `nngpt report` and the end of `nngpt run` both use it.
package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// ErrNoLoop is returned by Build when the workspace has no loop yet.
var ErrNoLoop = errors.New("no loop in this workspace yet: run `nngpt run` first")

// Report is everything the summary shows, ready for text, JSON and files.
type Report struct {
	Loop      store.Loop `json:"loop"`
	Generated time.Time  `json:"generated"`
	// Threshold is the admission accuracy (1.2 x chance) when the caller
	// knows it; plots draw it as a dashed line. Zero hides it.
	Threshold float64 `json:"threshold,omitempty"`
	// Tasks lists the distinct task/dataset/metric the candidates ran on.
	Tasks       []string     `json:"tasks"`
	Generators  []string     `json:"generators"`
	Total       CycleStats   `json:"total"`
	Cycles      []CycleStats `json:"cycles"`
	Leaderboard []Entry      `json:"leaderboard"` // admitted models, best first
	// Trained holds every candidate with at least one finished epoch (done
	// or pruned), for the scatter plots.
	Trained []Entry `json:"trained"`
	// Operators counts, per generator operator kind (the part of an
	// operator before ':', e.g. "conv" of "conv:insert 3x3 after line 24"),
	// how the candidates it made fared: the signal an operator policy learns
	// from. Sorted by admitted, then used.
	Operators []OperatorStats `json:"operators,omitempty"`
	// References describe the rest of the corpus (models not from this
	// loop) on the loop's task, dataset and metric at the epoch count the
	// loop trained for: what "good" means there. Empty when the store has
	// no such rows (a fresh workspace on shapes).
	References []Reference `json:"references,omitempty"`
}

// Reference summarises the corpus outside the loop for one task, dataset
// and metric at one epoch (each model's best run).
type Reference struct {
	Task    string  `json:"task"`
	Dataset string  `json:"dataset"`
	Metric  string  `json:"metric"`
	Epoch   int     `json:"epoch"`
	Models  int     `json:"models"`
	Median  float64 `json:"median_accuracy"`
	Best    float64 `json:"best_accuracy"`
	BestNN  string  `json:"best_nn"`
}

// OperatorStats is how the candidates made with one operator kind fared.
type OperatorStats struct {
	Operator string  `json:"operator"`
	Used     int     `json:"used"` // finished candidates that applied it
	Trained  int     `json:"trained"`
	Admitted int     `json:"admitted"`
	Mean     float64 `json:"mean_accuracy"` // of the trained ones
	Best     float64 `json:"best_accuracy"`
}

// CycleStats counts one cycle (or, as Report.Total, the whole loop).
type CycleStats struct {
	Cycle      int            `json:"cycle"` // 0 in Report.Total
	Generated  int            `json:"generated"`
	Rejected   int            `json:"rejected"`
	RejectedBy map[string]int `json:"rejected_by,omitempty"`
	Duplicates int            `json:"duplicates"`
	// DuplicateBy counts duplicates by how they matched (code id,
	// normalised code, structure).
	DuplicateBy map[string]int `json:"duplicate_by,omitempty"`
	Failed      int            `json:"failed"`
	FailedBy    map[string]int `json:"failed_by,omitempty"`
	Pruned      int            `json:"pruned"`
	// Screened were not trained: the zero-shot predictor expected them
	// below the bar; Explored were trained although it did (what
	// screening would have cost).
	Screened int `json:"screened"`
	Explored int `json:"explored"`
	// Trained counts candidates that finished training (done). Pruned
	// ones were stopped early and are counted apart.
	Trained  int `json:"trained"`
	Admitted int `json:"admitted"`
	// Pending counts candidates not in a final state (an interrupted or
	// running loop).
	Pending int `json:"pending"`
	// Mean and Best are over the best-epoch accuracies of the trained
	// (done) candidates; zero when none trained.
	Mean float64 `json:"mean_accuracy"`
	Best float64 `json:"best_accuracy"`
	// ValidRate is admitted / finished candidates, NNGPT's "valid
	// generation rate".
	ValidRate float64 `json:"valid_rate"`
	// TrainTime is the summed training wall time of the cycle's runs.
	TrainTime time.Duration `json:"train_time_ns"`
}

// validRate is the share of finished candidates that were admitted, the
// "valid generation rate" NNGPT reports (pending ones are left out until
// they finish).
func (c CycleStats) validRate() float64 {
	n := c.Generated - c.Pending
	if n <= 0 {
		return 0
	}
	return float64(c.Admitted) / float64(n)
}

// Entry is one trained candidate.
type Entry struct {
	Rank      int           `json:"rank,omitempty"` // 1-based, leaderboard only
	Name      string        `json:"name"`
	ID        string        `json:"candidate"`
	Cycle     int           `json:"cycle"`
	State     string        `json:"state"`
	Admitted  bool          `json:"admitted"`
	Accuracy  float64       `json:"accuracy"`   // best over epochs
	BestEpoch int           `json:"best_epoch"` // 1-based
	Epochs    []float64     `json:"epochs"`     // accuracy after each epoch
	Params    int64         `json:"params"`
	Duration  time.Duration `json:"duration_ns"`
	Generator string        `json:"generator"`
	Parents   []string      `json:"parents,omitempty"`
	Operators []string      `json:"operators,omitempty"`
	Task      string        `json:"task"`
	Dataset   string        `json:"dataset"`
	Metric    string        `json:"metric"`
	Transform string        `json:"transform,omitempty"`
	HP        string        `json:"hp"` // hyperparameters as k=v, transform excluded
}

// Short is the name cut to fit plots and narrow tables: a LEMUR name
// <prefix>-<32 hex md5> keeps the prefix and 8 hex digits.
func (e *Entry) Short() string { return ShortName(e.Name) }

// ShortName shortens a generated model name <prefix>-<md5> to
// <prefix>-<first 8 hex digits>; other names are returned as they are.
func ShortName(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i >= 0 && len(name)-i-1 == 32 && lemur.IsHexID(name[i+1:]) {
		return name[:i+9]
	}
	return name
}

// Build reads loop loopID (the newest loop when loopID is empty) from the
// journal and summarises it.
func Build(ctx context.Context, j store.Journal, loopID string) (*Report, error) {
	var l store.Loop
	if loopID == "" {
		ls, err := j.Loops(ctx)
		if err != nil {
			return nil, fmt.Errorf("report: list loops: %w", err)
		}
		if len(ls) == 0 {
			return nil, ErrNoLoop
		}
		l = ls[0]
	} else {
		var ok bool
		var err error
		l, ok, err = j.GetLoop(ctx, loopID)
		if err != nil {
			return nil, fmt.Errorf("report: read loop %s: %w", loopID, err)
		}
		if !ok {
			return nil, fmt.Errorf("report: no loop %q in this workspace (`nngpt report --list` shows the loops)", loopID)
		}
	}
	cs, err := j.Candidates(ctx, l.ID)
	if err != nil {
		return nil, fmt.Errorf("report: read candidates of loop %s: %w", l.ID, err)
	}
	r := FromCandidates(l, cs)
	if c, ok := j.(store.Corpus); ok {
		if r.References, err = references(ctx, c, r, cs); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// references reads the corpus rows the loop is measured against.
func references(ctx context.Context, c store.Corpus, r *Report, cs []store.CandidateRow) ([]Reference, error) {
	epoch := r.MaxEpochs()
	if epoch == 0 {
		return nil, nil
	}
	mine := map[string]bool{}
	pipes := map[lemur.Pipeline]bool{}
	for i := range cs {
		mine[cs[i].Name] = true
		p := cs[i].Pipeline
		p.NN = ""
		if p.Task != "" && p.Dataset != "" {
			pipes[p] = true
		}
	}
	var out []Reference
	for p := range pipes {
		ref := Reference{Task: p.Task, Dataset: p.Dataset, Metric: p.Metric, Epoch: epoch}
		var accs []float64
		seen := map[string]bool{}
		f := store.Filter{Task: p.Task, Dataset: p.Dataset, Metric: p.Metric, Epoch: epoch, EpochSet: true, BestOnly: true}
		for rec, err := range c.Stats(ctx, f) {
			if err != nil {
				return nil, fmt.Errorf("report: read corpus stats: %w", err)
			}
			if mine[rec.NN] || seen[rec.NN] {
				continue
			}
			seen[rec.NN] = true
			accs = append(accs, rec.Accuracy)
			if rec.Accuracy > ref.Best || ref.BestNN == "" {
				ref.Best, ref.BestNN = rec.Accuracy, rec.NN
			}
		}
		if len(accs) == 0 {
			continue
		}
		slices.Sort(accs)
		ref.Models = len(accs)
		if n := len(accs); n%2 == 1 {
			ref.Median = accs[n/2]
		} else {
			ref.Median = (accs[n/2-1] + accs[n/2]) / 2
		}
		out = append(out, ref)
	}
	slices.SortFunc(out, func(a, b Reference) int {
		return cmp.Or(cmp.Compare(a.Task, b.Task), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.Metric, b.Metric))
	})
	return out, nil
}

// FromCandidates summarises a loop from its journal rows.
func FromCandidates(l store.Loop, cs []store.CandidateRow) *Report {
	r := &Report{Loop: l, Generated: time.Now().UTC()}
	byCycle := map[int]*CycleStats{}
	accs := map[int][]float64{}
	tasks, gens := map[string]bool{}, map[string]bool{}
	for i := range cs {
		c := &cs[i]
		st := byCycle[c.Cycle]
		if st == nil {
			st = &CycleStats{Cycle: c.Cycle}
			byCycle[c.Cycle] = st
		}
		st.Generated++
		if c.Generator != "" {
			gens[c.Generator] = true
		}
		if c.Pipeline.Task != "" {
			tasks[c.Pipeline.Task+" / "+c.Pipeline.Dataset+" / "+c.Pipeline.Metric] = true
		}
		st.TrainTime += time.Duration(c.Duration)
		switch c.State {
		case store.StateRejected:
			st.Rejected++
			st.RejectedBy = inc(st.RejectedBy, reason(c.Reason))
		case store.StateDuplicate:
			st.Duplicates++
			st.DuplicateBy = inc(st.DuplicateBy, reason(c.Reason))
		case store.StateFailed:
			st.Failed++
			st.FailedBy = inc(st.FailedBy, reason(c.Reason))
		case store.StatePruned:
			st.Pruned++
		case store.StateScreened:
			st.Screened++
		case store.StateDone:
			st.Trained++
			if len(c.Epochs) > 0 {
				accs[c.Cycle] = append(accs[c.Cycle], c.Best())
			}
		default:
			st.Pending++
		}
		if strings.HasPrefix(c.Detail, "explored") && c.State != store.StateScreened {
			st.Explored++
		}
		if c.Admitted {
			st.Admitted++
		}
		if len(c.Epochs) > 0 && (c.State == store.StateDone || c.State == store.StatePruned) {
			r.Trained = append(r.Trained, entry(c))
		}
	}
	for _, st := range byCycle {
		st.Mean, st.Best = meanMax(accs[st.Cycle])
		st.ValidRate = st.validRate()
		r.Cycles = append(r.Cycles, *st)
	}
	slices.SortFunc(r.Cycles, func(a, b CycleStats) int { return cmp.Compare(a.Cycle, b.Cycle) })
	var all []float64
	for _, st := range r.Cycles {
		r.Total.add(st)
		all = append(all, accs[st.Cycle]...)
	}
	r.Total.Mean, r.Total.Best = meanMax(all)
	r.Total.ValidRate = r.Total.validRate()
	for _, e := range r.Trained {
		if e.Admitted {
			r.Leaderboard = append(r.Leaderboard, e)
		}
	}
	slices.SortStableFunc(r.Leaderboard, func(a, b Entry) int {
		if c := cmp.Compare(b.Accuracy, a.Accuracy); c != 0 {
			return c
		}
		// Equal accuracy: the smaller model ranks first, as a user would pick it.
		if c := cmp.Compare(a.Params, b.Params); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	for i := range r.Leaderboard {
		r.Leaderboard[i].Rank = i + 1
	}
	r.Tasks = sortedKeys(tasks)
	r.Generators = sortedKeys(gens)
	r.Operators = operatorStats(cs)
	return r
}

// DefaultDir is where a loop's report goes by default.
func DefaultDir(workspaceDir, loopID string) string {
	return filepath.Join(workspaceDir, "reports", loopID)
}

// MaxEpochs is the most epochs any trained candidate ran.
func (r *Report) MaxEpochs() int {
	n := 0
	for _, e := range r.Trained {
		n = max(n, len(e.Epochs))
	}
	return n
}

func (t *CycleStats) add(s CycleStats) {
	t.Generated += s.Generated
	t.Rejected += s.Rejected
	t.Duplicates += s.Duplicates
	t.Failed += s.Failed
	t.Pruned += s.Pruned
	t.Screened += s.Screened
	t.Explored += s.Explored
	t.Trained += s.Trained
	t.Admitted += s.Admitted
	t.Pending += s.Pending
	t.TrainTime += s.TrainTime
	for k, v := range s.RejectedBy {
		t.RejectedBy = incBy(t.RejectedBy, k, v)
	}
	for k, v := range s.FailedBy {
		t.FailedBy = incBy(t.FailedBy, k, v)
	}
	for k, v := range s.DuplicateBy {
		t.DuplicateBy = incBy(t.DuplicateBy, k, v)
	}
}

// operatorStats groups finished candidates by operator kind.
func operatorStats(cs []store.CandidateRow) []OperatorStats {
	by := map[string]*OperatorStats{}
	accs := map[string][]float64{}
	for i := range cs {
		c := &cs[i]
		if !store.Final(c.State) || c.State == store.StateDuplicate {
			continue
		}
		kinds := map[string]bool{}
		for _, op := range c.Operators {
			k, _, _ := strings.Cut(op, ":")
			if k = strings.TrimSpace(k); k != "" {
				kinds[k] = true
			}
		}
		for k := range kinds {
			o := by[k]
			if o == nil {
				o = &OperatorStats{Operator: k}
				by[k] = o
			}
			o.Used++
			if c.State == store.StateDone && len(c.Epochs) > 0 {
				o.Trained++
				accs[k] = append(accs[k], c.Best())
			}
			if c.Admitted {
				o.Admitted++
			}
		}
	}
	out := make([]OperatorStats, 0, len(by))
	for k, o := range by {
		o.Mean, o.Best = meanMax(accs[k])
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b OperatorStats) int {
		return cmp.Or(cmp.Compare(b.Admitted, a.Admitted), cmp.Compare(b.Used, a.Used), cmp.Compare(a.Operator, b.Operator))
	})
	return out
}

func entry(c *store.CandidateRow) Entry {
	e := Entry{
		Name: c.Name, ID: c.ID, Cycle: c.Cycle, State: c.State, Admitted: c.Admitted,
		Epochs: slices.Clone(c.Epochs), Params: c.Params, Duration: time.Duration(c.Duration),
		Generator: c.Generator, Parents: c.Parents, Operators: c.Operators,
		Task: c.Pipeline.Task, Dataset: c.Pipeline.Dataset, Metric: c.Pipeline.Metric,
	}
	if e.Name == "" {
		e.Name = c.ID
	}
	for i, a := range c.Epochs {
		if i == 0 || a > e.Accuracy {
			e.Accuracy, e.BestEpoch = a, i+1
		}
	}
	e.Transform, _ = c.Prm.String("transform")
	var hp []string
	for _, it := range c.Prm {
		if it.Key == "transform" {
			continue
		}
		hp = append(hp, it.Key+"="+fmtValue(it.Value))
	}
	e.HP = strings.Join(hp, " ")
	return e
}

// fmtValue prints a hyperparameter compactly: floats with 4 significant
// digits (lr 0.0123), everything else as Python would.
func fmtValue(v lemur.Value) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.4g", f)
	}
	return lemur.Repr(v)
}

func reason(s string) string {
	if s == "" {
		return "unspecified"
	}
	return s
}

func inc(m map[string]int, k string) map[string]int { return incBy(m, k, 1) }

func incBy(m map[string]int, k string, n int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k] += n
	return m
}

func meanMax(xs []float64) (mean, best float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	sum := 0.0
	best = xs[0]
	for _, x := range xs {
		sum += x
		best = max(best, x)
	}
	return sum / float64(len(xs)), best
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// sortedCounts orders reason counts by count, then name.
func sortedCounts(m map[string]int) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.k, b.k)
	})
	return out
}

type kv struct {
	k string
	n int
}
