package report

import (
	"bytes"
	"testing"

	"github.com/nngpt/nngpt/store"
)

func TestSVG(t *testing.T) {
	cs := []store.CandidateRow{
		{ID: "L-c01-00", Cycle: 1, State: store.StateDone, Name: "a", Epochs: []float64{0.3, 0.5}, Params: 1000, Admitted: true},
		{ID: "L-c01-01", Cycle: 1, State: store.StateRejected, Name: "b", Reason: "syntax"},
		{ID: "L-c02-00", Cycle: 2, State: store.StateDone, Name: "c", Epochs: []float64{0.2}, Params: 5000},
	}
	full := FromCandidates(store.Loop{ID: "L"}, cs)
	empty := FromCandidates(store.Loop{ID: "L"}, cs[1:2])
	for _, tc := range []struct {
		name    string
		r       *Report
		want    bool // an SVG expected (else nil: nothing to draw)
		wantErr bool
	}{
		{PlotOutcomes, full, true, false},
		{PlotCycles, full, true, false},
		{PlotParams, full, true, false},
		{PlotCurves, full, true, false},
		{PlotCycles, empty, false, false},
		{PlotParams, empty, false, false},
		{"nope", full, false, true},
	} {
		b, err := tc.r.SVG(tc.name)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%s: err %v, want error %v", tc.name, err, tc.wantErr)
		}
		if got := bytes.Contains(b, []byte("<svg")); got != tc.want {
			t.Errorf("%s: svg %v, want %v (%d bytes)", tc.name, got, tc.want, len(b))
		}
	}
	b, err := full.CurveSVG(EntryOf(&cs[0]))
	if err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("curve: %d bytes, %v", len(b), err)
	}
	if b, err := full.CurveSVG(EntryOf(&cs[1])); b != nil || err != nil {
		t.Fatalf("curve of an untrained candidate: %d bytes, %v; want nothing", len(b), err)
	}
}
