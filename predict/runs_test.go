package predict

import (
	"slices"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

func rec(nn, uid string, epoch int, acc float64) lemur.Record {
	return lemur.Record{Pipeline: lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: nn},
		Epoch: epoch, Accuracy: acc, UID: uid, Prm: lemur.Dict{{Key: "lr", Value: 0.01}}}
}

func TestBuildRuns(t *testing.T) {
	tests := []struct {
		name    string
		recs    []lemur.Record
		want    map[string][]float64 // nn/uid -> accuracies
		wantAmb int
		wantInc int
		wantE0  int
	}{
		{
			name: "complete runs in any order",
			recs: []lemur.Record{rec("A", "u1", 2, 0.5), rec("A", "u1", 1, 0.3), rec("A", "u1", 3, 0.4), rec("B", "u1", 1, 0.2)},
			want: map[string][]float64{"A/u1": {0.3, 0.5, 0.4}, "B/u1": {0.2}},
		},
		{
			name:    "uid twice in one epoch is ambiguous",
			recs:    []lemur.Record{rec("A", "u1", 1, 0.3), rec("A", "u1", 1, 0.31), rec("A", "u1", 2, 0.5), rec("A", "u2", 1, 0.1)},
			want:    map[string][]float64{"A/u2": {0.1}},
			wantAmb: 1,
		},
		{
			name:    "a missing epoch makes a run incomplete",
			recs:    []lemur.Record{rec("A", "u1", 1, 0.3), rec("A", "u1", 3, 0.5)},
			want:    map[string][]float64{},
			wantInc: 1,
		},
		{
			name:   "epoch 0 is ignored",
			recs:   []lemur.Record{rec("A", "u1", 0, 0.1), rec("A", "u1", 1, 0.3)},
			want:   map[string][]float64{"A/u1": {0.3}},
			wantE0: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, st, err := BuildRuns(Records(tc.recs))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]float64{}
			for _, r := range runs {
				got[r.NN+"/"+r.UID] = r.Acc
			}
			if len(got) != len(tc.want) {
				t.Fatalf("runs %v, want %v", got, tc.want)
			}
			for k, w := range tc.want {
				if !slices.Equal(got[k], w) {
					t.Errorf("%s: acc %v, want %v", k, got[k], w)
				}
			}
			if st.Ambiguous != tc.wantAmb || st.Incomplete != tc.wantInc || st.Epoch0 != tc.wantE0 || st.Records != len(tc.recs) {
				t.Errorf("stats %+v, want ambiguous %d incomplete %d epoch0 %d", st, tc.wantAmb, tc.wantInc, tc.wantE0)
			}
		})
	}
}

func TestRunTargets(t *testing.T) {
	r := Run{Acc: []float64{0.3, 0.6, 0.6, 0.5}}
	if b, e := r.Best(); b != 0.6 || e != 2 {
		t.Errorf("Best = %v at %d, want 0.6 at 2 (the first epoch reaching it)", b, e)
	}
	if r.Final() != 0.5 || r.MaxEpoch() != 4 {
		t.Errorf("Final %v MaxEpoch %d", r.Final(), r.MaxEpoch())
	}
}

func TestParseTransform(t *testing.T) {
	tests := []struct {
		in   string
		want Transform
	}{
		{"norm_256_flip", Transform{"norm", 256, true}},
		{"echo", Transform{"echo", 0, false}},
		{"complex_64", Transform{"complex", 64, false}},
		{"soft_pad", Transform{"soft_pad", 0, false}},
		{"", Transform{"", 0, false}},
	}
	for _, tc := range tests {
		if got := ParseTransform(tc.in); got != tc.want {
			t.Errorf("ParseTransform(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
