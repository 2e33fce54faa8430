package hpo

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// TPE is the Tree-structured Parzen Estimator (Bergstra et al. 2011): the
// finished trials are split into a good group (the best Gamma(n)) and the
// rest; each group gets a Parzen estimator (a truncated Gaussian mixture
// over its observed values plus a wide prior, or weighted counts for a
// categorical); the proposal is, among Candidates draws from the good
// estimator, the one maximising l(x)/g(x), which maximises expected
// improvement. The first Startup trials are random.
//
// Univariate (Optuna's default before 5.0) models each parameter on its
// own; Multivariate (Optuna's multivariate=True) models them jointly, each
// observation one product kernel over all parameters, so a proposal keeps
// the combinations that worked. Parameters that trials do not always set
// together (conditional ones, or a space widened during a study) are
// modelled in groups that always co-occur, as Optuna's group=True.
// Pending observations (trials still running) join the bad group with the
// worst value (Optuna's constant liar), so parallel workers spread out.
// In a multi-objective study the good group is the best by non-dominated
// rank, ties broken by crowding distance (MOTPE's split, without its
// hypervolume weights).
type TPE struct {
	Startup    int     // random trials before the model is used (Optuna: 10)
	Candidates int     // expected-improvement candidates per proposal (Optuna: 24)
	PriorW     float64 // weight of the prior component (1)
	// Gamma is the size of the good group for n finished trials.
	Gamma func(n int) int
	// Multivariate models the parameters jointly (see above).
	Multivariate bool
	// ConstantLiar counts pending observations as the worst; without it
	// they are ignored.
	ConstantLiar bool
}

// NewTPE returns nngpt's default TPE: multivariate with the constant liar,
// otherwise Optuna's defaults (10 start-up trials, 24 candidates, prior
// weight 1, Scott's bandwidth); `nngpt bench tpe` measures it.
func NewTPE() *TPE {
	return &TPE{Startup: 10, Candidates: 24, PriorW: 1, Gamma: DefaultGamma, Multivariate: true, ConstantLiar: true}
}

// NewUnivariateTPE returns the univariate TPE with Optuna's defaults.
func NewUnivariateTPE() *TPE {
	return &TPE{Startup: 10, Candidates: 24, PriorW: 1, Gamma: DefaultGamma, ConstantLiar: true}
}

// DefaultGamma is Optuna's: 10% of the trials, at most 25.
func DefaultGamma(n int) int {
	return min(int(math.Ceil(0.1*float64(n))), 25)
}

// Name implements Sampler.
func (t *TPE) Name() string {
	if t.Multivariate {
		return "tpe"
	}
	return "tpe-univariate"
}

// Sample implements Sampler.
func (t *TPE) Sample(sp *Space, obs []Observation, rng *rand.Rand) []float64 {
	finished := 0
	kept := obs[:0:0]
	for i := range obs {
		switch {
		case !obs[i].Pending:
			finished++
			kept = append(kept, obs[i])
		case t.ConstantLiar:
			kept = append(kept, obs[i])
		}
	}
	obs = kept
	if finished < max(t.Startup, 1) {
		return sp.Random(rng)
	}
	var order []int
	if slices.ContainsFunc(obs, func(o Observation) bool { return len(o.Losses) > 1 }) {
		order = multiOrder(obs)
	} else {
		order = make([]int, len(obs))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return lessObs(&obs[order[a]], &obs[order[b]]) })
	}
	nGood := min(max(t.Gamma(len(obs)), 1), finished)
	good := make([]bool, len(obs))
	for _, i := range order[:nGood] {
		good[i] = true
	}
	if t.Multivariate {
		return t.sampleJoint(sp, obs, good, rng)
	}
	x := make([]float64, len(sp.Params))
	below := make([]float64, 0, len(obs))
	above := make([]float64, 0, len(obs))
	for d := range sp.Params {
		below, above = below[:0], above[:0]
		// Chronological order matters: old trials weigh less (weights()).
		for i := range obs {
			v := obs[i].X[d]
			if math.IsNaN(v) {
				continue
			}
			if good[i] {
				below = append(below, v)
			} else {
				above = append(above, v)
			}
		}
		p := &sp.Params[d]
		if p.Kind == Categorical {
			x[d] = t.sampleCategorical(len(p.Choices), below, above, rng)
		} else {
			x[d] = t.sampleNumeric(p, below, above, rng)
		}
	}
	return x
}

