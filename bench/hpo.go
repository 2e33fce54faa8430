package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
)

// HPOConfig configures the hyperparameter-optimisation benchmark.
type HPOConfig struct {
	// Train holds the records the learned recommender may learn from.
	Train []lemur.Record
	// Test, when non-nil, holds the pipelines to test on (models the
	// recommender never saw). When nil, Train's models are split: Folds
	// folds by model (each model tested once, by a recommender fitted on
	// the other folds) or, with Folds 1, one split holding out TestShare.
	Test      []lemur.Record
	Folds     int     // default 4
	TestShare float64 // default 0.25, with Folds 1
	SplitSeed uint64  // default 1
	// Seeds is how many times each stochastic method runs per pipeline.
	Seeds int // default 10
	// Budgets are the proposal counts the regret is reported at.
	Budgets []int // default 1, 5, 10, 20
	// MinTrials is the number of distinct trials a pipeline needs at one
	// epoch to be a benchmark problem.
	MinTrials int // default 30
	// Warm is how many learned proposals open the one-shot-then-TPE run.
	Warm    int // default 10 (TPE's start-up trials)
	Learned hpo.LearnedOptions
	// Codes, when set, are the models' source by name: the learned
	// recommender then learns from the training models' code and is
	// asked with each test model's code (code-aware one-shot).
	Codes map[string]string
	// Progress, when set, is called after each pipeline.
	Progress func(done, total int)
}

func (c *HPOConfig) defaults() {
	if c.Folds == 0 {
		c.Folds = 4
	}
	if c.TestShare == 0 {
		c.TestShare = 0.25
	}
	if c.SplitSeed == 0 {
		c.SplitSeed = 1
	}
	if c.Seeds == 0 {
		c.Seeds = 10
	}
	if len(c.Budgets) == 0 {
		c.Budgets = []int{1, 5, 10, 20}
	}
	if c.MinTrials == 0 {
		c.MinTrials = 30
	}
	if c.Warm == 0 {
		c.Warm = 10
	}
}

// HPO method names, in report order.
const (
	MethodRandom     = "random"
	MethodTPE        = "tpe"
	MethodLearned    = "learned one-shot"
	MethodLearnedTPE = "one-shot-then-tpe"
	// MethodHindsight is a reference, not a method: per dataset, the
	// recorded configurations that do best on average over that dataset's
	// test pipelines, chosen with their results in view (a greedy
	// portfolio). No recommender that proposes the same list for every
	// model of a dataset can do better with recorded configurations, so it
	// shows how much of the remaining regret needs model-specific knowledge.
	MethodHindsight = "hindsight per dataset"
)

// HPOMethod is one method's mean normalised regret at each budget.
type HPOMethod struct {
	Name   string    `json:"name"`
	Regret []float64 `json:"regret"`    // mean over pipelines, per budget
	StdErr []float64 `json:"std_error"` // standard error over pipelines
}

// HPOPipeline is one benchmark problem and each method's regret on it.
type HPOPipeline struct {
	Pipeline string               `json:"pipeline"`
	Epoch    int                  `json:"epoch"`
	Trials   int                  `json:"trials"`
	Best     float64              `json:"best_accuracy"`
	Worst    float64              `json:"worst_accuracy"`
	Regret   map[string][]float64 `json:"regret"`
}

// HPOResult is the benchmark's outcome.
type HPOResult struct {
	Pipelines   int           `json:"pipelines"`
	Models      int           `json:"models"`
	Split       string        `json:"split"`
	Seeds       int           `json:"seeds"`
	Budgets     []int         `json:"budgets"`
	Methods     []HPOMethod   `json:"methods"`
	PerPipeline []HPOPipeline `json:"per_pipeline"`
	TrainGroups []int         `json:"train_groups"` // (pipeline, epoch) groups each fitted recommender learned from
	Surrogate   string        `json:"surrogate"`
	CodeAware   bool          `json:"code_aware"`
	TestCodes   int           `json:"test_models_with_code"`
}

