package report

import (
	"cmp"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Okabe-Ito colours: distinguishable with the common colour-vision
// deficiencies and in greyscale print.
var (
	colBlue   = color.NRGBA{0, 114, 178, 255}
	colOrange = color.NRGBA{230, 159, 0, 255}
	colGreen  = color.NRGBA{0, 158, 115, 255}
	colRed    = color.NRGBA{213, 94, 0, 255}
	colPurple = color.NRGBA{204, 121, 167, 255}
	colSky    = color.NRGBA{86, 180, 233, 255}
	colYellow = color.NRGBA{240, 228, 66, 255}
	colGrey   = color.NRGBA{140, 140, 140, 255}
	colBlack  = color.NRGBA{0, 0, 0, 255}
	palette   = []color.Color{colBlue, colOrange, colGreen, colRed, colPurple, colSky, colBlack,
		color.NRGBA{120, 60, 20, 255}, color.NRGBA{100, 100, 220, 255}, colGrey}
)

// figure is a plot with an optional legend drawn to the right of it, so the
// legend never hides data.
type figure struct {
	p      *plot.Plot
	legend *plot.Legend
	w, h   vg.Length
}

const pngDPI = 150

// sans is the Liberation variant all text uses; it reads better than the
// default serif at small sizes.
const sans = "Sans"

// newLabels is plotter.NewLabels in the plots' font at the given size.
func newLabels(xyl plotter.XYLabels, size vg.Length, col color.Color) (*plotter.Labels, error) {
	l, err := plotter.NewLabels(xyl)
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font.Variant = sans
		l.TextStyle[i].Font.Size = size
		l.TextStyle[i].Color = col
	}
	return l, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(9.5)
	p.Y.Tick.Label.Font.Size = vg.Points(9.5)
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font} {
		f.Variant = sans
	}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{225}
	g.Horizontal.Color = color.Gray{225}
	p.Add(g)
	return p
}

func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = vg.Points(9.5)
	l.TextStyle.Font.Variant = sans
	l.ThumbnailWidth = vg.Points(18)
	l.Padding = vg.Points(3)
	return &l
}

func (f *figure) draw(c draw.Canvas) {
	// A white page under plot and legend both: the plot fills only its own
	// part, and an SVG is otherwise transparent (unreadable in dark mode).
	c.FillPolygon(color.White, []vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}})
	if f.legend == nil {
		f.p.Draw(c)
		return
	}
	lw := f.legend.Rectangle(c).Size().X + vg.Points(14)
	f.p.Draw(draw.Crop(c, 0, -lw, 0, 0))
	// Align the legend's top with the data area, below the title.
	top := f.p.Title.TextStyle.Rectangle(f.p.Title.Text).Size().Y + f.p.Title.Padding + vg.Points(6)
	f.legend.Draw(draw.Crop(c, c.Size().X-lw+vg.Points(8), 0, 0, -top))
}

// writePNG renders the figure as a PNG at pngDPI.
func (f *figure) writePNG(w io.Writer) error {
	c := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(pngDPI), vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(c))
	// Flat-colour plots compress well even at the fastest level, which
	// halves the time of a report.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, c.Image())
}

// writeSVG renders the figure as SVG.
func (f *figure) writeSVG(w io.Writer) error {
	c := vgsvg.New(f.w, f.h)
	f.draw(draw.New(c))
	_, err := c.WriteTo(w)
	return err
}

func scatter(xys plotter.XYs, shape draw.GlyphDrawer, col color.Color, r vg.Length) (*plotter.Scatter, error) {
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Shape: shape, Color: col, Radius: r}
	return s, nil
}

func linePoints(xys plotter.XYs, col color.Color, shape draw.GlyphDrawer, dashed bool) (*plotter.Line, *plotter.Scatter, error) {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, nil, err
	}
	l.LineStyle.Color, l.LineStyle.Width = col, vg.Points(1.8)
	if dashed {
		l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	s.GlyphStyle = draw.GlyphStyle{Shape: shape, Color: col, Radius: vg.Points(3.5)}
	return l, s, nil
}

