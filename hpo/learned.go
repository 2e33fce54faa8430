package hpo

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/nngpt/nngpt/lemur"
)

// Query describes the model and run a one-shot recommendation is for.
type Query struct {
	Task, Dataset, Metric string
	Model                 string  // LEMUR model name (file stem)
	Code                  string  // the model's source, when known
	Epochs                int     // epochs the run will train (0: unknown)
	TargetAccuracy        float64 // what the LLM prompt asks for (0: unset)
}

// Recommender proposes configurations in one shot, without trials.
type Recommender interface {
	Name() string
	// Recommend returns up to k configurations of sp, best first.
	Recommend(ctx context.Context, q Query, sp *Space, k int) ([]lemur.Dict, error)
}

// LearnedOptions tune the learned recommender; zero values take defaults.
type LearnedOptions struct {
	MinGroup   int     // distinct trials a (pipeline, epoch) needs to teach anything (5)
	MaxRefs    int     // trials consulted per query, most similar pipelines first (40000)
	MaxCands   int     // candidate configurations scored per query (400)
	Shrink     float64 // pseudo-count pulling sparse regions to the mean (2)
	OtherData  float64 // share of the other datasets of the same task, against 1 for the query's dataset (0.15)
	OtherTask  float64 // share of the other tasks (0.02)
	TierShares bool    // split each tier's share among its pipelines instead of giving every pipeline its tier's weight
	NameFloor  float64 // weight of an unrelated model name relative to the same family (0.1)
	SameModel  float64 // extra factor for the same model name (3)
	Bandwidths [4]float64
	// Codes are the training models' source by name (LEMUR's nn/*.py).
	// With them and a query's Code, pipelines are also weighted by how
	// alike the architectures are: pyast's structural features (layer
	// counts, depth, widths, parameters, traits, family), z-scored over
	// the training models, compared with a Gaussian kernel.
	Codes map[string]string
	// CodeFloor is the weight of an unrelated architecture relative to an
	// identical one (0.2); CodeBandwidth the kernel's width in z units per
	// feature (0.6).
	CodeFloor, CodeBandwidth float64
}

func (o *LearnedOptions) defaults() {
	if o.MinGroup == 0 {
		o.MinGroup = 5
	}
	if o.MaxRefs == 0 {
		o.MaxRefs = 40000
	}
	if o.MaxCands == 0 {
		o.MaxCands = 400
	}
	if o.Shrink == 0 {
		o.Shrink = 2
	}
	if o.OtherData == 0 {
		o.OtherData = 0.15
	}
	if o.OtherTask == 0 {
		o.OtherTask = 0.02
	}
	if o.NameFloor == 0 {
		o.NameFloor = 0.1
	}
	if o.SameModel == 0 {
		o.SameModel = 3
	}
	if o.CodeFloor == 0 {
		o.CodeFloor = 0.2
	}
	if o.CodeBandwidth == 0 {
		o.CodeBandwidth = 0.6
	}
	if o.Bandwidths == ([4]float64{}) {
		// In unit coordinates: lr 0.4 decades, batch ~1.2 octaves,
		// momentum 0.2, dropout 0.3 of its range.
		o.Bandwidths = [4]float64{0.08, 0.1, 0.2, 0.3}
	}
}

// featKeys are the hyperparameters the learned recommender compares
// trials on, in unit coordinates (see unitFeature); transform is apart.
// knn is how many nearest trials of a training pipeline score a candidate.
const knn = 5

var featKeys = [4]string{"lr", "batch", "momentum", "dropout"}

func unitFeature(d int, v float64) float64 {
	switch d {
	case 0:
		if v <= 0 {
			return math.NaN()
		}
		return (math.Log10(v) + 5) / 5
	case 1:
		if v <= 0 {
			return math.NaN()
		}
		return math.Log2(v) / 8
	case 3:
		return v / DropoutHigh
	}
	return v
}

