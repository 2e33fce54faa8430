package predict

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
)

// SplitByModel puts every run of a model on one side: about testShare of
// the models (chosen by a seeded hash of the name) go to test.
func SplitByModel(runs []Run, testShare float64, seed uint64) (train, test []Run) {
	for _, r := range runs {
		// Offset the seed so the test split and the calibration split
		// inside Train do not pick the same models.
		if modelShare(r.NN, seed^0x5bd1e995) < testShare {
			test = append(test, r)
		} else {
			train = append(train, r)
		}
	}
	return train, test
}

// Method names a predictor in an evaluation.
type Method string

const (
	// Persistence predicts the best accuracy to be the accuracy after
	// epoch K, reached at the best observed epoch.
	Persistence Method = "persistence"
	// LinearFit is the 3-parameter reference.
	LinearFit Method = "linear"
	// Boosted is the learned model.
	Boosted Method = "gbt"
)

// Methods lists the methods in table order.
var Methods = []Method{Persistence, LinearFit, Boosted}

// Scores are the errors of one method on a set of runs.
type Scores struct {
	Runs     int     `json:"runs"`
	RMSE     float64 `json:"rmse"`
	MAE      float64 `json:"mae"`
	Pearson  float64 `json:"pearson_r"`
	EpochMAE float64 `json:"best_epoch_mae"`
	// FinalRMSE is the RMSE of the final accuracy (learned model only).
	FinalRMSE float64 `json:"final_rmse,omitempty"`
	// Coverage is the share of runs whose best accuracy fell inside the
	// interval, and Width its mean width (learned model only).
	Coverage float64 `json:"coverage,omitempty"`
	Width    float64 `json:"interval_width,omitempty"`
}

// Group is the scores of every method on one dataset ("" pooled).
type Group struct {
	Task    string            `json:"task,omitempty"`
	Dataset string            `json:"dataset"`
	Scores  map[Method]Scores `json:"scores"`
}

type outcome struct {
	dataset, task        string
	best, final          float64
	epoch                float64
	pred                 map[Method]float64
	predEpoch            map[Method]float64
	predFinal, low, high float64
}

// Evaluate scores persistence, the linear fit and the model on test runs
// (those with more than K epochs), pooled and per dataset. The first group
// is the pooled one (Dataset "").
func Evaluate(m *Model, test []Run, code map[string]CodeFeatures) ([]Group, error) {
	k := m.Schema.K
	test = Trainable(test, k)
	outs := make([]outcome, 0, len(test))
	for i := range test {
		r := &test[i]
		in := InputOf(r, k, code[r.NN])
		p, err := m.Predict(in)
		if err != nil {
			return nil, err
		}
		best, be := r.Best()
		seen := Run{Acc: r.Acc[:k]}
		_, seenEpoch := seen.Best()
		outs = append(outs, outcome{
			dataset: r.Dataset, task: r.Task, best: best, final: r.Final(), epoch: float64(be),
			pred: map[Method]float64{
				Persistence: r.Acc[k-1],
				LinearFit:   p.Linear,
				Boosted:     p.BestAccuracy,
			},
			predEpoch: map[Method]float64{
				Persistence: float64(seenEpoch),
				LinearFit:   math.Min(float64(r.MaxEpoch()), math.Max(1, math.Round(m.LinearEpoch.Predict(float64(r.MaxEpoch()), r.Acc[k-1]-r.Acc[0])))),
				Boosted:     float64(p.BestEpoch),
			},
			predFinal: p.FinalAccuracy, low: p.Low, high: p.High,
		})
	}
	groups := []Group{score("", "", outs)}
	by := map[string][]outcome{}
	for _, o := range outs {
		by[o.dataset] = append(by[o.dataset], o)
	}
	names := make([]string, 0, len(by))
	for d := range by {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		groups = append(groups, score(by[d][0].task, d, by[d]))
	}
	return groups, nil
}

func score(task, dataset string, outs []outcome) Group {
	g := Group{Task: task, Dataset: dataset, Scores: map[Method]Scores{}}
	truth := make([]float64, len(outs))
	for i, o := range outs {
		truth[i] = o.best
	}
	for _, meth := range Methods {
		pred := make([]float64, len(outs))
		var se, ae, eae, fse, cover, width float64
		for i, o := range outs {
			pred[i] = o.pred[meth]
			d := pred[i] - o.best
			se += d * d
			ae += math.Abs(d)
			eae += math.Abs(o.predEpoch[meth] - o.epoch)
			if meth == Boosted {
				fd := o.predFinal - o.final
				fse += fd * fd
				if o.best >= o.low && o.best <= o.high {
					cover++
				}
				width += o.high - o.low
			}
		}
		n := float64(len(outs))
		s := Scores{Runs: len(outs)}
		if n > 0 {
			s.RMSE, s.MAE, s.EpochMAE = math.Sqrt(se/n), ae/n, eae/n
			s.Pearson = pearson(pred, truth)
			if meth == Boosted {
				s.FinalRMSE, s.Coverage, s.Width = math.Sqrt(fse/n), cover/n, width/n
			}
		}
		g.Scores[meth] = s
	}
	return g
}

// pearson is the correlation, NaN when either side is constant.
func pearson(x, y []float64) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	return stat.Correlation(x, y, nil)
}

// Score computes the errors of predictions against the truth: best
// accuracies and best epochs, pairwise.
func Score(pred, truth, predEpoch, truthEpoch []float64) Scores {
	s := Scores{Runs: len(pred)}
	if len(pred) == 0 {
		return s
	}
	var se, ae, eae float64
	for i := range pred {
		d := pred[i] - truth[i]
		se += d * d
		ae += math.Abs(d)
		eae += math.Abs(predEpoch[i] - truthEpoch[i])
	}
	n := float64(len(pred))
	s.RMSE, s.MAE, s.EpochMAE = math.Sqrt(se/n), ae/n, eae/n
	s.Pearson = pearson(pred, truth)
	return s
}
