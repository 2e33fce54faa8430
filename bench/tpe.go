package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
)

// TPEProblem is a function to minimise over a search space; F takes
// internal coordinates (hpo.Space.Encode), so every engine is scored by
// the very same code.
type TPEProblem struct {
	Name  string
	Space *hpo.Space
	F     func(x []float64) float64
}

// TPE benchmark engines, in report order.
const (
	EngineTPE           = "nngpt tpe"
	EngineTPEUnivariate = "nngpt tpe-univariate"
	EngineRandom        = "nngpt random"
	EngineOptunaUni     = "optuna univariate"
	EngineOptunaMulti   = "optuna multivariate"
)

// TPEConfig configures the TPE benchmark.
type TPEConfig struct {
	Problems []TPEProblem
	Seeds    int   // default 20
	Budgets  []int // default 50, 200
	// AskTrials is the study length after which the ask time is measured
	// (the mean of its last 10 asks, sphere-5d, seed 1); 0 skips it.
	AskTrials int
	// Optuna, when set, runs Optuna's TPE (univariate and multivariate)
	// on the same problems and seeds through this python3.
	Optuna string
	// Reuse holds Optuna runs of an earlier result (its --json): a run of
	// the same engine, problem, seed and budgets is taken from it instead
	// of running Optuna again (slow: about a minute per 1,000-trial study).
	Reuse *TPEResult
	// Workers is how many runs go at once (default GOMAXPROCS).
	Workers  int
	Progress func(done, total int)
}

// TPERun is one engine's run of one problem with one seed.
type TPERun struct {
	Engine  string    `json:"engine"`
	Problem string    `json:"problem"`
	Seed    int       `json:"seed"`
	BestAt  []float64 `json:"best_at"` // best value after each budget
}

// TPECell is one engine on one problem at one budget.
type TPECell struct {
	Engine  string  `json:"engine"`
	Problem string  `json:"problem"`
	Budget  int     `json:"budget"`
	Mean    float64 `json:"mean"`
	Median  float64 `json:"median"`
}

// TPERatio compares two engines on one problem at one budget: the ratio
// of their mean best values (each plus RatioEps) and the two-sided
// Wilcoxon signed-rank p-value of their per-seed best values.
type TPERatio struct {
	Ours    string  `json:"ours"`
	Theirs  string  `json:"theirs"`
	Problem string  `json:"problem"` // "" for the geometric mean over problems
	Budget  int     `json:"budget"`
	Ratio   float64 `json:"ratio"`
	P       float64 `json:"p,omitempty"`
	Wins    int     `json:"wins"` // seeds where ours found a lower value
	Losses  int     `json:"losses"`
}

// TPEAsk is an engine's time per ask late in a long study.
type TPEAsk struct {
	Engine string  `json:"engine"`
	Trials int     `json:"after_trials"`
	MS     float64 `json:"ms"`
}

// TPEResult is the benchmark's outcome.
type TPEResult struct {
	Seeds         int        `json:"seeds"`
	Budgets       []int      `json:"budgets"`
	Problems      []string   `json:"problems"`
	Engines       []string   `json:"engines"`
	OptunaVersion string     `json:"optuna_version,omitempty"`
	OptunaSkipped string     `json:"optuna_skipped,omitempty"`
	Cells         []TPECell  `json:"cells"`
	Ratios        []TPERatio `json:"ratios"`
	Ask           []TPEAsk   `json:"ask,omitempty"`
	Runs          []TPERun   `json:"runs"`
}

// RatioEps keeps ratios of near-zero best values finite (a problem both
// engines solve exactly compares as 1).
const RatioEps = 1e-3

func (c *TPEConfig) defaults() {
	if c.Seeds == 0 {
		c.Seeds = 20
	}
	if len(c.Budgets) == 0 {
		c.Budgets = []int{50, 200}
	}
	if c.Workers == 0 {
		c.Workers = max(1, runtime.GOMAXPROCS(0))
	}
}

// nngptEngines are the samplers of this project that run in process.
func nngptEngines() map[string]func() hpo.Sampler {
	return map[string]func() hpo.Sampler{
		EngineTPE:           func() hpo.Sampler { return hpo.NewTPE() },
		EngineTPEUnivariate: func() hpo.Sampler { return hpo.NewUnivariateTPE() },
		EngineRandom:        func() hpo.Sampler { return hpo.RandomSampler{} },
	}
}