// thresholdLine draws the admission accuracy across the x range.
func thresholdLine(p *plot.Plot, lg *plot.Legend, thr, x0, x1 float64) error {
	if thr <= 0 {
		return nil
	}
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: thr}, {X: x1, Y: thr}})
	if err != nil {
		return err
	}
	l.LineStyle.Color, l.LineStyle.Width = colRed, vg.Points(1)
	l.LineStyle.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(l)
	name := fmt.Sprintf("admission %.3f", thr)
	if lg != nil {
		lg.Add(name, l)
		return nil
	}
	// No legend: name the line at its right end, just above it.
	lab, err := newLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x1, Y: thr}}, Labels: []string{name}}, vg.Points(8), colRed)
	if err != nil {
		return err
	}
	lab.TextStyle[0].XAlign = draw.XRight
	lab.Offset = vg.Point{X: vg.Points(-4), Y: vg.Points(3)}
	p.Add(lab)
	return nil
}

// accAxis fixes the accuracy axis to start at 0 and end a little above the
// highest value (at most 1), so plots of one study compare by eye.
func accAxis(a *plot.Axis, hi float64) {
	a.Min = 0
	a.Max = math.Min(1, math.Ceil((hi+0.05)*10)/10)
	if a.Max <= 0 {
		a.Max = 1
	}
	a.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		step := 0.1
		if hi-lo > 0.6 {
			step = 0.2
		}
		var ts []plot.Tick
		for v := 0.0; v <= hi+1e-9; v += step / 2 {
			lab := ""
			if math.Abs(math.Mod(v+1e-9, step)) < 1e-6 {
				lab = fmt.Sprintf("%.1f", v)
			}
			ts = append(ts, plot.Tick{Value: v, Label: lab})
		}
		return ts
	})
}

// intAxis labels whole numbers only (cycles, epochs): every one when there
// are few, else multiples of a round step (2, 5, 10, 20, 25, 50, ...).
func intAxis(a *plot.Axis, lo, hi float64) {
	a.Min, a.Max = lo, hi
	a.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		first, last := int(math.Ceil(lo)), int(math.Floor(hi))
		step := niceStep(last - first + 1)
		var ts []plot.Tick
		for v := first; v <= last; v++ {
			switch {
			case v%step == 0 || step == 1:
				ts = append(ts, plot.Tick{Value: float64(v), Label: fmt.Sprint(v)})
			case step <= 5:
				ts = append(ts, plot.Tick{Value: float64(v)}) // minor
			}
		}
		return ts
	})
}

// niceStep is the smallest step of 1, 2, 5, 10, 20, 50, ... that labels n
// integers with at most 12 labels.
func niceStep(n int) int {
	for m := 1; ; m *= 10 {
		for _, s := range []int{1, 2, 5} {
			if n <= 12*s*m {
				return s * m
			}
		}
	}
}

// paramAxis is a log axis labelled 10k, 20k, 50k, 100k ... with minor ticks.
func paramAxis(a *plot.Axis, lo, hi float64) {
	a.Scale = plot.LogScale{}
	a.Min, a.Max = lo, hi
	a.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		d0, d1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
		labelled := map[int]bool{1: true}
		if d1-d0 <= 3 {
			labelled[2], labelled[5] = true, true
		}
		var ts []plot.Tick
		for d := d0; d <= d1; d++ {
			for m := 1; m <= 9; m++ {
				v := float64(m) * math.Pow(10, float64(d))
				if v < lo*0.999 || v > hi*1.001 {
					continue
				}
				lab := ""
				if labelled[m] {
					lab = Params(int64(math.Round(v)))
				}
				ts = append(ts, plot.Tick{Value: v, Label: lab})
			}
		}
		return ts
	})
}

