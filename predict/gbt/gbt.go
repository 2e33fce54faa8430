// Package gbt is gradient-boosted regression trees on histograms of binned
// features, the learned model behind package predict. It fits squared,
// absolute and quantile (pinball) losses, so one package gives a point
// estimate and the bounds of an interval. Missing values (NaN) are a bin of
// their own whose direction each split learns, so features that only some
// rows have (code structure, rare hyperparameters) need no imputation.
package gbt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// Loss is the loss a model minimises.
type Loss string

const (
	// Squared fits the conditional mean.
	Squared Loss = "squared"
	// Absolute fits the conditional median.
	Absolute Loss = "absolute"
	// Quantile fits the conditional Alpha-quantile (pinball loss).
	Quantile Loss = "quantile"
)

// Params are the training settings. Zero fields take the defaults of
// DefaultParams.
type Params struct {
	Loss         Loss    `json:"loss"`
	Alpha        float64 `json:"alpha,omitempty"` // quantile level for Quantile
	Trees        int     `json:"trees"`
	MaxDepth     int     `json:"max_depth"`
	LearningRate float64 `json:"learning_rate"`
	MinLeaf      int     `json:"min_leaf"`   // fewest rows in a leaf
	Lambda       float64 `json:"lambda"`     // L2 penalty on leaf values (squared loss)
	Subsample    float64 `json:"subsample"`  // share of rows each tree sees
	ColSample    float64 `json:"col_sample"` // share of features each tree may split on
	Bins         int     `json:"bins"`       // histogram bins per feature, at most 255
	Seed         uint64  `json:"seed"`
}

// DefaultParams are settings that fit a few thousand to a few hundred
// thousand rows in seconds.
func DefaultParams() Params {
	return Params{Loss: Squared, Trees: 300, MaxDepth: 6, LearningRate: 0.05, MinLeaf: 20,
		Lambda: 1, Subsample: 0.8, ColSample: 0.9, Bins: 255, Seed: 1}
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Loss == "" {
		p.Loss = d.Loss
	}
	if p.Trees == 0 {
		p.Trees = d.Trees
	}
	if p.MaxDepth == 0 {
		p.MaxDepth = d.MaxDepth
	}
	if p.LearningRate == 0 {
		p.LearningRate = d.LearningRate
	}
	if p.MinLeaf == 0 {
		p.MinLeaf = d.MinLeaf
	}
	if p.Subsample == 0 {
		p.Subsample = d.Subsample
	}
	if p.ColSample == 0 {
		p.ColSample = d.ColSample
	}
	if p.Bins == 0 {
		p.Bins = d.Bins
	}
	return p
}

func (p Params) validate() error {
	switch p.Loss {
	case Squared, Absolute:
	case Quantile:
		if !(p.Alpha > 0 && p.Alpha < 1) {
			return fmt.Errorf("gbt: quantile loss needs 0 < alpha < 1, got %v", p.Alpha)
		}
	default:
		return fmt.Errorf("gbt: unknown loss %q (want squared, absolute or quantile)", p.Loss)
	}
	switch {
	case p.Trees < 1:
		return fmt.Errorf("gbt: trees = %d, want at least 1", p.Trees)
	case p.MaxDepth < 1 || p.MaxDepth > 16:
		return fmt.Errorf("gbt: max depth = %d, want 1..16", p.MaxDepth)
	case !(p.LearningRate > 0 && p.LearningRate <= 1):
		return fmt.Errorf("gbt: learning rate = %v, want (0, 1]", p.LearningRate)
	case p.MinLeaf < 1:
		return fmt.Errorf("gbt: min leaf = %d, want at least 1", p.MinLeaf)
	case p.Lambda < 0:
		return fmt.Errorf("gbt: lambda = %v, want >= 0", p.Lambda)
	case !(p.Subsample > 0 && p.Subsample <= 1), !(p.ColSample > 0 && p.ColSample <= 1):
		return fmt.Errorf("gbt: subsample %v and col sample %v must be in (0, 1]", p.Subsample, p.ColSample)
	case p.Bins < 2 || p.Bins > 255:
		return fmt.Errorf("gbt: bins = %d, want 2..255", p.Bins)
	}
	return nil
}

// Node is one tree node. A leaf has L == -1 and holds Value; an inner node
// sends x[F] <= T (and NaN when NaNLeft) to L, the rest to R.
type Node struct {
	// Field order packs a node into 32 bytes: prediction walks thousands
	// of trees and is bound by memory.
	T       float64 `json:"t"`
	Value   float64 `json:"v"`
	F       int32   `json:"f"`
	L       int32   `json:"l"`
	R       int32   `json:"r"`
	NaNLeft bool    `json:"nl,omitempty"`
	bin     uint8   // split bin during training: bins 1..bin go left
}