// RunTPE runs the benchmark.
func RunTPE(ctx context.Context, cfg TPEConfig) (*TPEResult, error) {
	cfg.defaults()
	if len(cfg.Problems) == 0 {
		return nil, fmt.Errorf("no problem to benchmark")
	}
	if !sort.IntsAreSorted(cfg.Budgets) || cfg.Budgets[0] < 1 {
		return nil, fmt.Errorf("budgets %v: want increasing positive numbers", cfg.Budgets)
	}
	maxB := cfg.Budgets[len(cfg.Budgets)-1]
	res := &TPEResult{Seeds: cfg.Seeds, Budgets: cfg.Budgets, Engines: []string{EngineTPE, EngineTPEUnivariate, EngineRandom}}
	for _, p := range cfg.Problems {
		res.Problems = append(res.Problems, p.Name)
	}
	reuse := map[string]TPERun{}
	if cfg.Reuse != nil && slices.Equal(cfg.Reuse.Budgets, cfg.Budgets) {
		for _, r := range cfg.Reuse.Runs {
			if r.Engine == EngineOptunaUni || r.Engine == EngineOptunaMulti {
				reuse[fmt.Sprint(r.Engine, r.Problem, r.Seed)] = r
			}
		}
		if len(reuse) > 0 {
			res.OptunaVersion = cfg.Reuse.OptunaVersion
		}
	}
	var drivers *optunaPool
	if cfg.Optuna != "" {
		var err error
		drivers, err = newOptunaPool(ctx, cfg.Optuna, cfg.Workers)
		if err != nil {
			return nil, err
		}
		defer drivers.close()
		res.OptunaVersion = drivers.version
	}
	if cfg.Optuna != "" || len(reuse) > 0 {
		res.Engines = append(res.Engines, EngineOptunaUni, EngineOptunaMulti)
	}
	type job struct {
		engine string
		prob   *TPEProblem
		seed   int
	}
	var jobs []job
	for _, e := range res.Engines {
		for i := range cfg.Problems {
			for s := 1; s <= cfg.Seeds; s++ {
				jobs = append(jobs, job{e, &cfg.Problems[i], s})
			}
		}
	}
	runs := make([]TPERun, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	sem := make(chan struct{}, cfg.Workers)
	ours := nngptEngines()
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var vals []float64
			var err error
			if r, ok := reuse[fmt.Sprint(j.engine, j.prob.Name, j.seed)]; ok {
				runs[i] = r
			} else if mk, ok := ours[j.engine]; ok {
				vals, _ = runNNGPT(j.prob, mk(), uint64(j.seed), maxB)
			} else if drivers == nil {
				err = fmt.Errorf("no Optuna run of %s seed %d to reuse and no python3 with optuna to run it", j.prob.Name, j.seed)
			} else {
				vals, _, err = drivers.run(ctx, j.prob, j.engine == EngineOptunaMulti, j.seed, maxB)
			}
			if vals != nil {
				runs[i] = TPERun{Engine: j.engine, Problem: j.prob.Name, Seed: j.seed, BestAt: bestAt(vals, cfg.Budgets)}
			}
			errs[i] = err
			mu.Lock()
			done++
			if cfg.Progress != nil {
				cfg.Progress(done, len(jobs))
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Runs = runs
	res.summarise()
	if cfg.AskTrials > 0 {
		sphere := SphereProblem()
		for _, e := range res.Engines {
			var ms []float64
			if _, mine := ours[e]; !mine && drivers == nil {
				for _, a := range cfg.Reuse.Ask {
					if a.Engine == e && a.Trials == cfg.AskTrials {
						res.Ask = append(res.Ask, a)
					}
				}
				continue
			}
			if mk, ok := ours[e]; ok {
				_, ms = runNNGPT(&sphere, mk(), 1, cfg.AskTrials)
			} else {
				var err error
				if _, ms, err = drivers.run(ctx, &sphere, e == EngineOptunaMulti, 1, cfg.AskTrials); err != nil {
					return nil, err
				}
			}
			tail := ms[max(0, len(ms)-10):]
			res.Ask = append(res.Ask, TPEAsk{Engine: e, Trials: cfg.AskTrials, MS: mean(tail)})
		}
	}
	return res, nil
}

// runNNGPT minimises p with s and returns every trial's value and the
// time of each ask in milliseconds.
func runNNGPT(p *TPEProblem, s hpo.Sampler, seed uint64, n int) (vals, askMS []float64) {
	var obs []hpo.Observation
	for i := range n {
		t0 := time.Now()
		x := s.Sample(p.Space, obs, hpo.NewRand(seed, i))
		// What a worker would receive: rounded and clipped.
		x = p.Space.Encode(p.Space.Decode(x))
		askMS = append(askMS, float64(time.Since(t0).Microseconds())/1e3)
		y := p.F(x)
		vals = append(vals, y)
		obs = append(obs, hpo.Observation{X: x, Loss: y})
	}
	return vals, askMS
}

func bestAt(vals []float64, budgets []int) []float64 {
	out := make([]float64, len(budgets))
	best := math.Inf(1)
	bi := 0
	for i, v := range vals {
		best = math.Min(best, v)
		for bi < len(budgets) && budgets[bi] == i+1 {
			out[bi] = best
			bi++
		}
	}
	for ; bi < len(budgets); bi++ {
		out[bi] = best
	}
	return out
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(max(1, len(xs)))
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summarise fills Cells and Ratios from Runs: every nngpt TPE against
// every other engine that is not itself an nngpt TPE variant of the same
// kind, per problem and as the geometric mean over problems.
func (r *TPEResult) summarise() {
	type key struct {
		engine, problem string
	}
	per := map[key][][]float64{} // [seed][budget], seeds in order
	byKey := map[key][]TPERun{}
	for _, run := range r.Runs {
		k := key{run.Engine, run.Problem}
		byKey[k] = append(byKey[k], run)
	}
	for k, rs := range byKey {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Seed < rs[j].Seed })
		for _, run := range rs {
			per[k] = append(per[k], run.BestAt)
		}
	}
	col := func(k key, b int) []float64 {
		var out []float64
		for _, v := range per[k] {
			out = append(out, v[b])
		}
		return out
	}
	r.Cells = r.Cells[:0]
	for _, e := range r.Engines {
		for _, p := range r.Problems {
			for b, budget := range r.Budgets {
				c := col(key{e, p}, b)
				r.Cells = append(r.Cells, TPECell{Engine: e, Problem: p, Budget: budget, Mean: mean(c), Median: median(c)})
			}
		}
	}
	r.Ratios = r.Ratios[:0]
	for _, ours := range []string{EngineTPE, EngineTPEUnivariate} {
		for _, theirs := range r.Engines {
			if theirs == ours || (theirs != EngineRandom && !slices.Contains([]string{EngineOptunaUni, EngineOptunaMulti}, theirs)) {
				continue
			}
			for b, budget := range r.Budgets {
				logSum := 0.0
				var all TPERatio
				for _, p := range r.Problems {
					a, t := col(key{ours, p}, b), col(key{theirs, p}, b)
					ratio := (mean(a) + RatioEps) / (mean(t) + RatioEps)
					w, l := 0, 0
					for i := range min(len(a), len(t)) {
						switch {
						case a[i] < t[i]:
							w++
						case a[i] > t[i]:
							l++
						}
					}
					r.Ratios = append(r.Ratios, TPERatio{Ours: ours, Theirs: theirs, Problem: p, Budget: budget, Ratio: ratio,
						P: wilcoxon(a, t), Wins: w, Losses: l})
					logSum += math.Log(ratio)
					all.Wins += w
					all.Losses += l
				}
				all.Ours, all.Theirs, all.Budget = ours, theirs, budget
				all.Ratio = math.Exp(logSum / float64(len(r.Problems)))
				r.Ratios = append(r.Ratios, all)
			}
		}
	}
}

// wilcoxon is the two-sided p-value of the Wilcoxon signed-rank test of
// paired samples (normal approximation with the tie correction; zero
// differences are dropped). 1 when every pair ties.
func wilcoxon(a, b []float64) float64 {
	var d []float64
	for i := range min(len(a), len(b)) {
		// Differences below float noise are ties (both found the optimum).
		if x := a[i] - b[i]; math.Abs(x) > 1e-12*math.Max(1, math.Abs(a[i])+math.Abs(b[i])) {
			d = append(d, x)
		}
	}
	n := len(d)
	if n == 0 {
		return 1
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return math.Abs(d[idx[i]]) < math.Abs(d[idx[j]]) })
	ranks := make([]float64, n)
	tie := 0.0
	for i := 0; i < n; {
		j := i
		for j+1 < n && math.Abs(d[idx[j+1]]) == math.Abs(d[idx[i]]) {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = r
		}
		t := float64(j - i + 1)
		tie += t*t*t - t
		i = j + 1
	}
	wPlus := 0.0
	for i, x := range d {
		if x > 0 {
			wPlus += ranks[i]
		}
	}
	nf := float64(n)
	mu := nf * (nf + 1) / 4
	sd := math.Sqrt(nf*(nf+1)*(2*nf+1)/24 - tie/48)
	if sd == 0 {
		return 1
	}
	z := (math.Abs(wPlus-mu) - 0.5) / sd // continuity correction
	if z < 0 {
		return 1
	}
	return math.Min(1, 2*(1-normCDFBench(z)))
}

