package report

import (
	"bytes"
	"fmt"

	"github.com/nngpt/nngpt/store"
)

// Plot names SVG accepts: the report's own figures, so a viewer (the
// dashboard) draws exactly what report.md shows.
const (
	PlotOutcomes = plotOutcomes
	PlotCycles   = plotCycles
	PlotParams   = plotParams
	PlotCurves   = plotCurves
)

// SVG renders one of the report's plots (PlotOutcomes, PlotCycles,
// PlotParams, PlotCurves) as SVG. It returns nil bytes when the report has
// nothing to draw there yet (no trained candidate, no admitted model).
func (r *Report) SVG(name string) ([]byte, error) {
	var (
		f   *figure
		err error
	)
	switch name {
	case plotOutcomes:
		f, err = r.plotOutcomes()
	case plotCycles:
		if len(r.Trained) > 0 {
			f, err = r.plotCycles()
		}
	case plotParams:
		if len(r.Trained) > 0 {
			f, err = r.plotParams()
		}
	case plotCurves:
		if len(r.Trained) > 0 {
			f, err = r.plotCurves(overviewTop)
		}
	default:
		return nil, fmt.Errorf("report: no plot %q (want %s, %s, %s or %s)", name, plotOutcomes, plotCycles, plotParams, plotCurves)
	}
	return render(f, err)
}

// CurveSVG renders one trained candidate's learning curve as SVG.
func (r *Report) CurveSVG(e Entry) ([]byte, error) {
	if len(e.Epochs) == 0 {
		return nil, nil
	}
	return render(r.plotCurve(e))
}

// EntryOf is the report's view of one candidate (best accuracy and epoch,
// hyperparameters as text), for callers that plot a single one.
func EntryOf(c *store.CandidateRow) Entry { return entry(c) }

func render(f *figure, err error) ([]byte, error) {
	if err != nil || f == nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := f.writeSVG(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