// SurrogateDoc describes the benchmark's surrogate; the command's help
// repeats it.
const SurrogateDoc = `Each problem is one LEMUR pipeline (task, dataset, metric, model) at the
epoch where it has the most distinct trials, if that is at least --min-trials.
Its search space is the pipeline's own hyperparameters: lr log-scaled over
LEMUR's [1e-5, 1] (widened to the recorded values), batch over log2 of the
recorded range, transform a category over the recorded names, every other
number over [0, 1] (dropout [0, 0.5]) widened to the recorded values. A
proposal scores the accuracy of the nearest recorded trial, the distance
being Euclidean over the parameters in [0, 1] units (log lr, log2 batch,
linear others) plus 1 when the transform differs (a category: a mismatch
costs as much as crossing one whole range). The normalised regret after n
proposals is (best recorded - best found) / (best recorded - worst recorded),
0 when a method found the pipeline's best trial.`

// hpoProblem is one pipeline at one epoch with its distinct trials.
type hpoProblem struct {
	p      lemur.Pipeline
	epoch  int
	space  *hpo.Space
	pts    [][]float64 // internal coordinates of the recorded trials
	acc    []float64
	lo, hi float64
}

// hpoProblems picks the pipelines with at least minTrials distinct trials
// at one epoch (the epoch with the most; the lowest on ties).
func hpoProblems(recs []lemur.Record, minTrials int) ([]*hpoProblem, error) {
	type key struct {
		p     lemur.Pipeline
		epoch int
	}
	groups := map[key][]*lemur.Record{}
	for i := range recs {
		r := &recs[i]
		if math.IsNaN(r.Accuracy) {
			continue
		}
		k := key{r.Pipeline, r.Epoch}
		groups[k] = append(groups[k], r)
	}
	best := map[lemur.Pipeline]key{}
	distinct := func(rs []*lemur.Record) int {
		u := map[string]bool{}
		for _, r := range rs {
			u[r.UID] = true
		}
		return len(u)
	}
	nd := map[key]int{}
	for k, rs := range groups {
		nd[k] = distinct(rs)
		b, ok := best[k.p]
		if !ok || nd[k] > nd[b] || (nd[k] == nd[b] && k.epoch < b.epoch) {
			best[k.p] = k
		}
	}
	var out []*hpoProblem
	for _, k := range best {
		if nd[k] < minTrials {
			continue
		}
		pr, err := newHPOProblem(k.p, k.epoch, groups[k])
		if err != nil {
			return nil, err
		}
		if pr != nil {
			out = append(out, pr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].p.String() < out[j].p.String() })
	return out, nil
}

