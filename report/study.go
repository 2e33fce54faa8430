package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"sort"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/nngpt/nngpt/hpo"
)

// Study plot file stems (each written as .png and .svg).
const (
	StudyHistory    = "history"
	StudyParallel   = "parallel"
	StudyImportance = "importance"
	StudyPareto     = "pareto" // one per objective after the first: pareto-<name>
)

// WriteStudy draws a hyperparameter study into dir: its optimisation
// history, parallel coordinates, parameter importance and, for a
// multi-objective study, the Pareto front against each further objective.
// It returns the stems it wrote, in order.
func WriteStudy(dir string, info *hpo.StudyInfo, ts []hpo.Trial) ([]string, error) {
	var complete []hpo.Trial
	for _, t := range ts {
		if t.State == hpo.Complete && !math.IsNaN(t.Value) {
			complete = append(complete, t)
		}
	}
	if len(complete) == 0 {
		return nil, fmt.Errorf("study %s has no complete trial to plot", info.Name)
	}
	type plotFn struct {
		stem string
		fn   func() (*figure, error)
	}
	fns := []plotFn{
		{StudyHistory, func() (*figure, error) { return studyHistory(info, ts) }},
		{StudyParallel, func() (*figure, error) { return studyParallel(info, complete) }},
		{StudyImportance, func() (*figure, error) { return studyImportance(info, ts) }},
	}
	if info.MultiObjective() {
		for k := 1; k < len(info.Objectives); k++ {
			fns = append(fns, plotFn{StudyPareto + "-" + info.Objectives[k].Name, func() (*figure, error) { return studyPareto(info, complete, k) }})
		}
	}
	var out []string
	for _, p := range fns {
		f, err := p.fn()
		if err != nil {
			return out, fmt.Errorf("study plot %s: %w", p.stem, err)
		}
		if err := writeFile(filepath.Join(dir, p.stem+".png"), f.writePNG); err != nil {
			return out, err
		}
		if err := writeFile(filepath.Join(dir, p.stem+".svg"), f.writeSVG); err != nil {
			return out, err
		}
		out = append(out, p.stem)
	}
	return out, nil
}

func objectiveLabel(info *hpo.StudyInfo, k int) string {
	if info.MultiObjective() {
		return info.Objectives[k].Name
	}
	if info.Direction == hpo.Maximize {
		return "accuracy (best epoch)"
	}
	return "objective"
}

// studyHistory is each trial's value by trial number with the best so far.
func studyHistory(info *hpo.StudyInfo, ts []hpo.Trial) (*figure, error) {
	p := newPlot("Optimisation history: "+info.Name, "trial", objectiveLabel(info, 0))
	lg := newLegend()
	var done, pruned, best plotter.XYs
	cur := math.NaN()
	better := func(a, b float64) bool {
		if info.Direction == hpo.Maximize {
			return a > b
		}
		return a < b
	}
	last := 0.0
	for _, t := range ts {
		last = math.Max(last, float64(t.Number))
		switch {
		case t.State == hpo.Complete && !math.IsNaN(t.Value):
			done = append(done, plotter.XY{X: float64(t.Number), Y: t.Value})
			if math.IsNaN(cur) || better(t.Value, cur) {
				cur = t.Value
			}
		case t.State == hpo.Pruned && !math.IsNaN(t.Value):
			pruned = append(pruned, plotter.XY{X: float64(t.Number), Y: t.Value})
		}
		if !math.IsNaN(cur) {
			best = append(best, plotter.XY{X: float64(t.Number), Y: cur})
		}
	}
	if len(pruned) > 0 {
		s, err := scatter(pruned, draw.RingGlyph{}, colGrey, vg.Points(3))
		if err != nil {
			return nil, err
		}
		p.Add(s)
		lg.Add("pruned (last epoch)", s)
	}
	s, err := scatter(done, draw.CircleGlyph{}, color.NRGBA{0, 114, 178, 170}, vg.Points(3.5))
	if err != nil {
		return nil, err
	}
	p.Add(s)
	lg.Add("complete", s)
	l, err := plotter.NewLine(best)
	if err != nil {
		return nil, err
	}
	l.LineStyle.Color, l.LineStyle.Width = colOrange, vg.Points(1.8)
	l.StepStyle = plotter.PostStep
	p.Add(l)
	lg.Add("best so far", l)
	intAxis(&p.X, 0, math.Max(1, last))
	return &figure{p: p, legend: lg, w: 7.5 * vg.Inch, h: 4.2 * vg.Inch}, nil
}