// weights are Optuna's: 1 for the newest 25 observations, a linear ramp
// from 1/n for older ones, so the model forgets early exploration.
func weights(n int) []float64 {
	w := make([]float64, n)
	if n < 25 {
		for i := range w {
			w[i] = 1
		}
		return w
	}
	ramp := n - 25
	for i := 0; i < ramp; i++ {
		if ramp == 1 {
			w[i] = 1 / float64(n)
		} else {
			w[i] = 1/float64(n) + (1-1/float64(n))*float64(i)/float64(ramp-1)
		}
	}
	for i := ramp; i < n; i++ {
		w[i] = 1
	}
	return w
}

func (t *TPE) sampleCategorical(n int, below, above []float64, rng *rand.Rand) float64 {
	pl := t.categoricalProbs(n, below)
	pg := t.categoricalProbs(n, above)
	cum := make([]float64, n)
	s := 0.0
	for i, p := range pl {
		s += p
		cum[i] = s
	}
	best, bestScore := 0, math.Inf(-1)
	for range t.Candidates {
		u := rng.Float64() * s
		c := sort.SearchFloat64s(cum, u)
		if c >= n {
			c = n - 1
		}
		if sc := math.Log(pl[c]) - math.Log(pg[c]); sc > bestScore {
			best, bestScore = c, sc
		}
	}
	return float64(best)
}

