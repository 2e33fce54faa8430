package hpo

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// sampleJoint is the multivariate TPE: the parameters are split into
// groups that the observations always set together, and each group gets
// one joint Parzen estimator per side (good, bad).
func (t *TPE) sampleJoint(sp *Space, obs []Observation, good []bool, rng *rand.Rand) []float64 {
	x := sp.Random(rng) // a parameter no observation has stays random
	for _, dims := range coGroups(sp, obs) {
		var below, above [][]float64
		for i := range obs {
			row := make([]float64, len(dims))
			for j, d := range dims {
				row[j] = obs[i].X[d]
			}
			if good[i] {
				below = append(below, row)
			} else {
				above = append(above, row)
			}
		}
		if len(below) == 0 {
			continue // no good trial set this group: it stays random
		}
		l := t.newJoint(sp, dims, below)
		g := t.newJoint(sp, dims, above)
		best, bestScore := l.draw(rng), math.Inf(-1)
		for range max(t.Candidates, 1) {
			v := l.draw(rng)
			if sc := l.logPDF(v) - g.logPDF(v); sc > bestScore {
				best, bestScore = v, sc
			}
		}
		for j, d := range dims {
			x[d] = best[j]
		}
	}
	return x
}

// coGroups partitions the parameters that some observation sets into
// groups set by exactly the same observations (Optuna's group
// decomposition: every observation of a group has all its parameters).
func coGroups(sp *Space, obs []Observation) [][]int {
	bySig := map[string][]int{}
	var sigs []string
	var b strings.Builder
	for d := range sp.Params {
		b.Reset()
		any := false
		for i := range obs {
			if math.IsNaN(obs[i].X[d]) {
				b.WriteByte('0')
			} else {
				b.WriteByte('1')
				any = true
			}
		}
		if !any {
			continue
		}
		sig := b.String()
		if _, ok := bySig[sig]; !ok {
			sigs = append(sigs, sig)
		}
		bySig[sig] = append(bySig[sig], d)
	}
	out := make([][]int, 0, len(sigs))
	for _, s := range sigs {
		out = append(out, bySig[s])
	}
	return out
}

// joint is a mixture of product kernels: one per observation (rows with a
// NaN in the group are left out) plus the prior, a kernel as wide as the
// space at its centre. Numeric dimensions are truncated Gaussians (whole-
// number ones over [lo-0.5, hi+0.5], scored by their unit bin's mass);
// categorical ones are distributions over the choices.
type joint struct {
	dims     []int
	discrete []bool
	cat      []int         // number of choices per dimension; 0 for numeric
	lo, hi   []float64     // modelling bounds per dimension
	logW     []float64     // per component
	cum      []float64     // cumulative weights for drawing
	mu       [][]float64   // [component][dim]
	sigma    [][]float64   // [component][dim]
	logZ     [][]float64   // log of each kernel's mass inside the bounds
	logP     [][][]float64 // [component][dim][choice] for categoricals
	terms    []float64     // scratch for logPDF
}

// jointSigma0 is Optuna's multivariate bandwidth factor: Scott's rule
// 0.2 * n^(-1/(d+4)) of the range.
const jointSigma0 = 0.2

