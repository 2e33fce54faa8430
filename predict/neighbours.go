package predict

import (
	"math"
	"slices"
	"sort"
)

// Neighbours hold the training models' hashed code bags and how each did
// per task, dataset and metric: the reference the CodeNeighbours features
// and the nearest-model baseline compare new code with.
type Neighbours struct {
	Models []RefModel `json:"models"`
}

// RefModel is one training model.
type RefModel struct {
	NN  string    `json:"nn"`
	Vec []float32 `json:"vec"` // unit vector, EmbedDims long
	// Acc is the median best accuracy of the model's training runs per
	// pipelineKey (task, dataset, metric).
	Acc map[string]float64 `json:"acc"`
}

func pipelineKey(task, dataset, metric string) string { return task + "|" + dataset + "|" + metric }

// newNeighbours collects the models of runs whose code has an embedding.
func newNeighbours(runs []Run, code map[string]CodeFeatures) *Neighbours {
	bests := map[string]map[string][]float64{}
	for i := range runs {
		r := &runs[i]
		if embedding(code[r.NN]) == nil {
			continue
		}
		if bests[r.NN] == nil {
			bests[r.NN] = map[string][]float64{}
		}
		b, _ := r.Best()
		k := pipelineKey(r.Task, r.Dataset, r.Metric)
		bests[r.NN][k] = append(bests[r.NN][k], b)
	}
	names := make([]string, 0, len(bests))
	for nn := range bests {
		names = append(names, nn)
	}
	sort.Strings(names)
	n := &Neighbours{}
	for _, nn := range names {
		v := embedding(code[nn])
		ref := RefModel{NN: nn, Vec: make([]float32, len(v)), Acc: map[string]float64{}}
		for i, x := range v {
			ref.Vec[i] = float32(x)
		}
		for k, b := range bests[nn] {
			ref.Acc[k] = median(b)
		}
		n.Models = append(n.Models, ref)
	}
	return n
}

// neighbourNames are the CodeNeighbours columns.
var neighbourNames = []string{"nn_sim_max", "nn_sim_1", "nn_acc_1", "nn_acc_w", "nn_acc_rel"}

// neighbourTop is how many of the closest models with runs on the
// pipeline the weighted mean reads; neighbourPower sharpens the weights
// towards the closest.
const (
	neighbourTop   = 10
	neighbourPower = 16
)

// nearest describes vec's training neighbours on one pipeline: the best
// similarity to any model but self, the closest model with runs on the
// pipeline (its similarity and median best accuracy) and the
// similarity-weighted mean over the neighbourTop closest. ok is false when
// no training model has runs on the pipeline.
type nearest struct {
	simMax, sim1, acc1, accW float64
	nn1                      string
	ok                       bool
}

func (n *Neighbours) nearest(vec []float64, key, self string) nearest {
	out := nearest{simMax: math.NaN(), sim1: math.NaN(), acc1: math.NaN(), accW: math.NaN()}
	if n == nil || vec == nil {
		return out
	}
	type cand struct {
		sim, acc float64
		nn       string
	}
	var top []cand
	for i := range n.Models {
		m := &n.Models[i]
		if m.NN == self {
			continue
		}
		s := 0.0
		for j, x := range m.Vec {
			s += float64(x) * vec[j]
		}
		if math.IsNaN(out.simMax) || s > out.simMax {
			out.simMax = s
		}
		acc, ok := m.Acc[key]
		if !ok {
			continue
		}
		if len(top) < neighbourTop || s > top[len(top)-1].sim {
			i, _ := slices.BinarySearchFunc(top, s, func(c cand, t float64) int {
				if c.sim > t {
					return -1
				}
				return 1
			})
			top = slices.Insert(top, i, cand{s, acc, m.NN})
			if len(top) > neighbourTop {
				top = top[:neighbourTop]
			}
		}
	}
	if len(top) == 0 {
		return out
	}
	out.ok = true
	out.sim1, out.acc1, out.nn1 = top[0].sim, top[0].acc, top[0].nn
	var sw, sa float64
	for _, c := range top {
		w := math.Pow(math.Max(c.sim, 0), neighbourPower) + 1e-9
		sw += w
		sa += w * c.acc
	}
	out.accW = sa / sw
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