type lref struct {
	f     [4]float64 // unit features, NaN when absent
	tr    int        // index into Learned.transforms, -1 when absent
	s     float64    // min-max normalised accuracy within its (pipeline, epoch)
	prm   lemur.Dict
	group int32
}

type lgroup struct {
	p      lemur.Pipeline
	epoch  int
	refs   []int // indices into Learned.refs
	tokens []string
}

// Learned recommends what worked for similar models: every (pipeline,
// epoch) of the training corpus with enough distinct trials contributes
// its trials with their accuracy min-max normalised within it; pipelines
// are weighted by similarity to the query (same task and dataset, model
// name family, epochs), and a candidate configuration is scored by a
// kernel-weighted (Nadaraya-Watson) mean of the normalised accuracy of
// nearby trials, shrunk towards the mean where few trials are near. The
// candidates are the best trials of the most similar pipelines, combined
// with each transform of the target space.
type Learned struct {
	opts       LearnedOptions
	groups     []lgroup
	refs       []lref
	transforms []string
	trIndex    map[string]int
	code       *codeSpace
}

// FitLearned builds the recommender from corpus records.
func FitLearned(recs []lemur.Record, opts LearnedOptions) (*Learned, error) {
	opts.defaults()
	l := &Learned{opts: opts, trIndex: map[string]int{}}
	type key struct {
		p     lemur.Pipeline
		epoch int
	}
	byKey := map[key][]int{}
	var order []key
	for i := range recs {
		k := key{recs[i].Pipeline, recs[i].Epoch}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	for _, k := range order {
		idx := byKey[k]
		seen := map[string]bool{}
		lo, hi := math.Inf(1), math.Inf(-1)
		var keep []int
		for _, i := range idx {
			r := &recs[i]
			if seen[r.UID] || math.IsNaN(r.Accuracy) {
				continue
			}
			seen[r.UID] = true
			keep = append(keep, i)
			lo, hi = math.Min(lo, r.Accuracy), math.Max(hi, r.Accuracy)
		}
		if len(keep) < opts.MinGroup || hi-lo < 1e-9 {
			continue
		}
		g := lgroup{p: k.p, epoch: k.epoch, tokens: NameTokens(k.p.NN)}
		gi := int32(len(l.groups))
		for _, i := range keep {
			r := &recs[i]
			ref := lref{s: (r.Accuracy - lo) / (hi - lo), prm: r.Prm, group: gi, tr: -1}
			for d, name := range featKeys {
				ref.f[d] = math.NaN()
				if v, ok := r.Prm.Float(name); ok {
					ref.f[d] = unitFeature(d, v)
				}
			}
			if t, ok := r.Prm.String("transform"); ok {
				ref.tr = l.transformIndex(t)
			}
			g.refs = append(g.refs, len(l.refs))
			l.refs = append(l.refs, ref)
		}
		l.groups = append(l.groups, g)
	}
	if len(l.groups) == 0 {
		return nil, fmt.Errorf("no pipeline in the training records has %d distinct trials at one epoch with different accuracies: nothing to learn from", opts.MinGroup)
	}
	if len(opts.Codes) > 0 {
		used := map[string]string{}
		for _, g := range l.groups {
			if c, ok := opts.Codes[g.p.NN]; ok {
				used[g.p.NN] = c
			}
		}
		l.code = newCodeSpace(used)
	}
	return l, nil
}

func (l *Learned) transformIndex(t string) int {
	if i, ok := l.trIndex[t]; ok {
		return i
	}
	l.trIndex[t] = len(l.transforms)
	l.transforms = append(l.transforms, t)
	return len(l.transforms) - 1
}

// Groups is the number of (pipeline, epoch) the recommender learned from.
func (l *Learned) Groups() int { return len(l.groups) }

// Name implements Recommender.
func (l *Learned) Name() string { return "learned" }

// groupWeight is a pipeline's similarity to the query within its tier
// (0: same task and dataset, 1: same task, another dataset, 2: another
// task): model name family and epochs.
func (l *Learned) groupWeight(q Query, qv []float64, g *lgroup) (tier int, w float64) {
	o := &l.opts
	w = 1.0
	switch {
	case q.Task != "" && g.p.Task != q.Task:
		tier = 2
	case q.Dataset != "" && g.p.Dataset != q.Dataset:
		tier = 1
	}
	if q.Model != "" {
		w *= o.NameFloor + (1-o.NameFloor)*NameSimilarity(q.Model, g.p.NN)
		if g.p.NN == q.Model {
			w *= o.SameModel
		}
	}
	if q.Epochs > 0 && g.epoch > 0 {
		w /= 1 + math.Abs(math.Log(float64(g.epoch)/float64(q.Epochs)))
	}
	if qv != nil {
		if gv, ok := l.code.vecs[g.p.NN]; ok {
			w *= o.CodeFloor + (1-o.CodeFloor)*l.code.sim(qv, gv, o.CodeBandwidth)
		}
	}
	return tier, w
}

// epochCloser reports whether group a is a better stand-in than b for a
// run of the given epochs.
func epochCloser(epochs int, a, b *lgroup) bool {
	if epochs <= 0 {
		return len(a.refs) > len(b.refs)
	}
	da := math.Abs(math.Log(float64(max(a.epoch, 1)) / float64(epochs)))
	db := math.Abs(math.Log(float64(max(b.epoch, 1)) / float64(epochs)))
	if da != db {
		return da < db
	}
	return a.epoch < b.epoch
}

// transformSim compares transform names by parts: the base (echo, norm,
// complex) matters most, then the flip and the size.
func transformSim(a, b string) float64 {
	if a == b {
		return 1
	}
	pa, pb := splitTransform(a), splitTransform(b)
	s := 0.0
	if pa[0] == pb[0] {
		s += 0.6
	}
	if pa[1] == pb[1] {
		s += 0.2
	}
	if pa[2] == pb[2] {
		s += 0.2
	}
	return s * s
}

func splitTransform(t string) [3]string {
	parts := strings.Split(t, "_")
	out := [3]string{parts[0], "", ""}
	for _, p := range parts[1:] {
		if p == "flip" {
			out[2] = "flip"
		} else {
			out[1] = p
		}
	}
	return out
}

// Recommend implements Recommender.
//
// The first proposal maximises the similarity-weighted mean, over the
// training pipelines, of the normalised accuracy of the pipeline's trial
// nearest to it (what the configuration would have scored there); each
// further one maximises the same mean of the best of the proposals so far,
// so the list is a portfolio minimising the expected regret after k tries
// on pipelines like the query's, not k copies of one guess.
func (l *Learned) Recommend(ctx context.Context, q Query, sp *Space, k int) ([]lemur.Dict, error) {
	if k <= 0 {
		return nil, nil
	}
	o := &l.opts
	var qv []float64 // the query's architecture, when both sides have code
	if l.code != nil && q.Code != "" {
		qv = l.code.vector(q.Code)
	}
	gw := make([]float64, len(l.groups))
	gidx := make([]int, len(l.groups))
	// One group per pipeline: the epoch nearest the query's (the one with
	// most trials when the query has none). A pipeline trained for 50
	// epochs would otherwise count 50 times.
	nearest := map[lemur.Pipeline]int{}
	for i := range l.groups {
		g := &l.groups[i]
		j, ok := nearest[g.p]
		if !ok || epochCloser(q.Epochs, g, &l.groups[j]) {
			nearest[g.p] = i
		}
	}
	// Each pipeline weighs its tier's weight (same dataset 1, OtherData,
	// OtherTask) times its similarity; with TierShares a tier's weight is
	// instead split among its pipelines, so hundreds of CIFAR-10 pipelines
	// cannot outvote the five of a query's own dataset by their number
	// (it scored worse on LEMUR's dev archive: 0.41 against 0.38 regret
	// after one proposal).
	tiers := make([]int, len(l.groups))
	var tierSum [3]float64
	for i := range l.groups {
		gidx[i] = i
		if nearest[l.groups[i].p] == i {
			tiers[i], gw[i] = l.groupWeight(q, qv, &l.groups[i])
			tierSum[tiers[i]] += gw[i]
		}
	}
	share := [3]float64{1, o.OtherData, o.OtherTask}
	for i := range gw {
		if gw[i] > 0 {
			if o.TierShares {
				gw[i] *= share[tiers[i]] / tierSum[tiers[i]]
			} else {
				gw[i] *= share[tiers[i]]
			}
		}
	}
	sort.SliceStable(gidx, func(a, b int) bool { return gw[gidx[a]] > gw[gidx[b]] })
	var groups []int
	nrefs := 0
	for _, g := range gidx {
		if gw[g] <= 0 || nrefs >= o.MaxRefs {
			break
		}
		groups = append(groups, g)
		nrefs += len(l.groups[g].refs)
	}
	var use [4]bool
	for d, name := range featKeys {
		use[d] = sp.Index(name) >= 0
	}
	ti := sp.Index("transform")
	var choices []string
	if ti >= 0 && sp.Params[ti].Kind == Categorical {
		choices = sp.Params[ti].Choices
	}
	// tmap[j]: the space's choice nearest to corpus transform j;
	// tdist[c][j]: how far choice c is from corpus transform j.
	tmap := make([]int, len(l.transforms))
	tdist := make([][]float64, len(choices))
	for c := range choices {
		tdist[c] = make([]float64, len(l.transforms))
	}
	for j, t := range l.transforms {
		best := -1.0
		for c, name := range choices {
			sim := transformSim(name, t)
			tdist[c][j] = 1 - sim
			if sim > best {
				best, tmap[j] = sim, c
			}
		}
	}
	// Candidates: the best trials of the most similar pipelines, with
	// their transform moved to the space's nearest choice.
	var refs []int
	for _, g := range groups {
		refs = append(refs, l.groups[g].refs...)
	}
	sort.SliceStable(refs, func(a, b int) bool {
		ra, rb := &l.refs[refs[a]], &l.refs[refs[b]]
		return gw[ra.group]*ra.s > gw[rb.group]*rb.s
	})
	type cand struct {
		ref int
		tr  int
		f   [4]float64
	}
	seen := map[[5]int32]bool{}
	var cands []cand
	for _, r := range refs {
		if len(cands) >= o.MaxCands {
			break
		}
		ref := &l.refs[r]
		c := cand{ref: r, tr: -1, f: ref.f}
		if len(choices) > 0 && ref.tr >= 0 {
			c.tr = tmap[ref.tr]
		}
		var key [5]int32
		for d := range 4 {
			if use[d] {
				key[d] = int32(math.Round(ref.f[d] * 40))
			}
		}
		key[4] = int32(c.tr)
		if seen[key] {
			continue
		}
		seen[key] = true
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("no training trial is similar to %s/%s/%s", q.Task, q.Dataset, q.Model)
	}
	// S[c][g]: normalised accuracy of group g's trial nearest to candidate c.
	S := make([][]float64, len(cands))
	for ci := range cands {
		if ci%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		c := &cands[ci]
		row := make([]float64, len(groups))
		for gi, g := range groups {
			// The mean of the nearest few trials: one neighbour alone is
			// as noisy as the trial it happens to be.
			var kd [knn]float64
			var ks [knn]float64
			for i := range kd {
				kd[i] = math.Inf(1)
			}
			for _, r := range l.groups[g].refs {
				if r == c.ref {
					continue // a trial vouching for itself says nothing about transfer
				}
				ref := &l.refs[r]
				d := 0.0
				for dd := range 4 {
					if !use[dd] || math.IsNaN(c.f[dd]) || math.IsNaN(ref.f[dd]) {
						continue
					}
					u := c.f[dd] - ref.f[dd]
					d += u * u
				}
				if c.tr >= 0 && ref.tr >= 0 {
					d += tdist[c.tr][ref.tr]
				}
				if d < kd[knn-1] {
					i := knn - 1
					for ; i > 0 && kd[i-1] > d; i-- {
						kd[i], ks[i] = kd[i-1], ks[i-1]
					}
					kd[i], ks[i] = d, ref.s
				}
			}
			sum, n := 0.0, 0
			for i := range kd {
				if !math.IsInf(kd[i], 1) {
					sum += ks[i]
					n++
				}
			}
			row[gi] = sum / float64(max(n, 1))
		}
		S[ci] = row
	}
	fill := l.fillValues(sp, refs, gw)
	cur := make([]float64, len(groups)) // best so far per group
	var out []lemur.Dict
	var picked [][]float64
	used := make([]bool, len(cands))
	for len(out) < k {
		best, bestV := -1, math.Inf(-1)
		for ci := range cands {
			if used[ci] {
				continue
			}
			v := 0.0
			for gi, g := range groups {
				v += gw[g] * math.Max(cur[gi], S[ci][gi])
			}
			if v > bestV {
				best, bestV = ci, v
			}
		}
		if best < 0 {
			break
		}
		used[best] = true
		x := l.configFor(sp, &l.refs[cands[best].ref], cands[best].tr, ti, fill)
		if tooClose(sp, x, picked) {
			continue
		}
		for gi := range groups {
			cur[gi] = math.Max(cur[gi], S[best][gi])
		}
		picked = append(picked, x)
		out = append(out, sp.Decode(x))
	}
	return out, nil
}

// fillValues gives every space parameter a value for candidates that lack
// it: the similarity- and accuracy-weighted mean over the trials that have
// it, or the middle of its range.
func (l *Learned) fillValues(sp *Space, refs []int, gw []float64) []float64 {
	fill := make([]float64, len(sp.Params))
	for i := range sp.Params {
		p := &sp.Params[i]
		lo, hi := p.Bounds()
		fill[i] = math.Round((lo + hi) / 2)
		if p.Kind == Float && !p.Log {
			fill[i] = (lo + hi) / 2
		}
		if p.Kind == Categorical {
			continue
		}
		var num, den float64
		for _, r := range refs {
			ref := &l.refs[r]
			v, ok := ref.prm.Get(p.Name)
			if !ok {
				continue
			}
			x, ok := p.Internal(v)
			if !ok {
				continue
			}
			w := gw[ref.group] * ref.s * ref.s
			num += w * x
			den += w
		}
		if den > 0 {
			fill[i] = num / den
		}
	}
	return fill
}

func (l *Learned) configFor(sp *Space, ref *lref, tr, ti int, fill []float64) []float64 {
	x := make([]float64, len(sp.Params))
	for i := range sp.Params {
		p := &sp.Params[i]
		x[i] = fill[i]
		if i == ti && tr >= 0 {
			x[i] = float64(tr)
			continue
		}
		if v, ok := ref.prm.Get(p.Name); ok {
			if f, ok := p.Internal(v); ok {
				x[i] = f
			}
		}
		if p.Discrete() {
			x[i] = math.Round(x[i])
		}
	}
	return x
}

// tooClose keeps a recommendation list diverse: a proposal within 0.03 of
// an earlier one in every unit coordinate adds nothing.
func tooClose(sp *Space, x []float64, picked [][]float64) bool {
next:
	for _, y := range picked {
		for i := range sp.Params {
			p := &sp.Params[i]
			if p.Kind == Categorical {
				if x[i] != y[i] {
					continue next
				}
				continue
			}
			if math.Abs(p.Unit(x[i])-p.Unit(y[i])) > 0.03 {
				continue next
			}
		}
		return true
	}
	return false
}