// plotCycles is accuracy per cycle: every trained candidate as a point
// (spread sideways within its cycle), the mean and the best per cycle.
func (r *Report) plotCycles() (*figure, error) {
	p := newPlot("Accuracy per cycle", "cycle", "accuracy (best epoch)")
	lg := newLegend()
	byCycle := map[int][]Entry{}
	hi := 0.0
	for _, e := range r.Trained {
		byCycle[e.Cycle] = append(byCycle[e.Cycle], e)
		hi = max(hi, e.Accuracy)
	}
	var adm, rest, pruned plotter.XYs
	for cyc, es := range byCycle {
		slices.SortFunc(es, func(a, b Entry) int { return cmp.Compare(a.ID, b.ID) })
		for i, e := range es {
			x := float64(cyc)
			if len(es) > 1 {
				x += (float64(i)/float64(len(es)-1) - 0.5) * 0.36
			}
			pt := plotter.XY{X: x, Y: e.Accuracy}
			switch {
			case e.State != "done":
				pruned = append(pruned, pt)
			case e.Admitted:
				adm = append(adm, pt)
			default:
				rest = append(rest, pt)
			}
		}
	}
	var mean, best plotter.XYs
	lo, top := math.Inf(1), math.Inf(-1)
	for _, c := range r.Cycles {
		lo, top = math.Min(lo, float64(c.Cycle)), math.Max(top, float64(c.Cycle))
		if c.Trained > 0 {
			mean = append(mean, plotter.XY{X: float64(c.Cycle), Y: c.Mean})
			best = append(best, plotter.XY{X: float64(c.Cycle), Y: c.Best})
		}
	}
	for _, g := range []struct {
		xys   plotter.XYs
		name  string
		shape draw.GlyphDrawer
		col   color.Color
	}{
		{rest, "trained, not admitted", draw.RingGlyph{}, colGrey},
		{pruned, "pruned early", draw.CrossGlyph{}, colGrey},
		{adm, "admitted", draw.CircleGlyph{}, color.NRGBA{0, 114, 178, 150}},
	} {
		if len(g.xys) == 0 {
			continue
		}
		s, err := scatter(g.xys, g.shape, g.col, vg.Points(3))
		if err != nil {
			return nil, err
		}
		p.Add(s)
		lg.Add(g.name, s)
	}
	for _, g := range []struct {
		xys   plotter.XYs
		name  string
		col   color.Color
		shape draw.GlyphDrawer
	}{
		{mean, "mean of trained", colOrange, draw.SquareGlyph{}},
		{best, "best", colGreen, draw.TriangleGlyph{}},
	} {
		if len(g.xys) == 0 {
			continue
		}
		l, s, err := linePoints(g.xys, g.col, g.shape, false)
		if err != nil {
			return nil, err
		}
		if len(g.xys) > 30 {
			// Markers on every cycle of a long loop blur into a band.
			p.Add(l)
			lg.Add(g.name, l)
			continue
		}
		p.Add(l, s)
		lg.Add(g.name, l, s)
	}
	if err := thresholdLine(p, lg, r.Threshold, lo-0.5, top+0.5); err != nil {
		return nil, err
	}
	if len(r.References) == 1 {
		// One task: the corpus's median and best give the scale.
		ref := r.References[0]
		for _, g := range []struct {
			y    float64
			name string
			dash []vg.Length
		}{
			{ref.Median, fmt.Sprintf("corpus median %.3f", ref.Median), []vg.Length{vg.Points(6), vg.Points(3)}},
			{ref.Best, fmt.Sprintf("corpus best %.3f", ref.Best), []vg.Length{vg.Points(1), vg.Points(2)}},
		} {
			l, err := plotter.NewLine(plotter.XYs{{X: lo - 0.5, Y: g.y}, {X: top + 0.5, Y: g.y}})
			if err != nil {
				return nil, err
			}
			l.LineStyle.Color, l.LineStyle.Width, l.LineStyle.Dashes = colGrey, vg.Points(1.2), g.dash
			p.Add(l)
			lg.Add(g.name, l)
			hi = max(hi, g.y)
		}
	}
	intAxis(&p.X, lo-0.5, top+0.5)
	accAxis(&p.Y, max(hi, r.Threshold))
	return &figure{p: p, legend: lg, w: 7.5 * vg.Inch, h: 4.2 * vg.Inch}, nil
}

