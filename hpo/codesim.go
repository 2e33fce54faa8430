package hpo

import (
	"math"

	"github.com/nngpt/nngpt/pyast"
)

// codeSpace compares model architectures by pyast's structural features,
// each z-scored over the training models so counts and widths weigh alike.
type codeSpace struct {
	mean, std []float64
	vecs      map[string][]float64 // training model -> z-scored features
}

func codeFeatures(code string) []float64 {
	a := pyast.Analyze([]byte(code))
	if len(a.Syntax) > 0 {
		return nil // unparsable code says nothing about its architecture
	}
	v := a.Features.Vector()
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			v[i] = 0
		}
		// Counts and widths span orders of magnitude: compare their logs.
		v[i] = math.Copysign(math.Log1p(math.Abs(v[i])), v[i])
	}
	return v
}

func newCodeSpace(codes map[string]string) *codeSpace {
	raw := map[string][]float64{}
	for name, c := range codes {
		if v := codeFeatures(c); v != nil {
			raw[name] = v
		}
	}
	if len(raw) < 2 {
		return nil
	}
	var dim int
	for _, v := range raw {
		dim = len(v)
		break
	}
	cs := &codeSpace{mean: make([]float64, dim), std: make([]float64, dim), vecs: map[string][]float64{}}
	for _, v := range raw {
		for i := range v {
			cs.mean[i] += v[i]
		}
	}
	n := float64(len(raw))
	for i := range cs.mean {
		cs.mean[i] /= n
	}
	for _, v := range raw {
		for i := range v {
			d := v[i] - cs.mean[i]
			cs.std[i] += d * d
		}
	}
	for i := range cs.std {
		cs.std[i] = math.Sqrt(cs.std[i] / n)
	}
	for name, v := range raw {
		cs.vecs[name] = cs.z(v)
	}
	return cs
}

func (cs *codeSpace) z(v []float64) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		if cs.std[i] > 1e-9 {
			out[i] = (v[i] - cs.mean[i]) / cs.std[i]
		}
	}
	return out
}

// vector is a query's z-scored features, nil when its code does not parse.
func (cs *codeSpace) vector(code string) []float64 {
	v := codeFeatures(code)
	if v == nil || len(v) != len(cs.mean) {
		return nil
	}
	return cs.z(v)
}

// sim is a Gaussian kernel of the root-mean-square feature difference:
// 1 for the same architecture, towards 0 for unrelated ones.
func (cs *codeSpace) sim(a, b []float64, bw float64) float64 {
	d := 0.0
	for i := range a {
		x := a[i] - b[i]
		d += x * x
	}
	d /= float64(len(a))
	return math.Exp(-d / (2 * bw * bw))
}