// studyParallel is parallel coordinates: one axis per parameter (in [0, 1]
// of its range, log-scaled ones in log) and one for the objective; each
// complete trial a line, the best tenth in colour.
func studyParallel(info *hpo.StudyInfo, ts []hpo.Trial) (*figure, error) {
	sp := info.Space
	n := len(sp.Params)
	p := newPlot("Parallel coordinates: "+info.Name, "", "position in the range (objective: min to max)")
	lg := newLegend()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, t := range ts {
		lo, hi = math.Min(lo, t.Value), math.Max(hi, t.Value)
	}
	order := slices.Clone(ts)
	sort.SliceStable(order, func(i, j int) bool {
		if info.Direction == hpo.Maximize {
			return order[i].Value < order[j].Value
		}
		return order[i].Value > order[j].Value
	})
	topFrom := len(order) - max(1, len(order)/10) // drawn last, on top
	var greyDone, topDone bool
	for i, t := range order {
		x := sp.Encode(t.Params)
		var xys plotter.XYs
		for d := range n {
			if !math.IsNaN(x[d]) {
				xys = append(xys, plotter.XY{X: float64(d), Y: sp.Params[d].Unit(x[d])})
			}
		}
		v := 0.5
		if hi > lo {
			v = (t.Value - lo) / (hi - lo)
		}
		xys = append(xys, plotter.XY{X: float64(n), Y: v})
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		if i >= topFrom {
			l.LineStyle.Color, l.LineStyle.Width = colBlue, vg.Points(1.4)
			if !topDone {
				lg.Add("best tenth", l)
				topDone = true
			}
		} else {
			l.LineStyle.Color, l.LineStyle.Width = color.NRGBA{140, 140, 140, 90}, vg.Points(0.8)
			if !greyDone {
				lg.Add("other trials", l)
				greyDone = true
			}
		}
		p.Add(l)
	}
	names := append(sp.Names(), objectiveLabel(info, 0))
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.2, float64(n)+0.2
	p.Y.Min, p.Y.Max = 0, 1
	w := vg.Length(math.Max(7.5, 1.3*float64(n+1))) * vg.Inch
	return &figure{p: p, legend: lg, w: w, h: 4.2 * vg.Inch}, nil
}

// studyImportance is hpo.Importance as horizontal bars, most important on top.
func studyImportance(info *hpo.StudyInfo, ts []hpo.Trial) (*figure, error) {
	imp := hpo.Importance(info, ts)
	p := newPlot("Parameter importance: "+info.Name, "share of the objective's variance explained alone (eta squared)", "")
	vals := make(plotter.Values, len(imp))
	names := make([]string, len(imp))
	for i, x := range imp {
		// Bottom to top: the most important last.
		vals[len(imp)-1-i], names[len(imp)-1-i] = x.Eta2, x.Name
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return nil, err
	}
	bars.Horizontal = true
	bars.Color = colBlue
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalY(names...)
	p.X.Min, p.X.Max = 0, 1
	h := vg.Length(math.Max(3, 0.45*float64(len(imp))+1.5)) * vg.Inch
	return &figure{p: p, w: 7 * vg.Inch, h: h}, nil
}

// studyPareto is the first objective against objective k: every complete
// trial, the Pareto front (over all objectives) highlighted and, over
// these two, joined as a staircase.
func studyPareto(info *hpo.StudyInfo, ts []hpo.Trial, k int) (*figure, error) {
	x0, xk := info.Objectives[0], info.Objectives[k]
	p := newPlot(fmt.Sprintf("Pareto front: %s vs %s", x0.Name, xk.Name), xk.Name+" ("+string(xk.Direction)+")", x0.Name+" ("+string(x0.Direction)+")")
	lg := newLegend()
	front := map[int]bool{}
	for _, t := range hpo.ParetoTrials(ts, info.Objectives) {
		front[t.Number] = true
	}
	var rest, on, all2 plotter.XYs
	var pts2 [][]float64
	for _, t := range ts {
		if len(t.Values) != len(info.Objectives) {
			continue
		}
		pt := plotter.XY{X: t.Values[k], Y: t.Values[0]}
		if front[t.Number] {
			on = append(on, pt)
		} else {
			rest = append(rest, pt)
		}
		all2 = append(all2, pt)
		pts2 = append(pts2, []float64{t.Values[0], t.Values[k]})
	}
	if len(all2) == 0 {
		return nil, fmt.Errorf("no complete trial has all %d objective values", len(info.Objectives))
	}
	if len(rest) > 0 {
		s, err := scatter(rest, draw.RingGlyph{}, colGrey, vg.Points(3))
		if err != nil {
			return nil, err
		}
		p.Add(s)
		lg.Add("dominated", s)
	}
	var stair plotter.XYs
	for _, i := range hpo.ParetoFront(pts2, []hpo.Direction{x0.Direction, xk.Direction}) {
		stair = append(stair, all2[i])
	}
	sort.Slice(stair, func(i, j int) bool { return stair[i].X < stair[j].X })
	if len(stair) > 1 {
		l, err := plotter.NewLine(stair)
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color, l.LineStyle.Width = colOrange, vg.Points(1.4)
		l.StepStyle = plotter.PostStep
		p.Add(l)
		lg.Add("front of these two", l)
	}
	if len(on) > 0 {
		s, err := scatter(on, draw.CircleGlyph{}, colBlue, vg.Points(4))
		if err != nil {
			return nil, err
		}
		p.Add(s)
		lg.Add("Pareto front", s)
	}
	if xk.Name == "params" {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, q := range all2 {
			lo, hi = math.Min(lo, q.X), math.Max(hi, q.X)
		}
		if lo > 0 {
			paramAxis(&p.X, lo/1.6, hi*1.6)
		}
	}
	return &figure{p: p, legend: lg, w: 7.5 * vg.Inch, h: 4.2 * vg.Inch}, nil
}
