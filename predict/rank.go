package predict

import (
	"math"
	"slices"
	"sort"
)

// KendallTau is Kendall's tau-b between x and y (ties on either side
// corrected), in O(n log n) by Knight's algorithm; NaN when fewer than two
// values or either side is constant.
func KendallTau(x, y []float64) float64 {
	n := len(x)
	if n < 2 || len(y) != n {
		return math.NaN()
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		i, j := idx[a], idx[b]
		if x[i] != x[j] {
			return x[i] < x[j]
		}
		return y[i] < y[j]
	})
	pairs := func(t int64) int64 { return t * (t - 1) / 2 }
	n0 := pairs(int64(n))
	// Ties in x, and in x and y jointly.
	var n1, n3 int64
	for i := 0; i < n; {
		j := i
		for j < n && x[idx[j]] == x[idx[i]] {
			j++
		}
		n1 += pairs(int64(j - i))
		for a := i; a < j; {
			b := a
			for b < j && y[idx[b]] == y[idx[a]] {
				b++
			}
			n3 += pairs(int64(b - a))
			a = b
		}
		i = j
	}
	// Discordant pairs are the swaps a merge sort by y makes.
	ys := make([]float64, n)
	for i, k := range idx {
		ys[i] = y[k]
	}
	swaps := mergeCount(ys, make([]float64, n))
	var n2 int64
	for i := 0; i < n; {
		j := i
		for j < n && ys[j] == ys[i] {
			j++
		}
		n2 += pairs(int64(j - i))
		i = j
	}
	den := math.Sqrt(float64(n0-n1) * float64(n0-n2))
	if den == 0 {
		return math.NaN()
	}
	return float64(n0-n1-n2+n3-2*swaps) / den
}

// mergeCount sorts v ascending and returns the number of inversions
// (pairs i < j with v[i] > v[j]).
func mergeCount(v, buf []float64) int64 {
	if len(v) < 2 {
		return 0
	}
	mid := len(v) / 2
	c := mergeCount(v[:mid], buf[:mid]) + mergeCount(v[mid:], buf[mid:])
	i, j, k := 0, mid, 0
	for i < mid && j < len(v) {
		if v[j] < v[i] {
			buf[k] = v[j]
			c += int64(mid - i)
			j++
		} else {
			buf[k] = v[i]
			i++
		}
		k++
	}
	k += copy(buf[k:], v[i:mid])
	copy(buf[k:], v[j:])
	copy(v, buf[:len(v)])
	return c
}

// Spearman is the rank correlation (Pearson's r of average ranks); NaN
// when either side is constant.
func Spearman(x, y []float64) float64 {
	if len(x) < 2 || len(y) != len(x) {
		return math.NaN()
	}
	return pearson(ranks(x), ranks(y))
}

// ranks are 1-based average ranks.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}

// TopRecall is the share of the true top share of runs (by truth; at
// least one) that are also in the predicted top share: how many of the
// runs worth finding a ranking by pred finds. Ties at the cut are broken
// by index, on both sides alike; NaN when pred is constant (it ranks
// nothing).
func TopRecall(pred, truth []float64, share float64) float64 {
	n := len(truth)
	if n == 0 || len(pred) != n || constant(pred) {
		return math.NaN()
	}
	t := max(1, int(math.Ceil(share*float64(n))))
	top := func(v []float64) []int {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case v[a] > v[b]:
				return -1
			case v[a] < v[b]:
				return 1
			}
			return 0
		})
		return idx[:t]
	}
	inPred := map[int]bool{}
	for _, i := range top(pred) {
		inPred[i] = true
	}
	hit := 0
	for _, i := range top(truth) {
		if inPred[i] {
			hit++
		}
	}
	return float64(hit) / float64(t)
}