// plotParams is accuracy against parameter count on a log axis, the five
// best admitted models labelled.
func (r *Report) plotParams() (*figure, error) {
	p := newPlot("Accuracy vs model size", "parameters (log scale)", "accuracy (best epoch)")
	lg := newLegend()
	var adm, rest plotter.XYs
	lo, hi, top := math.Inf(1), math.Inf(-1), 0.0
	for _, e := range r.Trained {
		if e.Params <= 0 {
			continue
		}
		pt := plotter.XY{X: float64(e.Params), Y: e.Accuracy}
		lo, hi, top = math.Min(lo, pt.X), math.Max(hi, pt.X), math.Max(top, pt.Y)
		if e.Admitted {
			adm = append(adm, pt)
		} else {
			rest = append(rest, pt)
		}
	}
	if len(adm)+len(rest) == 0 {
		return nil, nil
	}
	if len(rest) > 0 {
		s, err := scatter(rest, draw.RingGlyph{}, colGrey, vg.Points(3))
		if err != nil {
			return nil, err
		}
		p.Add(s)
		lg.Add("not admitted", s)
	}
	if len(adm) > 0 {
		s, err := scatter(adm, draw.CircleGlyph{}, color.NRGBA{0, 114, 178, 170}, vg.Points(3.5))
		if err != nil {
			return nil, err
		}
		p.Add(s)
		lg.Add("admitted", s)
	}
	// Pad the range by a fraction of a decade so points do not sit on the
	// frame, and give a single size a visible range.
	lo, hi = lo/1.6, hi*1.6
	// The best five get their rank beside the point and their name in the
	// legend: full names beside the points would overlap.
	var top5 plotter.XYLabels
	for _, e := range r.Leaderboard {
		if len(top5.XYs) == 5 {
			break
		}
		if e.Params > 0 {
			top5.XYs = append(top5.XYs, plotter.XY{X: float64(e.Params), Y: e.Accuracy})
			top5.Labels = append(top5.Labels, fmt.Sprintf("#%d", e.Rank))
			lg.Add(fmt.Sprintf("#%d %s  %.3f · %s", e.Rank, e.Short(), e.Accuracy, Params(e.Params)), noThumb{})
		}
	}
	if len(top5.XYs) > 0 {
		labs, err := newLabels(top5, vg.Points(8.5), colBlue)
		if err != nil {
			return nil, err
		}
		labs.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(2)}
		p.Add(labs)
	}
	if err := thresholdLine(p, lg, r.Threshold, lo, hi); err != nil {
		return nil, err
	}
	paramAxis(&p.X, lo, hi)
	accAxis(&p.Y, max(top, r.Threshold))
	return &figure{p: p, legend: lg, w: 7.5 * vg.Inch, h: 4.2 * vg.Inch}, nil
}

// plotCurve is one model's accuracy per epoch, every point labelled when
// there are few; a one-epoch run is a single labelled point.
func (r *Report) plotCurve(e Entry) (*figure, error) {
	title := fmt.Sprintf("%s  (#%d)\naccuracy %.4f at epoch %d of %d · %s params · %s", e.Short(), e.Rank, e.Accuracy,
		e.BestEpoch, len(e.Epochs), Params(e.Params), Dur(e.Duration))
	p := newPlot(title, "epoch", "accuracy")
	p.Title.TextStyle.Font.Size = vg.Points(11)
	xys := make(plotter.XYs, len(e.Epochs))
	for i, a := range e.Epochs {
		xys[i] = plotter.XY{X: float64(i + 1), Y: a}
	}
	l, s, err := linePoints(xys, colBlue, draw.CircleGlyph{}, false)
	if err != nil {
		return nil, err
	}
	if len(xys) > 1 {
		p.Add(l)
	}
	s.GlyphStyle.Radius = vg.Points(4)
	p.Add(s)
	if len(xys) <= 12 {
		labs := plotter.XYLabels{XYs: xys, Labels: make([]string, len(xys))}
		for i, a := range e.Epochs {
			labs.Labels[i] = fmt.Sprintf("%.3f", a)
		}
		lp, err := newLabels(labs, vg.Points(9), colBlack)
		if err != nil {
			return nil, err
		}
		for i := range lp.TextStyle {
			lp.TextStyle[i].XAlign = draw.XCenter
		}
		lp.Offset = vg.Point{Y: vg.Points(10)}
		p.Add(lp)
	}
	best, err := scatter(plotter.XYs{{X: float64(e.BestEpoch), Y: e.Accuracy}}, draw.RingGlyph{}, colGreen, vg.Points(7))
	if err != nil {
		return nil, err
	}
	best.GlyphStyle.Radius = vg.Points(7)
	p.Add(best)
	n := float64(len(e.Epochs))
	if err := thresholdLine(p, nil, r.Threshold, 0.5, n+0.5); err != nil {
		return nil, err
	}
	intAxis(&p.X, 0.5, n+0.5)
	accAxis(&p.Y, max(e.Accuracy+0.05, r.Threshold))
	return &figure{p: p, w: 5 * vg.Inch, h: 3.4 * vg.Inch}, nil
}