// Tree is a flat binary tree; node 0 is the root.
type Tree []Node

func (t Tree) eval(x []float64) float64 {
	i := int32(0)
	for {
		n := &t[i]
		if n.L < 0 {
			return n.Value
		}
		v := x[n.F]
		if (math.IsNaN(v) && n.NaNLeft) || v <= n.T {
			i = n.L
		} else {
			i = n.R
		}
	}
}

// Model is a fitted ensemble: Base plus the sum of its trees.
type Model struct {
	Params    Params  `json:"params"`
	Features  int     `json:"features"`
	Base      float64 `json:"base"`
	Trees     []Tree  `json:"trees"`
	TrainRows int     `json:"train_rows"`

	importance []float64 // from training only; not saved
}

// Predict evaluates the model on one row of features.
func (m *Model) Predict(x []float64) float64 {
	s := m.Base
	for _, t := range m.Trees {
		s += t.eval(x)
	}
	return s
}

// Importance is the total split gain per feature, normalised to sum 1;
// nil for a model read back from disk.
func (m *Model) Importance() []float64 { return m.importance }

func (m *Model) setImportance(g []float64) {
	var s float64
	for _, v := range g {
		s += v
	}
	if s > 0 {
		for i := range g {
			g[i] /= s
		}
	}
	m.importance = g
}

// binned is the training matrix as per-feature bin columns (0 = NaN).
type binned struct {
	n, p int
	cols [][]uint8
	cuts [][]float64 // cuts[f][b-1] is the upper edge of bin b
}

func binFeatures(X [][]float64, p, maxBins int) *binned {
	n := len(X)
	b := &binned{n: n, p: p, cols: make([][]uint8, p), cuts: make([][]float64, p)}
	vals := make([]float64, 0, n)
	for f := range p {
		vals = vals[:0]
		for _, row := range X {
			if v := row[f]; !math.IsNaN(v) {
				vals = append(vals, v)
			}
		}
		slices.Sort(vals)
		distinct := slices.Compact(slices.Clone(vals))
		var cuts []float64
		if len(distinct) <= maxBins-1 {
			for i := 1; i < len(distinct); i++ {
				cuts = append(cuts, distinct[i-1]+(distinct[i]-distinct[i-1])/2)
			}
		} else {
			// Equal-count edges over the sorted values.
			nb := maxBins - 1
			for i := 1; i < nb; i++ {
				lo := vals[i*len(vals)/nb-1]
				hi := vals[i*len(vals)/nb]
				c := lo + (hi-lo)/2
				if len(cuts) == 0 || c > cuts[len(cuts)-1] {
					cuts = append(cuts, c)
				}
			}
		}
		b.cuts[f] = cuts
		col := make([]uint8, n)
		for i, row := range X {
			v := row[f]
			if math.IsNaN(v) {
				continue
			}
			col[i] = uint8(1 + sort.SearchFloat64s(cuts, v))
		}
		b.cols[f] = col
	}
	return b
}

type bucket struct {
	g, h float64
	n    int
}

// hist is one node's gradient sums: a flat slice of buckets, feature f's
// bins starting at grower.offs[f]. Buffers are recycled (GC pressure was
// most of the training time).
type hist []bucket

// Fit trains a model on rows X (all of the same length; NaN = missing) and
// targets y. It returns ctx.Err() when cancelled.
func Fit(ctx context.Context, X [][]float64, y []float64, p Params) (*Model, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	if len(X) == 0 {
		return nil, errors.New("gbt: no training rows")
	}
	if len(X) != len(y) {
		return nil, fmt.Errorf("gbt: %d rows but %d targets", len(X), len(y))
	}
	nf := len(X[0])
	for i, row := range X {
		if len(row) != nf {
			return nil, fmt.Errorf("gbt: row %d has %d features, row 0 has %d", i, len(row), nf)
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("gbt: target %d is %v", i, y[i])
		}
	}
	bx := binFeatures(X, nf, p.Bins)
	n := len(y)
	m := &Model{Params: p, Features: nf, TrainRows: n}
	switch p.Loss {
	case Squared:
		m.Base = mean(y)
	case Absolute:
		m.Base = quantile(slices.Clone(y), 0.5)
	case Quantile:
		m.Base = quantile(slices.Clone(y), p.Alpha)
	}
	pred := make([]float64, n)
	for i := range pred {
		pred[i] = m.Base
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15))
	gr := &grower{p: p, bx: bx, y: y, pred: pred, g: make([]float64, n), h: make([]float64, n),
		gain: make([]float64, nf), rng: rng, offs: make([]int, nf+1)}
	for f := range nf {
		gr.offs[f+1] = gr.offs[f] + len(bx.cuts[f]) + 2
	}
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	for t := 0; t < p.Trees; t++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		gr.gradients()
		rows := perm
		if p.Subsample < 1 {
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			rows = slices.Clone(perm[:max(1, int(float64(n)*p.Subsample))])
		} else {
			rows = slices.Clone(perm)
		}
		gr.pickFeatures()
		tree := gr.grow(rows)
		// Update every row (not only the subsample) through the bins.
		for i := range n {
			pred[i] += gr.evalBinned(tree, i)
		}
		m.Trees = append(m.Trees, tree)
	}
	m.setImportance(gr.gain)
	return m, nil
}