func newHPOProblem(p lemur.Pipeline, epoch int, rs []*lemur.Record) (*hpoProblem, error) {
	// Distinct trials: the first record of a uid (files are sorted by
	// accuracy, so the best if a uid repeats).
	seen := map[string]bool{}
	var trials []*lemur.Record
	for _, r := range rs {
		if !seen[r.UID] {
			seen[r.UID] = true
			trials = append(trials, r)
		}
	}
	type stat struct {
		lo, hi  float64
		numeric bool
		strs    []string
		allPow2 bool
		n       int
	}
	stats := map[string]*stat{}
	var names []string
	for _, r := range trials {
		for _, it := range r.Prm {
			st := stats[it.Key]
			if st == nil {
				st = &stat{lo: math.Inf(1), hi: math.Inf(-1), numeric: true, allPow2: true}
				stats[it.Key] = st
				names = append(names, it.Key)
			}
			st.n++
			if f, ok := lemur.AsFloat(it.Value); ok && !isString(it.Value) {
				st.lo, st.hi = math.Min(st.lo, f), math.Max(st.hi, f)
				if f < 1 || math.Log2(f) != math.Trunc(math.Log2(f)) {
					st.allPow2 = false
				}
			} else {
				st.numeric = false
				s := lemur.Repr(it.Value)
				if sv, ok := it.Value.(string); ok {
					s = sv
				}
				if !slices.Contains(st.strs, s) {
					st.strs = append(st.strs, s)
				}
			}
		}
	}
	var ps []hpo.Param
	for _, name := range names {
		st := stats[name]
		switch {
		case !st.numeric:
			sort.Strings(st.strs)
			ps = append(ps, hpo.Param{Name: name, Kind: hpo.Categorical, Choices: st.strs})
		case name == "lr" && st.lo > 0:
			ps = append(ps, hpo.Param{Name: name, Kind: hpo.Float, Log: true, Low: math.Min(hpo.LRLow, st.lo), High: math.Max(hpo.LRHigh, st.hi)})
		case name == "batch" && st.allPow2:
			ps = append(ps, hpo.Param{Name: name, Kind: hpo.Pow2, Low: st.lo, High: st.hi})
		case name == "batch" && st.lo >= 1:
			ps = append(ps, hpo.Param{Name: name, Kind: hpo.Int, Log: true, Low: math.Floor(st.lo), High: math.Ceil(st.hi)})
		default:
			hi := 1.0
			if name == "dropout" {
				hi = hpo.DropoutHigh
			}
			ps = append(ps, hpo.Param{Name: name, Kind: hpo.Float, Low: math.Min(0, st.lo), High: math.Max(hi, st.hi)})
		}
	}
	sp, err := hpo.NewSpace(ps...)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", p, err)
	}
	pr := &hpoProblem{p: p, epoch: epoch, space: sp, lo: math.Inf(1), hi: math.Inf(-1)}
	for _, r := range trials {
		pr.pts = append(pr.pts, sp.Encode(r.Prm))
		pr.acc = append(pr.acc, r.Accuracy)
		pr.lo, pr.hi = math.Min(pr.lo, r.Accuracy), math.Max(pr.hi, r.Accuracy)
	}
	if pr.hi-pr.lo < 1e-12 {
		return nil, nil // every trial scored the same: no regret to measure
	}
	return pr, nil
}

func isString(v lemur.Value) bool { _, ok := v.(string); return ok }

