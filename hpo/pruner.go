package hpo

import (
	"fmt"
	"sort"
)

// Pruner decides between epochs whether a running trial should stop.
// others are the study's other trials (any state).
type Pruner interface {
	Name() string
	Prune(t Trial, others []Trial, dir Direction) (stop bool, reason string)
}

// NopPruner never prunes.
type NopPruner struct{}

// Name implements Pruner.
func (NopPruner) Name() string { return "none" }

// Prune implements Pruner.
func (NopPruner) Prune(Trial, []Trial, Direction) (bool, string) { return false, "" }

// MedianPruner is Optuna's median rule: stop a trial whose value at its
// latest step is worse than the median of what finished trials reached at
// that same step, once Startup trials have finished and after Warmup steps.
type MedianPruner struct {
	Startup int // finished trials needed before pruning (Optuna: 5)
	Warmup  int // steps never pruned (0)
}

// Name implements Pruner.
func (MedianPruner) Name() string { return "median" }

// Prune implements Pruner.
func (m MedianPruner) Prune(t Trial, others []Trial, dir Direction) (bool, string) {
	n := len(t.Intermediate)
	if n == 0 {
		return false, ""
	}
	last := t.Intermediate[n-1]
	if last.Step <= m.Warmup {
		return false, ""
	}
	var vals []float64
	finished := 0
	for _, o := range others {
		if o.Number == t.Number || (o.State != Complete && o.State != Pruned) {
			continue
		}
		finished++
		for _, s := range o.Intermediate {
			if s.Step == last.Step {
				vals = append(vals, s.Value)
				break
			}
		}
	}
	if finished < m.Startup || len(vals) == 0 {
		return false, ""
	}
	sort.Float64s(vals)
	var med float64
	if k := len(vals); k%2 == 1 {
		med = vals[k/2]
	} else {
		med = (vals[k/2-1] + vals[k/2]) / 2
	}
	worse := last.Value < med
	if dir == Minimize {
		worse = last.Value > med
	}
	if !worse {
		return false, ""
	}
	return true, fmt.Sprintf("value %.4f at step %d is worse than the median %.4f of %d trials", last.Value, last.Step, med, len(vals))
}

// NewPruner returns the pruner with the given name: median, asha or none.
// The predictor pruner lives with the predictor and is built by the caller.
func NewPruner(name string) (Pruner, error) {
	switch name {
	case "median":
		return MedianPruner{Startup: 5}, nil
	case "asha":
		return ASHAPruner{MinStep: 1, Reduction: 3}, nil
	case "none", "":
		return NopPruner{}, nil
	}
	return nil, fmt.Errorf("unknown pruner %q (want median, asha, predictor or none)", name)
}

// ASHAPruner is asynchronous successive halving (Li et al. 2020, as
// Optuna's SuccessiveHalvingPruner): rungs sit at steps MinStep,
// MinStep*Reduction, MinStep*Reduction^2, ...; a trial reaching a rung
// continues only when its value there is within the top 1/Reduction of
// every trial that reached that rung so far (with fewer than Reduction
// of them, only the best continues). Asynchronous: no trial waits for a
// rung to fill, so it suits parallel workers.
type ASHAPruner struct {
	MinStep   int // first rung (default 1)
	Reduction int // eta (default 3)
}

// Name implements Pruner.
func (ASHAPruner) Name() string { return "asha" }

// rung reports whether step is a rung.
func (a ASHAPruner) rung(step int) bool {
	r, eta := max(a.MinStep, 1), max(a.Reduction, 2)
	for ; r < step; r *= eta {
	}
	return r == step
}

// Prune implements Pruner.
func (a ASHAPruner) Prune(t Trial, others []Trial, dir Direction) (bool, string) {
	n := len(t.Intermediate)
	if n == 0 {
		return false, ""
	}
	last := t.Intermediate[n-1]
	if !a.rung(last.Step) {
		return false, ""
	}
	vals := []float64{last.Value}
	for _, o := range others {
		if o.Number == t.Number {
			continue
		}
		for _, s := range o.Intermediate {
			if s.Step == last.Step {
				vals = append(vals, s.Value)
				break
			}
		}
	}
	eta := max(a.Reduction, 2)
	// Best first.
	sort.Slice(vals, func(i, j int) bool {
		if dir == Minimize {
			return vals[i] < vals[j]
		}
		return vals[i] > vals[j]
	})
	k := max(len(vals)/eta, 1) // how many continue
	bar := vals[k-1]
	keep := last.Value >= bar
	if dir == Minimize {
		keep = last.Value <= bar
	}
	if keep {
		return false, ""
	}
	return true, fmt.Sprintf("value %.4f at rung %d is outside the top %d of %d trials there (bar %.4f)", last.Value, last.Step, k, len(vals), bar)
}