func (t *TPE) newJoint(sp *Space, dims []int, rows [][]float64) *joint {
	var kept [][]float64
	for _, r := range rows {
		if !slices.ContainsFunc(r, math.IsNaN) {
			kept = append(kept, r)
		}
	}
	n, nd := len(kept), len(dims)
	ws := weights(n)
	m := n + 1
	j := &joint{dims: dims, discrete: make([]bool, nd), cat: make([]int, nd), lo: make([]float64, nd), hi: make([]float64, nd),
		logW: make([]float64, m), cum: make([]float64, m), mu: make([][]float64, m), sigma: make([][]float64, m),
		logZ: make([][]float64, m), logP: make([][][]float64, m), terms: make([]float64, m)}
	for k := range m {
		j.mu[k], j.sigma[k], j.logZ[k] = make([]float64, nd), make([]float64, nd), make([]float64, nd)
		j.logP[k] = make([][]float64, nd)
	}
	scott := jointSigma0 * math.Pow(float64(max(n, 1)), -1/float64(nd+4))
	for a, d := range dims {
		p := &sp.Params[d]
		if p.Kind == Categorical {
			c := len(p.Choices)
			j.cat[a] = c
			for k := range m {
				probs := make([]float64, c)
				if k == n { // the prior: uniform
					for i := range probs {
						probs[i] = -math.Log(float64(c))
					}
					j.logP[k][a] = probs
					continue
				}
				// Each observation keeps some mass on every choice, as
				// Optuna's prior_weight/n_kernels.
				base := t.PriorW / float64(m)
				sum := base*float64(c) + 1
				for i := range probs {
					probs[i] = math.Log(base / sum)
				}
				if ci := int(kept[k][a]); ci >= 0 && ci < c {
					probs[ci] = math.Log((base + 1) / sum)
				}
				j.logP[k][a] = probs
			}
			continue
		}
		lo, hi := p.Bounds()
		if p.Discrete() {
			j.discrete[a] = true
			lo, hi = lo-0.5, hi+0.5
		}
		j.lo[a], j.hi[a] = lo, hi
		width := hi - lo
		if width <= 0 {
			width = 1
		}
		minSigma := width / math.Min(100, 1+float64(m))
		s := math.Min(math.Max(scott*width, minSigma), width)
		for k := range m {
			mu, sg := 0.5*(lo+hi), width
			if k < n {
				mu, sg = kept[k][a], s
			}
			j.mu[k][a], j.sigma[k][a] = mu, sg
			j.logZ[k][a] = math.Log(math.Max(normCDF((hi-mu)/sg)-normCDF((lo-mu)/sg), 1e-300))
		}
	}
	sum := t.PriorW
	for _, w := range ws {
		sum += w
	}
	acc := 0.0
	for k := range m {
		w := t.PriorW
		if k < n {
			w = ws[k]
		}
		j.logW[k] = math.Log(w / sum)
		acc += w / sum
		j.cum[k] = acc
	}
	return j
}

// draw samples the mixture: a component by weight, then each dimension
// from that component's kernel (discrete ones rounded to a whole number).
func (j *joint) draw(rng *rand.Rand) []float64 {
	k := sort.SearchFloat64s(j.cum, rng.Float64()*j.cum[len(j.cum)-1])
	k = min(k, len(j.cum)-1)
	out := make([]float64, len(j.dims))
	for a := range j.dims {
		if c := j.cat[a]; c > 0 {
			u, acc := rng.Float64(), 0.0
			out[a] = float64(c - 1)
			for i, lp := range j.logP[k][a] {
				if acc += math.Exp(lp); u < acc {
					out[a] = float64(i)
					break
				}
			}
			continue
		}
		v := truncNormal(rng, j.mu[k][a], j.sigma[k][a], j.lo[a], j.hi[a])
		if j.discrete[a] {
			v = math.Min(math.Max(math.Round(v), j.lo[a]+0.5), j.hi[a]-0.5)
		}
		out[a] = v
	}
	return out
}

// truncNormal draws N(mu, sigma) restricted to [lo, hi] by inverting the
// CDF, so a kernel far outside the range still costs one draw.
func truncNormal(rng *rand.Rand, mu, sigma, lo, hi float64) float64 {
	a, b := normCDF((lo-mu)/sigma), normCDF((hi-mu)/sigma)
	if b-a < 1e-12 {
		return math.Min(math.Max(mu, lo), hi)
	}
	u := a + rng.Float64()*(b-a)
	v := mu + sigma*math.Sqrt2*math.Erfinv(2*u-1)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return lo + rng.Float64()*(hi-lo)
	}
	return math.Min(math.Max(v, lo), hi)
}

// logPDF is the log density (mass, for discrete dimensions) of x.
func (j *joint) logPDF(x []float64) float64 {
	mx := math.Inf(-1)
	for k := range j.logW {
		s := j.logW[k]
		for a := range j.dims {
			if j.cat[a] > 0 {
				ci := min(max(int(x[a]), 0), j.cat[a]-1)
				s += j.logP[k][a][ci]
				continue
			}
			mu, sg := j.mu[k][a], j.sigma[k][a]
			if j.discrete[a] {
				za, zb := (x[a]-0.5-mu)/sg, (x[a]+0.5-mu)/sg
				s += math.Log(math.Max(normCDF(zb)-normCDF(za), 1e-300)) - j.logZ[k][a]
				continue
			}
			z := (x[a] - mu) / sg
			s += -0.5*z*z - math.Log(sg*math.Sqrt(2*math.Pi)) - j.logZ[k][a]
		}
		j.terms[k] = s
		mx = math.Max(mx, s)
	}
	return logSumExp(j.terms, mx)
}