// eval is the surrogate: the accuracy of the nearest recorded trial.
func (pr *hpoProblem) eval(x []float64) float64 {
	best, bestD := 0, math.Inf(1)
	for i, y := range pr.pts {
		d := 0.0
		for j := range pr.space.Params {
			p := &pr.space.Params[j]
			if math.IsNaN(y[j]) || math.IsNaN(x[j]) {
				continue
			}
			if p.Kind == hpo.Categorical {
				if x[j] != y[j] {
					d++
				}
				continue
			}
			u := p.Unit(x[j]) - p.Unit(y[j])
			d += u * u
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	return pr.acc[best]
}

func (pr *hpoProblem) regret(bestFound float64) float64 {
	return (pr.hi - bestFound) / (pr.hi - pr.lo)
}

// regretCurve evaluates proposals in order and returns the regret after
// each budget.
func (pr *hpoProblem) regretCurve(xs [][]float64, budgets []int) []float64 {
	out := make([]float64, len(budgets))
	best := math.Inf(-1)
	bi := 0
	for n := 1; bi < len(budgets); n++ {
		if n <= len(xs) {
			best = math.Max(best, pr.eval(xs[n-1]))
		}
		for bi < len(budgets) && budgets[bi] == n {
			out[bi] = pr.regret(best)
			bi++
		}
	}
	return out
}

// runSearch runs a sampler for n proposals, starting with warm ones.
func (pr *hpoProblem) runSearch(s hpo.Sampler, warm [][]float64, n int, seed uint64) [][]float64 {
	var obs []hpo.Observation
	var xs [][]float64
	for i := range n {
		var x []float64
		if i < len(warm) {
			x = warm[i]
		} else {
			x = s.Sample(pr.space, obs, hpo.NewRand(seed, i))
		}
		// Round-trip through the configuration so proposals are what a
		// worker would receive (rounded ints, clipped ranges).
		x = pr.space.Encode(pr.space.Decode(x))
		xs = append(xs, x)
		obs = append(obs, hpo.Observation{X: x, Loss: -pr.eval(x)})
	}
	return xs
}

// RunHPO runs the benchmark.
func RunHPO(ctx context.Context, cfg HPOConfig) (*HPOResult, error) {
	cfg.defaults()
	if !sort.IntsAreSorted(cfg.Budgets) || cfg.Budgets[0] < 1 {
		return nil, fmt.Errorf("budgets %v: want increasing positive numbers", cfg.Budgets)
	}
	maxB := cfg.Budgets[len(cfg.Budgets)-1]
	type fold struct {
		train []lemur.Record
		probs []*hpoProblem
	}
	var folds []fold
	res := &HPOResult{Seeds: cfg.Seeds, Budgets: cfg.Budgets, Surrogate: SurrogateDoc}
	if cfg.Test != nil {
		probs, err := hpoProblems(cfg.Test, cfg.MinTrials)
		if err != nil {
			return nil, err
		}
		folds = append(folds, fold{train: cfg.Train, probs: probs})
		res.Split = "train tree / test tree"
	} else {
		all, err := hpoProblems(cfg.Train, cfg.MinTrials)
		if err != nil {
			return nil, err
		}
		models := map[string]bool{}
		for i := range cfg.Train {
			models[cfg.Train[i].NN] = true
		}
		names := make([]string, 0, len(models))
		for m := range models {
			names = append(names, m)
		}
		sort.Strings(names)
		rng := rand.New(rand.NewPCG(cfg.SplitSeed, 0x5eed))
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		foldOf := map[string]int{}
		k := cfg.Folds
		if k < 1 {
			return nil, fmt.Errorf("folds %d: want at least 1", k)
		}
		for i, m := range names {
			if k == 1 {
				if float64(i) < cfg.TestShare*float64(len(names)) {
					foldOf[m] = 0
				} else {
					foldOf[m] = -1
				}
			} else {
				foldOf[m] = i % k
			}
		}
		for f := range k {
			var fd fold
			for i := range cfg.Train {
				if foldOf[cfg.Train[i].NN] != f {
					fd.train = append(fd.train, cfg.Train[i])
				}
			}
			for _, pr := range all {
				if foldOf[pr.p.NN] == f {
					fd.probs = append(fd.probs, pr)
				}
			}
			folds = append(folds, fd)
		}
		if k == 1 {
			res.Split = fmt.Sprintf("by model, %.0f%% held out, seed %d", 100*cfg.TestShare, cfg.SplitSeed)
		} else {
			res.Split = fmt.Sprintf("%d folds by model, seed %d", k, cfg.SplitSeed)
		}
	}
	total := 0
	for _, f := range folds {
		total += len(f.probs)
	}
	if total == 0 {
		return nil, fmt.Errorf("no pipeline has %d distinct trials at one epoch: nothing to benchmark (lower --min-trials or use a bigger tree)", cfg.MinTrials)
	}
	methods := []string{MethodRandom, MethodTPE, MethodLearned, MethodLearnedTPE, MethodHindsight}
	var tested []*hpoProblem
	done := 0
	models := map[string]bool{}
	for _, f := range folds {
		if len(f.probs) == 0 {
			continue
		}
		lo := cfg.Learned
		lo.Codes = cfg.Codes
		learned, err := hpo.FitLearned(f.train, lo)
		if err != nil {
			return nil, fmt.Errorf("fit the learned recommender: %w", err)
		}
		res.TrainGroups = append(res.TrainGroups, learned.Groups())
		out := make([]HPOPipeline, len(f.probs))
		errs := make([]error, len(f.probs))
		var wg sync.WaitGroup
		var mu sync.Mutex
		sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
		for i, pr := range f.probs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				out[i], errs[i] = runHPOProblem(ctx, &cfg, pr, learned, maxB)
				mu.Lock()
				done++
				if cfg.Progress != nil {
					cfg.Progress(done, total)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return nil, err
			}
			res.PerPipeline = append(res.PerPipeline, out[i])
			models[f.probs[i].p.NN] = true
		}
		tested = append(tested, f.probs...)
	}
	hs := hindsightCurves(tested, cfg.Budgets)
	for i := range res.PerPipeline {
		res.PerPipeline[i].Regret[MethodHindsight] = hs[res.PerPipeline[i].Pipeline]
	}
	sort.Slice(res.PerPipeline, func(i, j int) bool { return res.PerPipeline[i].Pipeline < res.PerPipeline[j].Pipeline })
	res.Pipelines, res.Models = len(res.PerPipeline), len(models)
	res.CodeAware = len(cfg.Codes) > 0
	for m := range models {
		if _, ok := cfg.Codes[m]; ok {
			res.TestCodes++
		}
	}
	for _, m := range methods {
		hm := HPOMethod{Name: m, Regret: make([]float64, len(cfg.Budgets)), StdErr: make([]float64, len(cfg.Budgets))}
		for b := range cfg.Budgets {
			var s, s2 float64
			for _, pp := range res.PerPipeline {
				v := pp.Regret[m][b]
				s += v
				s2 += v * v
			}
			n := float64(len(res.PerPipeline))
			mean := s / n
			hm.Regret[b] = mean
			if n > 1 {
				hm.StdErr[b] = math.Sqrt(math.Max(0, s2/n-mean*mean) / (n - 1))
			}
		}
		res.Methods = append(res.Methods, hm)
	}
	return res, nil
}

func runHPOProblem(ctx context.Context, cfg *HPOConfig, pr *hpoProblem, learned *hpo.Learned, maxB int) (HPOPipeline, error) {
	pp := HPOPipeline{Pipeline: pr.p.String(), Epoch: pr.epoch, Trials: len(pr.pts), Best: pr.hi, Worst: pr.lo, Regret: map[string][]float64{}}
	q := hpo.Query{Task: pr.p.Task, Dataset: pr.p.Dataset, Metric: pr.p.Metric, Model: pr.p.NN, Epochs: pr.epoch, Code: cfg.Codes[pr.p.NN]}
	recs, err := learned.Recommend(ctx, q, pr.space, max(maxB, cfg.Warm))
	if err != nil {
		return pp, fmt.Errorf("%s: learned recommender: %w", pr.p, err)
	}
	var rx [][]float64
	for _, r := range recs {
		rx = append(rx, pr.space.Encode(r))
	}
	// The one-shot list is deterministic; when it runs short, its last
	// proposal repeats (no new information).
	lx := slices.Clone(rx)
	for len(lx) > 0 && len(lx) < maxB {
		lx = append(lx, lx[len(lx)-1])
	}
	if len(lx) == 0 {
		return pp, fmt.Errorf("%s: the learned recommender proposed nothing", pr.p)
	}
	pp.Regret[MethodLearned] = pr.regretCurve(lx, cfg.Budgets)
	warm := rx[:min(cfg.Warm, len(rx))]
	avg := func(name string, run func(seed uint64) [][]float64) {
		sum := make([]float64, len(cfg.Budgets))
		for s := range cfg.Seeds {
			for b, v := range pr.regretCurve(run(uint64(s+1)), cfg.Budgets) {
				sum[b] += v
			}
		}
		for b := range sum {
			sum[b] /= float64(cfg.Seeds)
		}
		pp.Regret[name] = sum
	}
	avg(MethodRandom, func(seed uint64) [][]float64 { return pr.runSearch(hpo.RandomSampler{}, nil, maxB, seed) })
	avg(MethodTPE, func(seed uint64) [][]float64 { return pr.runSearch(hpo.NewTPE(), nil, maxB, seed) })
	avg(MethodLearnedTPE, func(seed uint64) [][]float64 { return pr.runSearch(hpo.NewTPE(), warm, maxB, seed) })
	return pp, ctx.Err()
}

// hindsightCurves computes MethodHindsight's regret curve of each problem,
// keyed by pipeline name. Where a pipeline lacks a configuration's
// transform, a list shared by a whole dataset cannot say which of the
// pipeline's own transforms to use instead: it scores their mean.
func hindsightCurves(probs []*hpoProblem, budgets []int) map[string][]float64 {
	byData := map[[2]string][]*hpoProblem{}
	for _, pr := range probs {
		k := [2]string{pr.p.Task, pr.p.Dataset}
		byData[k] = append(byData[k], pr)
	}
	maxB := budgets[len(budgets)-1]
	out := map[string][]float64{}
	for _, ps := range byData {
		var cands []lemur.Dict
		for _, pr := range ps {
			for _, x := range pr.pts {
				cands = append(cands, pr.space.Decode(x))
			}
		}
		R := make([][]float64, len(cands)) // R[c][p]: regret of candidate c on pipeline p
		var wg sync.WaitGroup
		sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
		for c := range cands {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				R[c] = make([]float64, len(ps))
				for j, pr := range ps {
					R[c][j] = pr.regretOf(cands[c])
				}
			}()
		}
		wg.Wait()
		cur := make([]float64, len(ps))
		for j := range cur {
			cur[j] = 1
		}
		curves := make([][]float64, len(ps))
		bi := 0
		for n := 1; n <= maxB; n++ {
			best, bestV := -1, math.Inf(1)
			for c := range cands {
				v := 0.0
				for j := range ps {
					v += math.Min(cur[j], R[c][j])
				}
				if v < bestV {
					best, bestV = c, v
				}
			}
			for j := range ps {
				cur[j] = math.Min(cur[j], R[best][j])
			}
			for ; bi < len(budgets) && budgets[bi] == n; bi++ {
				for j := range ps {
					curves[j] = append(curves[j], cur[j])
				}
			}
		}
		for j, pr := range ps {
			out[pr.p.String()] = curves[j]
		}
	}
	return out
}

