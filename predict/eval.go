package predict

import (
	"encoding/json"
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
	// Median predicts the median best accuracy of the dataset's training
	// runs: the zero-shot baseline that knows nothing of the run.
	Median Method = "median"
	// NearestModel predicts the median best accuracy, on the run's
	// dataset, of the training model whose code is most similar.
	NearestModel Method = "nearest"
	// Persistence predicts the best accuracy to be the accuracy after
	// epoch K, reached at the best observed epoch (K >= 1).
	Persistence Method = "persistence"
	// LinearFit is the linear reference (K >= 1).
	LinearFit Method = "linear"
	// Boosted is the learned model.
	Boosted Method = "gbt"
)

// Methods lists the built-in methods in table order; an evaluation holds
// those that exist at its K (and compared models after them).
var Methods = []Method{Median, NearestModel, Persistence, LinearFit, Boosted}

// Compared is a further learned model scored beside the main one (e.g.
// the same K without code features).
type Compared struct {
	Method Method
	Model  *Model
}

// Num is a score that may be undefined (NaN), written as JSON null.
type Num float64

// MarshalJSON writes NaN and infinities as null.
func (n Num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// UnmarshalJSON reads null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*n = Num(f)
	return err
}

// Scores are the errors of one method on a set of runs.
type Scores struct {
	Runs     int     `json:"runs"`
	RMSE     float64 `json:"rmse"`
	MAE      float64 `json:"mae"`
	Pearson  Num     `json:"pearson_r"`
	EpochMAE float64 `json:"best_epoch_mae"`
	// Ranking within a dataset: Kendall's tau-b and Spearman's rho
	// between predicted and true best accuracy, and the share of the true
	// top 10% runs that are in the predicted top 10%. Pooled, they are
	// the run-weighted means over the datasets with at least MinRankRuns
	// test runs (ranking across datasets says nothing).
	Kendall     Num `json:"kendall_tau"`
	Spearman    Num `json:"spearman"`
	Top10Recall Num `json:"top10_recall"`
	// FinalRMSE is the RMSE of the final accuracy (learned models only).
	FinalRMSE float64 `json:"final_rmse,omitempty"`
	// Coverage is the share of runs whose best accuracy fell inside the
	// interval, and Width its mean width (learned models only).
	Coverage float64 `json:"coverage,omitempty"`
	Width    float64 `json:"interval_width,omitempty"`
}

// MinRankRuns is the fewest test runs of a dataset for its ranking scores
// to enter the pooled ones.
const MinRankRuns = 10

// Group is the scores of every method on one dataset ("" pooled).
type Group struct {
	Task    string `json:"task,omitempty"`
	Dataset string `json:"dataset"`
	// Methods are the methods scored, in table order.
	Methods []Method          `json:"methods"`
	Scores  map[Method]Scores `json:"scores"`
}

type outcome struct {
	dataset, task string
	best, final   float64
	epoch         float64
	pred          map[Method]float64
	predEpoch     map[Method]float64
	// Learned models' final accuracies and intervals.
	predFinal, low, high map[Method]float64
}