func (t *TPE) categoricalProbs(n int, vals []float64) []float64 {
	p := make([]float64, n)
	w := weights(len(vals))
	for i, v := range vals {
		if c := int(v); c >= 0 && c < n {
			p[c] += w[i]
		}
	}
	sum := 0.0
	for i := range p {
		p[i] += t.PriorW
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// parzen is a Gaussian mixture truncated to [lo, hi].
type parzen struct {
	w, mu, sigma []float64
	mass         []float64 // each component's mass inside [lo, hi]
	logNorm      []float64 // log(w / (sigma * sqrt(2pi) * mass))
	lo, hi       float64
	cum          []float64
	terms        []float64 // scratch for logPDF
}

func (t *TPE) newParzen(vals []float64, lo, hi float64) *parzen {
	n := len(vals)
	ws := weights(n)
	type comp struct {
		mu, w float64
		prior bool
	}
	cs := make([]comp, 0, n+1)
	for i, v := range vals {
		cs = append(cs, comp{v, ws[i], false})
	}
	cs = append(cs, comp{0.5 * (lo + hi), t.PriorW, true})
	// Ties have equal means, so their order changes nothing: no stable sort needed.
	slices.SortFunc(cs, func(a, b comp) int { return cmp.Compare(a.mu, b.mu) })
	m := len(cs)
	pe := &parzen{w: make([]float64, m), mu: make([]float64, m), sigma: make([]float64, m), mass: make([]float64, m),
		logNorm: make([]float64, m), cum: make([]float64, m), terms: make([]float64, m), lo: lo, hi: hi}
	width := hi - lo
	minSigma := width / math.Min(100, 1+float64(m))
	for i, c := range cs {
		pe.mu[i], pe.w[i] = c.mu, c.w
	}
	for i := range cs {
		// Bandwidth: the larger gap to a neighbour; at the ends only the
		// inner gap counts (Optuna's consider_endpoints=False).
		var s float64
		switch {
		case m == 1:
			s = width
		case i == 0:
			s = pe.mu[1] - pe.mu[0]
		case i == m-1:
			s = pe.mu[m-1] - pe.mu[m-2]
		default:
			s = math.Max(pe.mu[i]-pe.mu[i-1], pe.mu[i+1]-pe.mu[i])
		}
		pe.sigma[i] = math.Min(math.Max(s, minSigma), width)
	}
	// The prior keeps the full width whatever its neighbours.
	for i, c := range cs {
		if c.prior {
			pe.sigma[i] = width
		}
	}
	sum := 0.0
	for _, w := range pe.w {
		sum += w
	}
	acc := 0.0
	for i := range pe.w {
		pe.w[i] /= sum
		acc += pe.w[i]
		pe.cum[i] = acc
		pe.mass[i] = math.Max(normCDF((hi-pe.mu[i])/pe.sigma[i])-normCDF((lo-pe.mu[i])/pe.sigma[i]), 1e-300)
		pe.logNorm[i] = math.Log(pe.w[i]) - math.Log(pe.sigma[i]*math.Sqrt(2*math.Pi)*pe.mass[i])
	}
	return pe
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// draw samples the mixture, rejecting draws outside [lo, hi].
func (pe *parzen) draw(rng *rand.Rand) float64 {
	for range 1000 {
		c := sort.SearchFloat64s(pe.cum, rng.Float64()*pe.cum[len(pe.cum)-1])
		if c >= len(pe.cum) {
			c = len(pe.cum) - 1
		}
		v := pe.mu[c] + pe.sigma[c]*rng.NormFloat64()
		if v >= pe.lo && v <= pe.hi {
			return v
		}
	}
	return pe.lo + rng.Float64()*(pe.hi-pe.lo)
}

// logPDF is the log density at v (continuous parameters).
func (pe *parzen) logPDF(v float64) float64 {
	mx := math.Inf(-1)
	terms := pe.terms
	for i := range pe.mu {
		z := (v - pe.mu[i]) / pe.sigma[i]
		terms[i] = pe.logNorm[i] - 0.5*z*z
		if terms[i] > mx {
			mx = terms[i]
		}
	}
	return logSumExp(terms, mx)
}

// logMass is the log probability of the bin [a, b] (discrete parameters).
func (pe *parzen) logMass(a, b float64) float64 {
	p := 0.0
	for i := range pe.mu {
		za, zb := (a-pe.mu[i])/pe.sigma[i], (b-pe.mu[i])/pe.sigma[i]
		if za > 9 || zb < -9 {
			continue // the bin is beyond 9 sigmas: no mass worth an erfc
		}
		p += pe.w[i] * (normCDF(zb) - normCDF(za)) / pe.mass[i]
	}
	return math.Log(p + 1e-300)
}

func logSumExp(xs []float64, mx float64) float64 {
	if math.IsInf(mx, -1) {
		return mx
	}
	s := 0.0
	for _, x := range xs {
		// Terms 40 below the largest change nothing at float64 precision.
		if x > mx-40 {
			s += math.Exp(x - mx)
		}
	}
	return mx + math.Log(s)
}

func (t *TPE) sampleNumeric(p *Param, below, above []float64, rng *rand.Rand) float64 {
	lo, hi := p.Bounds()
	if hi <= lo {
		return lo
	}
	discrete := p.Discrete()
	if discrete {
		// Whole-number coordinates are modelled on [lo-0.5, hi+0.5] and
		// scored by the mass of their unit bin, as Optuna does for ints.
		lo, hi = lo-0.5, hi+0.5
	}
	l := t.newParzen(below, lo, hi)
	g := t.newParzen(above, lo, hi)
	best, bestScore := l.draw(rng), math.Inf(-1)
	var cache map[float64]float64 // discrete values repeat among candidates
	if discrete {
		cache = map[float64]float64{}
	}
	for range t.Candidates {
		v := l.draw(rng)
		var sc float64
		if discrete {
			v = math.Min(math.Max(math.Round(v), lo+0.5), hi-0.5)
			var ok bool
			if sc, ok = cache[v]; !ok {
				sc = l.logMass(v-0.5, v+0.5) - g.logMass(v-0.5, v+0.5)
				cache[v] = sc
			}
		} else {
			sc = l.logPDF(v) - g.logPDF(v)
		}
		if sc > bestScore {
			best, bestScore = v, sc
		}
	}
	if discrete {
		best = math.Min(math.Max(math.Round(best), lo+0.5), hi-0.5)
	}
	return best
}