type grower struct {
	p       Params
	bx      *binned
	y, pred []float64
	g, h    []float64
	gain    []float64
	feats   []int
	rng     *rand.Rand
	tree    Tree
	offs    []int // offs[f]: first bucket of feature f; offs[p]: total
	free    []hist
}

func (gr *grower) alloc() hist {
	if n := len(gr.free); n > 0 {
		h := gr.free[n-1]
		gr.free = gr.free[:n-1]
		clear(h)
		return h
	}
	return make(hist, gr.offs[len(gr.offs)-1])
}

func (gr *grower) release(h hist) { gr.free = append(gr.free, h) }

func (gr *grower) bins(h hist, f int) []bucket { return h[gr.offs[f]:gr.offs[f+1]] }

func (gr *grower) gradients() {
	switch gr.p.Loss {
	case Squared:
		for i := range gr.y {
			gr.g[i] = gr.pred[i] - gr.y[i]
			gr.h[i] = 1
		}
	default:
		a := 0.5
		if gr.p.Loss == Quantile {
			a = gr.p.Alpha
		}
		for i := range gr.y {
			if gr.y[i] > gr.pred[i] {
				gr.g[i] = -a
			} else {
				gr.g[i] = 1 - a
			}
			gr.h[i] = 1
		}
	}
}

func (gr *grower) pickFeatures() {
	p := gr.bx.p
	gr.feats = gr.feats[:0]
	for f := range p {
		gr.feats = append(gr.feats, f)
	}
	if gr.p.ColSample < 1 {
		gr.rng.Shuffle(p, func(i, j int) { gr.feats[i], gr.feats[j] = gr.feats[j], gr.feats[i] })
		gr.feats = gr.feats[:max(1, int(math.Ceil(float64(p)*gr.p.ColSample)))]
		slices.Sort(gr.feats)
	}
}

func (gr *grower) evalBinned(t Tree, row int) float64 {
	i := int32(0)
	for {
		n := &t[i]
		if n.L < 0 {
			return n.Value
		}
		b := gr.bx.cols[n.F][row]
		if (b == 0 && n.NaNLeft) || (b != 0 && b <= n.bin) {
			i = n.L
		} else {
			i = n.R
		}
	}
}

func (gr *grower) grow(rows []int32) Tree {
	gr.tree = Tree{}
	h := gr.histogram(rows)
	gr.split(rows, h, 0)
	return gr.tree
}