func normCDFBench(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// floatProblem is f over [lo, hi]^dims with parameters x0, x1, ...
func floatProblem(name string, lo, hi float64, dims int, f func(x []float64) float64) TPEProblem {
	var ps []hpo.Param
	for i := range dims {
		ps = append(ps, hpo.Param{Name: fmt.Sprintf("x%d", i), Kind: hpo.Float, Low: lo, High: hi})
	}
	sp, err := hpo.NewSpace(ps...)
	if err != nil {
		panic(err) // the definitions below are constant
	}
	return TPEProblem{Name: name, Space: sp, F: f}
}

// SphereProblem is sum (x_i - 1)^2 over [-5, 5]^5: its optimum is off
// the centre, where every sampler's prior would favour it.
func SphereProblem() TPEProblem {
	return floatProblem("sphere-5d", -5, 5, 5, func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += (v - 1) * (v - 1)
		}
		return s
	})
}

// AnalyticProblems are the standard test functions of the benchmark,
// each shifted so its minimum is 0: sphere-5d, Branin, Rosenbrock-4d,
// Ackley-5d and a training-like mixed space (log-scaled lr, an integer
// width and a categorical transform).
func AnalyticProblems() []TPEProblem {
	branin := floatProblem("branin", 0, 1, 2, nil)
	bsp, _ := hpo.NewSpace(hpo.Param{Name: "x0", Kind: hpo.Float, Low: -5, High: 10}, hpo.Param{Name: "x1", Kind: hpo.Float, Low: 0, High: 15})
	branin.Space = bsp
	branin.F = func(x []float64) float64 {
		b, c := 5.1/(4*math.Pi*math.Pi), 5/math.Pi
		return math.Pow(x[1]-b*x[0]*x[0]+c*x[0]-6, 2) + 10*(1-1/(8*math.Pi))*math.Cos(x[0]) + 10 - 0.397887357729738
	}
	rosen := floatProblem("rosenbrock-4d", -2, 2, 4, func(x []float64) float64 {
		s := 0.0
		for i := 0; i+1 < len(x); i++ {
			s += 100*math.Pow(x[i+1]-x[i]*x[i], 2) + math.Pow(1-x[i], 2)
		}
		return s
	})
	ackley := floatProblem("ackley-5d", -5, 5, 5, func(x []float64) float64 {
		var s1, s2 float64
		for _, v := range x {
			s1 += v * v
			s2 += math.Cos(2 * math.Pi * v)
		}
		n := float64(len(x))
		return math.Max(0, -20*math.Exp(-0.2*math.Sqrt(s1/n))-math.Exp(s2/n)+20+math.E)
	})
	choices := []string{"echo", "norm", "complex", "norm_flip"}
	penalty := []float64{0.6, 0.1, 0.3, 0}
	msp, err := hpo.NewSpace(hpo.Param{Name: "lr", Kind: hpo.Float, Low: 1e-5, High: 1, Log: true},
		hpo.Param{Name: "width", Kind: hpo.Int, Low: 1, High: 32}, hpo.Param{Name: "transform", Kind: hpo.Categorical, Choices: choices})
	if err != nil {
		panic(err)
	}
	li, wi, ti := msp.Index("lr"), msp.Index("width"), msp.Index("transform")
	mixed := TPEProblem{Name: "mixed-cat", Space: msp, F: func(x []float64) float64 {
		lr := math.Log10(math.Exp(x[li]))
		return math.Pow(lr+1.7, 2) + math.Pow((x[wi]-20)/8, 2) + penalty[int(x[ti])]
	}}
	return []TPEProblem{SphereProblem(), branin, rosen, ackley, mixed}
}