// plotCurves overlays the learning curves of the top admitted models. When
// every one ran a single epoch there is nothing to connect, so it becomes a
// dot chart of their accuracies, one row per model.
func (r *Report) plotCurves(top int) (*figure, error) {
	es := r.Leaderboard[:min(top, len(r.Leaderboard))]
	if len(es) == 0 {
		return nil, nil
	}
	maxEp := 0
	for _, e := range es {
		maxEp = max(maxEp, len(e.Epochs))
	}
	if maxEp <= 1 {
		return r.plotDots(es)
	}
	p := newPlot(fmt.Sprintf("Learning curves of the top %d admitted models", len(es)), "epoch", "accuracy")
	lg := newLegend()
	hi := 0.0
	for i, e := range es {
		xys := make(plotter.XYs, len(e.Epochs))
		for k, a := range e.Epochs {
			xys[k] = plotter.XY{X: float64(k + 1), Y: a}
			hi = max(hi, a)
		}
		col := palette[i%len(palette)]
		l, s, err := linePoints(xys, col, glyphs[i%len(glyphs)], i >= len(palette))
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Radius = vg.Points(3)
		if len(xys) > 1 {
			p.Add(l)
		}
		p.Add(s)
		lg.Add(fmt.Sprintf("#%d %s %.3f", e.Rank, e.Short(), e.Accuracy), l, s)
	}
	if err := thresholdLine(p, lg, r.Threshold, 0.5, float64(maxEp)+0.5); err != nil {
		return nil, err
	}
	intAxis(&p.X, 0.5, float64(maxEp)+0.5)
	accAxis(&p.Y, max(hi, r.Threshold))
	return &figure{p: p, legend: lg, w: 7.5 * vg.Inch, h: 4.2 * vg.Inch}, nil
}

// noThumb is a legend entry without a symbol (a note under the symbols).
type noThumb struct{}

func (noThumb) Thumbnail(*draw.Canvas) {}

var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{}, draw.BoxGlyph{}}

// plotDots shows one-epoch models as a labelled dot per model, best on top.
func (r *Report) plotDots(es []Entry) (*figure, error) {
	p := newPlot(fmt.Sprintf("Accuracy after 1 epoch, top %d admitted models", len(es)), "accuracy", "")
	names := make([]string, len(es))
	xys := make(plotter.XYs, len(es))
	labs := plotter.XYLabels{XYs: xys, Labels: make([]string, len(es))}
	hi := 0.0
	for i, e := range es {
		row := len(es) - 1 - i // best on top
		names[row] = fmt.Sprintf("#%d %s", e.Rank, e.Short())
		xys[i] = plotter.XY{X: e.Accuracy, Y: float64(row)}
		labs.Labels[i] = fmt.Sprintf("%.3f · %s", e.Accuracy, Params(e.Params))
		hi = max(hi, e.Accuracy)
	}
	// Stems from zero make the dots read as lengths.
	for _, pt := range xys {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: pt.Y}, pt})
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color, l.LineStyle.Width = color.NRGBA{0, 114, 178, 90}, vg.Points(2)
		p.Add(l)
	}
	s, err := scatter(xys, draw.CircleGlyph{}, colBlue, vg.Points(4.5))
	if err != nil {
		return nil, err
	}
	p.Add(s)
	lp, err := newLabels(labs, vg.Points(8.5), colBlack)
	if err != nil {
		return nil, err
	}
	for i := range lp.TextStyle {
		lp.TextStyle[i].YAlign = draw.YCenter
	}
	lp.Offset = vg.Point{X: vg.Points(8)}
	p.Add(lp)
	if r.Threshold > 0 {
		// A vertical admission line for a horizontal accuracy axis.
		l, err := plotter.NewLine(plotter.XYs{{X: r.Threshold, Y: -0.5}, {X: r.Threshold, Y: float64(len(es)) - 0.5}})
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color, l.LineStyle.Dashes = colRed, []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
	}
	p.NominalY(names...)
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	p.Y.Min, p.Y.Max = -0.6, float64(len(es))-0.4
	accAxis(&p.X, max(hi+0.12, r.Threshold)) // room for the value labels
	h := vg.Length(1.2+0.28*float64(len(es))) * vg.Inch
	return &figure{p: p, w: 7 * vg.Inch, h: h}, nil
}