// Evaluate scores the baselines that exist at the model's K and the model
// (and any compared models, which must share its K) on test runs (those
// with more than K epochs), pooled and per dataset. The first group is
// the pooled one (Dataset "").
func Evaluate(m *Model, test []Run, code map[string]CodeFeatures, others ...Compared) ([]Group, error) {
	k := m.Schema.K
	test = Trainable(test, k)
	var methods []Method
	methods = append(methods, Median)
	if m.Schema.Neighbours != nil {
		methods = append(methods, NearestModel)
	}
	if k > 0 {
		methods = append(methods, Persistence, LinearFit)
	}
	learned := []Compared{{Boosted, m}}
	learned = append(learned, others...)
	for _, c := range learned {
		methods = append(methods, c.Method)
	}
	outs := make([]outcome, 0, len(test))
	for i := range test {
		r := &test[i]
		in := InputOf(r, k, code[r.NN])
		best, be := r.Best()
		o := outcome{dataset: r.Dataset, task: r.Task, best: best, final: r.Final(), epoch: float64(be),
			pred: map[Method]float64{}, predEpoch: map[Method]float64{},
			predFinal: map[Method]float64{}, low: map[Method]float64{}, high: map[Method]float64{}}
		refEpoch := float64(m.LinearBestEpoch(&in))
		o.pred[Median], o.predEpoch[Median] = m.MedianBest(&in), refEpoch
		if m.Schema.Neighbours != nil {
			nb, ok := m.NearestBest(&in)
			if !ok {
				nb.Best = m.MedianBest(&in)
			}
			o.pred[NearestModel], o.predEpoch[NearestModel] = nb.Best, refEpoch
		}
		if k > 0 {
			seen := Run{Acc: r.Acc[:k]}
			_, seenEpoch := seen.Best()
			o.pred[Persistence], o.predEpoch[Persistence] = r.Acc[k-1], float64(seenEpoch)
			l, _ := m.LinearBest(&in)
			o.pred[LinearFit], o.predEpoch[LinearFit] = l, refEpoch
		}
		for _, c := range learned {
			p, err := c.Model.Predict(in)
			if err != nil {
				return nil, err
			}
			o.pred[c.Method], o.predEpoch[c.Method] = p.BestAccuracy, float64(p.BestEpoch)
			o.predFinal[c.Method], o.low[c.Method], o.high[c.Method] = p.FinalAccuracy, p.Low, p.High
		}
		outs = append(outs, o)
	}
	by := map[string][]outcome{}
	for _, o := range outs {
		by[o.dataset] = append(by[o.dataset], o)
	}
	names := make([]string, 0, len(by))
	for d := range by {
		names = append(names, d)
	}
	sort.Strings(names)
	var perDS []Group
	for _, d := range names {
		perDS = append(perDS, score(by[d][0].task, d, by[d], methods))
	}
	pooled := score("", "", outs, methods)
	// Pooled ranking: the run-weighted mean of the datasets' own.
	for _, meth := range methods {
		var n, kt, sp, tr float64
		for _, g := range perDS {
			s := g.Scores[meth]
			if s.Runs < MinRankRuns || math.IsNaN(float64(s.Kendall)) {
				continue
			}
			w := float64(s.Runs)
			n += w
			kt += w * float64(s.Kendall)
			sp += w * float64(s.Spearman)
			tr += w * float64(s.Top10Recall)
		}
		s := pooled.Scores[meth]
		s.Kendall, s.Spearman, s.Top10Recall = Num(math.NaN()), Num(math.NaN()), Num(math.NaN())
		if n > 0 {
			s.Kendall, s.Spearman, s.Top10Recall = Num(kt/n), Num(sp/n), Num(tr/n)
		}
		pooled.Scores[meth] = s
	}
	return append([]Group{pooled}, perDS...), nil
}

func score(task, dataset string, outs []outcome, methods []Method) Group {
	g := Group{Task: task, Dataset: dataset, Methods: methods, Scores: map[Method]Scores{}}
	if len(outs) == 0 {
		return g
	}
	truth := make([]float64, len(outs))
	for i, o := range outs {
		truth[i] = o.best
	}
	for _, meth := range methods {
		pred := make([]float64, len(outs))
		var se, ae, eae, fse, cover, width float64
		_, isLearned := outs[0].predFinal[meth]
		for i, o := range outs {
			pred[i] = o.pred[meth]
			d := pred[i] - o.best
			se += d * d
			ae += math.Abs(d)
			eae += math.Abs(o.predEpoch[meth] - o.epoch)
			if isLearned {
				fd := o.predFinal[meth] - o.final
				fse += fd * fd
				if o.best >= o.low[meth] && o.best <= o.high[meth] {
					cover++
				}
				width += o.high[meth] - o.low[meth]
			}
		}
		n := float64(len(outs))
		s := Scores{Runs: len(outs)}
		s.RMSE, s.MAE, s.EpochMAE = math.Sqrt(se/n), ae/n, eae/n
		s.Pearson = Num(pearson(pred, truth))
		s.Kendall, s.Spearman = Num(KendallTau(pred, truth)), Num(Spearman(pred, truth))
		s.Top10Recall = Num(TopRecall(pred, truth, 0.1))
		if isLearned {
			s.FinalRMSE, s.Coverage, s.Width = math.Sqrt(fse/n), cover/n, width/n
		}
		g.Scores[meth] = s
	}
	return g
}

// pearson is the correlation, NaN when either side is constant.
func pearson(x, y []float64) float64 {
	if len(x) < 2 || constant(x) || constant(y) {
		return math.NaN()
	}
	return stat.Correlation(x, y, nil)
}

func constant(v []float64) bool {
	for _, x := range v[1:] {
		if x != v[0] {
			return false
		}
	}
	return true
}

// Score computes the errors of predictions against the truth: best
// accuracies and best epochs, pairwise, with the ranking scores over all
// of them (one dataset's runs, for ranking to mean something).
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
	s.Pearson = Num(pearson(pred, truth))
	s.Kendall, s.Spearman = Num(KendallTau(pred, truth)), Num(Spearman(pred, truth))
	s.Top10Recall = Num(TopRecall(pred, truth, 0.1))
	return s
}