// LEMURProblems turns the k LEMUR pipelines with the most distinct trials
// at one epoch into problems: the normalised regret of the nearest
// recorded trial (the surrogate of `nngpt bench hpo`), 0 at the
// pipeline's best recorded accuracy.
func LEMURProblems(recs []lemur.Record, k int) ([]TPEProblem, error) {
	probs, err := hpoProblems(recs, 30)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(probs, func(i, j int) bool { return len(probs[i].pts) > len(probs[j].pts) })
	var out []TPEProblem
	for _, pr := range probs[:min(k, len(probs))] {
		out = append(out, TPEProblem{Name: "lemur:" + pr.p.NN + "/" + pr.p.Dataset, Space: pr.space,
			F: func(x []float64) float64 { return pr.regret(pr.eval(x)) }})
	}
	return out, nil
}

// WriteTPETable prints the result: mean best values, then one ratio table
// per pair of engines compared, then the ask times.
func WriteTPETable(w io.Writer, r *TPEResult) error {
	fmt.Fprintf(w, "TPE benchmark: %d problems, %d seeds, best value found (lower is better)", len(r.Problems), r.Seeds)
	if r.OptunaVersion != "" {
		fmt.Fprintf(w, ", Optuna %s", r.OptunaVersion)
	}
	fmt.Fprintln(w)
	if r.OptunaSkipped != "" {
		fmt.Fprintf(w, "Optuna skipped: %s\n", r.OptunaSkipped)
	}
	fmt.Fprintln(w, "\nmean best value over seeds")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "problem\ttrials\t"+strings.Join(r.Engines, "\t"))
	cell := map[string]TPECell{}
	for _, c := range r.Cells {
		cell[fmt.Sprint(c.Engine, c.Problem, c.Budget)] = c
	}
	for _, p := range r.Problems {
		for _, b := range r.Budgets {
			row := []string{p, fmt.Sprint(b)}
			for _, e := range r.Engines {
				row = append(row, fmt.Sprintf("%.4g", cell[fmt.Sprint(e, p, b)].Mean))
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	type pair struct{ ours, theirs string }
	var pairs []pair
	byPair := map[pair]map[string]TPERatio{}
	for _, x := range r.Ratios {
		k := pair{x.Ours, x.Theirs}
		if byPair[k] == nil {
			byPair[k] = map[string]TPERatio{}
			pairs = append(pairs, k)
		}
		byPair[k][fmt.Sprint(x.Problem, x.Budget)] = x
	}
	for _, k := range pairs {
		fmt.Fprintf(w, "\nratio %s / %s (mean + %g; below 1: ours better; p: Wilcoxon signed-rank over seeds, * p < 0.05; wins-losses)\n", k.ours, k.theirs, RatioEps)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		hdr := []string{"problem"}
		for _, b := range r.Budgets {
			hdr = append(hdr, fmt.Sprintf("n=%d", b))
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t"))
		for _, p := range append(slices.Clone(r.Problems), "") {
			name := p
			if p == "" {
				name = "geometric mean"
			}
			row := []string{name}
			for _, b := range r.Budgets {
				x := byPair[k][fmt.Sprint(p, b)]
				s := fmt.Sprintf("%.3f", x.Ratio)
				if p != "" {
					star := ""
					if x.P < 0.05 {
						star = "*"
					}
					s += fmt.Sprintf(" (p %.3f%s, %d-%d)", x.P, star, x.Wins, x.Losses)
				} else {
					s += fmt.Sprintf(" (%d-%d)", x.Wins, x.Losses)
				}
				row = append(row, s)
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Ask) > 0 {
		fmt.Fprintf(w, "\nask time after %d trials (sphere-5d, mean of the last 10 asks)\n", r.Ask[0].Trials)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range r.Ask {
			fmt.Fprintf(tw, "%s\t%.3f ms\n", a.Engine, a.MS)
		}
		return tw.Flush()
	}
	return nil
}