// histogram sums gradients per feature and bin over rows, splitting the
// features between goroutines when the node is large enough to pay.
func (gr *grower) histogram(rows []int32) hist {
	h := gr.alloc()
	work := func(fs []int) {
		for _, f := range fs {
			hb := gr.bins(h, f)
			col := gr.bx.cols[f]
			for _, r := range rows {
				b := &hb[col[r]]
				b.g += gr.g[r]
				b.h += gr.h[r]
				b.n++
			}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(rows)*len(gr.feats) < 200_000 {
		work(gr.feats)
		return h
	}
	var wg sync.WaitGroup
	chunk := (len(gr.feats) + workers - 1) / workers
	for w := 0; w < len(gr.feats); w += chunk {
		fs := gr.feats[w:min(w+chunk, len(gr.feats))]
		wg.Add(1)
		go func() { defer wg.Done(); work(fs) }()
	}
	wg.Wait()
	return h
}

// subtractInto turns parent into parent - child (the other child's sums).
func (gr *grower) subtractInto(parent, child hist) {
	for _, f := range gr.feats {
		pb, cb := gr.bins(parent, f), gr.bins(child, f)
		for i := range pb {
			pb[i].g -= cb[i].g
			pb[i].h -= cb[i].h
			pb[i].n -= cb[i].n
		}
	}
}

type splitChoice struct {
	f       int
	bin     uint8
	nanLeft bool
	gain    float64
}

func (gr *grower) bestSplit(h hist, G, H float64, N int) (splitChoice, bool) {
	lam := gr.p.Lambda
	parent := G * G / (H + lam)
	best := splitChoice{gain: 1e-12}
	found := false
	for _, f := range gr.feats {
		hb := gr.bins(h, f)
		nan := hb[0]
		for _, nanLeft := range [2]bool{false, true} {
			var gl, hl float64
			var nl int
			if nanLeft {
				if nan.n == 0 {
					break
				}
				gl, hl, nl = nan.g, nan.h, nan.n
				// Missing left, every value right (bin 0).
				if nl >= gr.p.MinLeaf && N-nl >= gr.p.MinLeaf {
					gRight, hRight := G-gl, H-hl
					if gain := gl*gl/(hl+lam) + gRight*gRight/(hRight+lam) - parent; gain > best.gain {
						best = splitChoice{f: f, bin: 0, nanLeft: true, gain: gain}
						found = true
					}
				}
			}
			for b := 1; b < len(hb)-1; b++ {
				gl += hb[b].g
				hl += hb[b].h
				nl += hb[b].n
				nr := N - nl
				if nl < gr.p.MinLeaf {
					continue
				}
				if nr < gr.p.MinLeaf {
					break
				}
				gRight, hRight := G-gl, H-hl
				gain := gl*gl/(hl+lam) + gRight*gRight/(hRight+lam) - parent
				if gain > best.gain {
					best = splitChoice{f: f, bin: uint8(b), nanLeft: nanLeft, gain: gain}
					found = true
				}
			}
		}
	}
	return best, found
}

func (gr *grower) split(rows []int32, h hist, depth int) int32 {
	idx := int32(len(gr.tree))
	gr.tree = append(gr.tree, Node{L: -1, R: -1})
	var G, H float64
	for _, r := range rows {
		G += gr.g[r]
		H += gr.h[r]
	}
	N := len(rows)
	if depth < gr.p.MaxDepth && N >= 2*gr.p.MinLeaf {
		if sc, ok := gr.bestSplit(h, G, H, N); ok {
			col := gr.bx.cols[sc.f]
			// Partition rows in place: left rows first.
			nl := 0
			for j, r := range rows {
				b := col[r]
				if (b == 0 && sc.nanLeft) || (b != 0 && b <= sc.bin) {
					rows[nl], rows[j] = rows[j], rows[nl]
					nl++
				}
			}
			left, right := rows[:nl], rows[nl:]
			gr.gain[sc.f] += sc.gain
			// Build the smaller child's histogram, derive the other.
			var hl, hr hist
			if len(left) <= len(right) {
				hl = gr.histogram(left)
				gr.subtractInto(h, hl)
				hr = h
			} else {
				hr = gr.histogram(right)
				gr.subtractInto(h, hr)
				hl = h
			}
			l := gr.split(left, hl, depth+1)
			r := gr.split(right, hr, depth+1)
			n := &gr.tree[idx]
			n.F, n.bin, n.NaNLeft, n.L, n.R = int32(sc.f), sc.bin, sc.nanLeft, l, r
			if sc.bin == 0 {
				n.T = -math.MaxFloat64 // only missing values go left
			} else {
				n.T = gr.bx.cuts[sc.f][sc.bin-1]
			}
			return idx
		}
	}
	gr.release(h)
	gr.tree[idx].Value = gr.leafValue(rows, G, H)
	return idx
}

func (gr *grower) leafValue(rows []int32, G, H float64) float64 {
	lr := gr.p.LearningRate
	switch gr.p.Loss {
	case Squared:
		return -lr * G / (H + gr.p.Lambda)
	default:
		// Pinball loss: the best constant step is the quantile of the
		// residuals in the leaf (gradient steps alone would move by ±a).
		a := 0.5
		if gr.p.Loss == Quantile {
			a = gr.p.Alpha
		}
		res := make([]float64, len(rows))
		for i, r := range rows {
			res[i] = gr.y[r] - gr.pred[r]
		}
		return lr * quantile(res, a)
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// quantile sorts v in place and returns its q-quantile (linear
// interpolation between order statistics).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(v)-1)
	return v[lo] + (v[hi]-v[lo])*(pos-float64(lo))
}
