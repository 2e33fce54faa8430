package hpo

import (
	"math"
	"sort"
)

// ParamImportance is how much of the objective's variance over a study's
// complete trials one parameter explains on its own.
type ParamImportance struct {
	Name string  `json:"name"`
	Eta2 float64 `json:"eta2"` // correlation ratio: between-bin variance / total variance, in [0, 1]
}

// Importance ranks a study's parameters by the correlation ratio of the
// (first) objective: trials are binned by the parameter (one bin per
// category; for numbers, quantile bins of at least five trials, at most
// five bins) and the share of variance between the bins' means is the
// importance. It is cheap and honest about little data (a few trials
// give few bins), unlike fANOVA it ignores interactions. Best first.
func Importance(info *StudyInfo, ts []Trial) []ParamImportance {
	var xs [][]float64
	var ys []float64
	for _, t := range ts {
		if t.State == Complete && !math.IsNaN(t.Value) {
			xs = append(xs, info.Space.Encode(t.Params))
			ys = append(ys, t.Value)
		}
	}
	out := make([]ParamImportance, 0, len(info.Space.Params))
	for d := range info.Space.Params {
		p := &info.Space.Params[d]
		type pt struct{ x, y float64 }
		var pts []pt
		for i := range xs {
			if !math.IsNaN(xs[i][d]) {
				pts = append(pts, pt{xs[i][d], ys[i]})
			}
		}
		imp := ParamImportance{Name: p.Name}
		if len(pts) >= 2 {
			sort.Slice(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
			var bins [][]float64
			if p.Kind == Categorical {
				for i := 0; i < len(pts); {
					j := i
					var b []float64
					for ; j < len(pts) && pts[j].x == pts[i].x; j++ {
						b = append(b, pts[j].y)
					}
					bins = append(bins, b)
					i = j
				}
			} else {
				k := max(1, min(5, len(pts)/5))
				for b := range k {
					var bin []float64
					for _, q := range pts[b*len(pts)/k : (b+1)*len(pts)/k] {
						bin = append(bin, q.y)
					}
					bins = append(bins, bin)
				}
			}
			mean := 0.0
			for _, q := range pts {
				mean += q.y
			}
			mean /= float64(len(pts))
			var total, between float64
			for _, q := range pts {
				total += (q.y - mean) * (q.y - mean)
			}
			for _, b := range bins {
				m := 0.0
				for _, y := range b {
					m += y
				}
				m /= float64(len(b))
				between += float64(len(b)) * (m - mean) * (m - mean)
			}
			if total > 0 {
				imp.Eta2 = between / total
			}
		}
		out = append(out, imp)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Eta2 > out[j].Eta2 })
	return out
}
