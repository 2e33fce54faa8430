package hpo

import (
	"math"
	"sort"
)

// Dominates reports whether a is at least as good as b in every objective
// and better in one; every objective is minimised.
func Dominates(a, b []float64) bool {
	better := false
	for i := range a {
		if a[i] > b[i] {
			return false
		}
		if a[i] < b[i] {
			better = true
		}
	}
	return better
}

// ParetoFront returns, in input order, the indices of the points no other
// point dominates, each objective taken in its direction. The loop's
// report and `hpo show` use it for their fronts.
func ParetoFront(points [][]float64, dirs []Direction) []int {
	ranks := NondominatedRanks(toLosses(points, dirs))
	var out []int
	for i, r := range ranks {
		if r == 0 {
			out = append(out, i)
		}
	}
	return out
}

func toLosses(points [][]float64, dirs []Direction) [][]float64 {
	out := make([][]float64, len(points))
	for i, p := range points {
		out[i] = make([]float64, len(p))
		for j, v := range p {
			if out[i][j] = v; j < len(dirs) && dirs[j] == Maximize {
				out[i][j] = -v
			}
		}
	}
	return out
}

// NondominatedRanks is each point's front in non-dominated sorting (0:
// the Pareto front, 1: the front once those are removed, ...); every
// objective is minimised.
func NondominatedRanks(losses [][]float64) []int {
	n := len(losses)
	ranks := make([]int, n)
	count := make([]int, n) // how many points dominate i
	dominated := make([][]int, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			switch {
			case Dominates(losses[i], losses[j]):
				dominated[i] = append(dominated[i], j)
				count[j]++
			case Dominates(losses[j], losses[i]):
				dominated[j] = append(dominated[j], i)
				count[i]++
			}
		}
	}
	var front []int
	for i := range n {
		if count[i] == 0 {
			front = append(front, i)
		}
	}
	for r := 0; len(front) > 0; r++ {
		var next []int
		for _, i := range front {
			ranks[i] = r
			for _, j := range dominated[i] {
				if count[j]--; count[j] == 0 {
					next = append(next, j)
				}
			}
		}
		front = next
	}
	return ranks
}

// crowding is NSGA-II's crowding distance of each point within its front:
// how much room it has to its neighbours, summed over the objectives
// (infinite at a front's ends), so ties in rank prefer spread.
func crowding(losses [][]float64, ranks []int) []float64 {
	out := make([]float64, len(losses))
	byRank := map[int][]int{}
	for i, r := range ranks {
		byRank[r] = append(byRank[r], i)
	}
	for _, idx := range byRank {
		if len(idx) == 0 {
			continue
		}
		for m := range losses[idx[0]] {
			sort.Slice(idx, func(a, b int) bool { return losses[idx[a]][m] < losses[idx[b]][m] })
			lo, hi := losses[idx[0]][m], losses[idx[len(idx)-1]][m]
			out[idx[0]], out[idx[len(idx)-1]] = math.Inf(1), math.Inf(1)
			if hi <= lo {
				continue
			}
			for k := 1; k+1 < len(idx); k++ {
				out[idx[k]] += (losses[idx[k+1]][m] - losses[idx[k-1]][m]) / (hi - lo)
			}
		}
	}
	return out
}

// ParetoTrials returns the complete trials of a multi-objective study on
// its Pareto front, in trial order.
func ParetoTrials(ts []Trial, objs []Objective) []Trial {
	var cands []Trial
	var pts [][]float64
	dirs := make([]Direction, len(objs))
	for i, o := range objs {
		dirs[i] = o.Direction
	}
	for _, t := range ts {
		if t.State == Complete && len(t.Values) == len(objs) {
			cands = append(cands, t)
			pts = append(pts, t.Values)
		}
	}
	var out []Trial
	for _, i := range ParetoFront(pts, dirs) {
		out = append(out, cands[i])
	}
	return out
}

// multiOrder ranks observations best first for a multi-objective study
// (MOTPE's split): complete ones by non-dominated front, then by crowding
// distance within a front; pruned and pending ones after, as lessObs.
func multiOrder(obs []Observation) []int {
	var idx []int
	var losses [][]float64
	for i := range obs {
		if len(obs[i].Losses) > 0 && !obs[i].Pending && !obs[i].Pruned {
			idx = append(idx, i)
			losses = append(losses, obs[i].Losses)
		}
	}
	ranks := NondominatedRanks(losses)
	crowd := crowding(losses, ranks)
	rank := make([]int, len(obs))
	cd := make([]float64, len(obs))
	multi := make([]bool, len(obs))
	for k, i := range idx {
		rank[i], cd[i], multi[i] = ranks[k], crowd[k], true
	}
	order := make([]int, len(obs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		i, j := order[a], order[b]
		if multi[i] != multi[j] {
			return multi[i]
		}
		if multi[i] {
			if rank[i] != rank[j] {
				return rank[i] < rank[j]
			}
			return cd[i] > cd[j]
		}
		return lessObs(&obs[i], &obs[j])
	})
	return order
}