// regretOf scores a configuration from another pipeline; with a transform
// this pipeline never recorded, the mean over its own transforms.
func (pr *hpoProblem) regretOf(cfg lemur.Dict) float64 {
	x := pr.space.Encode(cfg)
	ti := pr.space.Index("transform")
	if ti < 0 || !math.IsNaN(x[ti]) {
		return pr.regret(pr.eval(x))
	}
	sum := 0.0
	for c := range pr.space.Params[ti].Choices {
		x[ti] = float64(c)
		sum += pr.regret(pr.eval(x))
	}
	return sum / float64(len(pr.space.Params[ti].Choices))
}

// WriteHPOTable prints the result as a table.
func WriteHPOTable(w io.Writer, r *HPOResult) error {
	fmt.Fprintf(w, "HPO benchmark: %d pipelines of %d models (%s), %d seeds per stochastic method\n", r.Pipelines, r.Models, r.Split, r.Seeds)
	if r.CodeAware {
		fmt.Fprintf(w, "code-aware one-shot: the recommender compares architectures (%d of %d test models have code)\n", r.TestCodes, r.Models)
	}
	fmt.Fprintf(w, "mean normalised regret after n proposals (lower is better; +- standard error over pipelines)\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := []string{"method"}
	for _, b := range r.Budgets {
		hdr = append(hdr, fmt.Sprintf("n=%d", b))
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, m := range r.Methods {
		row := []string{m.Name}
		for i := range m.Regret {
			row = append(row, fmt.Sprintf("%.3f +- %.3f", m.Regret[i], m.StdErr[i]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// WriteHPOJSON prints the result as JSON.
func WriteHPOJSON(w io.Writer, r *HPOResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteHPOPipelines prints each pipeline's regret at every budget.
func WriteHPOPipelines(w io.Writer, r *HPOResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := []string{"pipeline", "epoch", "trials"}
	for _, m := range r.Methods {
		hdr = append(hdr, m.Name)
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, p := range r.PerPipeline {
		row := []string{p.Pipeline, fmt.Sprint(p.Epoch), fmt.Sprint(p.Trials)}
		for _, m := range r.Methods {
			var vs []string
			for _, v := range p.Regret[m.Name] {
				vs = append(vs, fmt.Sprintf("%.2f", v))
			}
			row = append(row, strings.Join(vs, " "))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}