// plotOutcomes stacks, per cycle, what became of the candidates (admitted
// at the bottom, so the generator's progress reads as a growing blue
// base), with the valid rate above each bar when there is room.
func (r *Report) plotOutcomes() (*figure, error) {
	if len(r.Cycles) == 0 {
		return nil, nil
	}
	p := newPlot("Outcomes per cycle", "cycle", "candidates")
	lg := newLegend()
	first, last := r.Cycles[0].Cycle, r.Cycles[len(r.Cycles)-1].Cycle
	n := last - first + 1
	series := []struct {
		name string
		col  color.Color
		get  func(CycleStats) int
	}{
		{"admitted", colBlue, func(c CycleStats) int { return c.Admitted }},
		{"trained, not admitted", colSky, func(c CycleStats) int { return c.Trained - min(c.Admitted, c.Trained) }},
		{"pruned", color.NRGBA{190, 190, 190, 255}, func(c CycleStats) int { return c.Pruned }},
		{"failed", colRed, func(c CycleStats) int { return c.Failed }},
		{"rejected", colOrange, func(c CycleStats) int { return c.Rejected }},
		{"duplicate", colPurple, func(c CycleStats) int { return c.Duplicates }},
		{"not finished", color.NRGBA{235, 235, 235, 255}, func(c CycleStats) int { return c.Pending }},
	}
	// Bars fill about 70% of a cycle's slot of the ~5.2 inch data area.
	width := min(vg.Points(36), vg.Length(5.2*72/float64(n))*0.7)
	var below *plotter.BarChart
	top := 0
	var legendEntries []func()
	for _, s := range series {
		vals := make(plotter.Values, n)
		any := false
		for _, c := range r.Cycles {
			v := s.get(c)
			vals[c.Cycle-first] = float64(v)
			any = any || v > 0
		}
		if !any {
			continue
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		b.XMin = float64(first)
		b.Color = s.col
		b.LineStyle.Width = 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		name, bar := s.name, b
		legendEntries = append(legendEntries, func() { lg.Add(name, bar) })
	}
	// Legend top-down in the order the stack reads from the top.
	for i := len(legendEntries) - 1; i >= 0; i-- {
		legendEntries[i]()
	}
	for _, c := range r.Cycles {
		top = max(top, c.Generated)
	}
	if n <= 20 {
		var labs plotter.XYLabels
		for _, c := range r.Cycles {
			if c.Generated-c.Pending > 0 {
				labs.XYs = append(labs.XYs, plotter.XY{X: float64(c.Cycle), Y: float64(c.Generated)})
				labs.Labels = append(labs.Labels, fmt.Sprintf("%.0f%%", 100*c.ValidRate))
			}
		}
		if len(labs.XYs) > 0 {
			l, err := newLabels(labs, vg.Points(8.5), colBlack)
			if err != nil {
				return nil, err
			}
			for i := range l.TextStyle {
				l.TextStyle[i].XAlign = draw.XCenter
			}
			l.Offset = vg.Point{Y: vg.Points(3)}
			p.Add(l)
			lg.Add("% = valid rate", noThumb{})
		}
	}
	intAxis(&p.X, float64(first)-0.6, float64(last)+0.6)
	p.Y.Min, p.Y.Max = 0, float64(top)*1.15+0.5
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		step := niceStep(int(hi) + 1)
		var ts []plot.Tick
		for v := 0; float64(v) <= hi; v += step {
			ts = append(ts, plot.Tick{Value: float64(v), Label: fmt.Sprint(v)})
		}
		return ts
	})
	return &figure{p: p, legend: lg, w: 7.5 * vg.Inch, h: 4.2 * vg.Inch}, nil
}
