package predict

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/nngpt/nngpt/predict/gbt"
)

// Options configure Train. Zero fields take the defaults.
type Options struct {
	// K is the number of epochs observed before predicting, taken as
	// given: 0 is a zero-shot model (code, hyperparameters, transform,
	// dataset and planned epochs; nothing trained yet). DefaultOptions has
	// the usual 2.
	K int `json:"k"`
	// CodeGroups are the code feature groups used (see CodeGroups); nil
	// means DefaultCodeGroups, empty means no code features.
	CodeGroups []string `json:"code_groups"`
	// Durations uses the early epochs' durations as features. Off by
	// default: durations depend on the machine, so a model trained on
	// LEMUR's timings transfers badly to another GPU.
	Durations bool `json:"durations"`
	// Level is the coverage of the interval (default 0.9).
	Level float64 `json:"level"`
	// CalibShare is the share of models held out of the quantile fits to
	// calibrate the interval (default 0.2).
	CalibShare float64 `json:"calib_share"`
	// Trees overrides the number of trees of every boosted model.
	Trees int `json:"trees,omitempty"`
	// Seed drives subsampling and the calibration split.
	Seed uint64 `json:"seed"`
	// stage marks the options of a stage model: it keeps no training
	// models' code for the nearest-model baseline unless its columns need
	// it (the main model holds the baseline).
	stage bool

	// Stages are further numbers of observed epochs (each above K) to fit
	// a model for, so a run can be judged again later with more of its
	// curve: e.g. 3, 5, 10 for early stopping. Predict uses the stage with
	// the most epochs a run has.
	Stages []int `json:"stages,omitempty"`
}

// DefaultOptions are the options of 'nngpt predict train': two observed
// epochs, the default code groups and early-stopping stages.
func DefaultOptions() Options {
	return Options{K: 2, Stages: slices.Clone(DefaultStages)}
}

func (o Options) codeGroups() []string {
	if o.CodeGroups == nil {
		return DefaultCodeGroups
	}
	return o.CodeGroups
}

func (o Options) withDefaults() Options {
	if o.Level == 0 {
		o.Level = 0.9
	}
	if o.CalibShare == 0 {
		o.CalibShare = 0.2
	}
	return o
}

// Model predicts a run's best accuracy (with an interval), best epoch and
// final accuracy from its first K epochs. The boosted parts predict the
// gain over the best accuracy seen so far, which is never negative and
// much easier to learn than the accuracy itself.
type Model struct {
	Format    int       `json:"format"`
	TrainedAt time.Time `json:"trained_at"`
	Options   Options   `json:"options"`
	Schema    Schema    `json:"schema"`
	TrainRuns int       `json:"train_runs"`

	// Linear is the reference: best accuracy from acc_1 and acc_K (from
	// acc_1 alone when K = 1); nil when K = 0, where it cannot exist.
	Linear *Linear `json:"linear,omitempty"`
	// LinearEpoch is best epoch from E and acc_K - acc_1 (from E alone
	// when K < 2).
	LinearEpoch Linear `json:"linear_epoch"`

	Gain    *gbt.Model `json:"gain"`     // mean of best - max(acc_1..K)
	GainLo  *gbt.Model `json:"gain_lo"`  // lower quantile of the gain
	GainHi  *gbt.Model `json:"gain_hi"`  // upper quantile of the gain
	LoShift float64    `json:"lo_shift"` // conformal corrections of the bounds
	HiShift float64    `json:"hi_shift"` //
	// Shifts are per-dataset corrections where the calibration models had
	// enough runs of the dataset (datasets differ a lot in how far runs
	// still climb); others use LoShift and HiShift.
	Shifts    map[string][2]float64 `json:"shifts,omitempty"`
	Epoch     *gbt.Model            `json:"epoch"`      // median best epoch
	FinalGain *gbt.Model            `json:"final_gain"` // mean of final - acc_K

	// Median is the median best accuracy of the training runs: a
	// zero-shot model's base where a dataset has no training runs.
	Median float64 `json:"median"`

	// Stages are models fitted on more observed epochs (ascending K).
	Stages []*Model `json:"stages,omitempty"`
}

// base is what the boosted parts predict a gain over: the best accuracy
// of the K observed epochs, or with none (K = 0) the median best accuracy
// of the dataset's training runs.
func (m *Model) base(in *Input) float64 {
	if k := m.Schema.K; k > 0 {
		return maxOf(in.Acc[:k])
	}
	if p, ok := m.Schema.Priors[in.Dataset]; ok {
		return p.MedianBest
	}
	return m.Median
}

// lastSeen is the accuracy after epoch K, or the base when K = 0: what
// the final-accuracy model predicts a change from.
func (m *Model) lastSeen(in *Input) float64 {
	if k := m.Schema.K; k > 0 {
		return in.Acc[k-1]
	}
	return m.base(in)
}

// epochInputs are the best-epoch reference's inputs: E and acc_K - acc_1
// (E alone when K < 2).
func (m *Model) epochInputs(in *Input) []float64 {
	if k := m.Schema.K; k >= 2 {
		return []float64{float64(in.MaxEpoch), in.Acc[k-1] - in.Acc[0]}
	}
	return []float64{float64(in.MaxEpoch)}
}

// CodeGroups are the code feature groups the model reads.
func (s *Schema) CodeGroups() []string {
	var g []string
	if len(s.CodeKeys) > 0 {
		g = append(g, CodeStructure)
	}
	if s.Embedding {
		g = append(g, CodeEmbedding)
	}
	if s.NeighbourColumns {
		g = append(g, CodeNeighbours)
	}
	return g
}

// LinearBest is the linear reference's best accuracy; ok is false at
// K = 0, where there is none.
func (m *Model) LinearBest(in *Input) (float64, bool) {
	if m.Linear == nil || m.Schema.K == 0 || len(in.Acc) < m.Schema.K {
		return 0, false
	}
	if m.Schema.K == 1 {
		return m.Linear.Predict(in.Acc[0]), true
	}
	return m.Linear.Predict(in.Acc[0], in.Acc[m.Schema.K-1]), true
}

// LinearBestEpoch is the best-epoch reference, rounded into 1..E.
func (m *Model) LinearBestEpoch(in *Input) int {
	e := int(math.Round(m.LinearEpoch.Predict(m.epochInputs(in)...)))
	return min(max(e, 1), in.MaxEpoch)
}

// K is the number of epochs the model needs to predict.
func (m *Model) K() int { return m.Schema.K }

// stageFor picks the model with the most observed epochs that a run with
// seen epochs out of maxEpoch can use.
func (m *Model) stageFor(seen, maxEpoch int) *Model {
	best := m
	for _, s := range m.Stages {
		if s.Schema.K <= seen && s.Schema.K < maxEpoch && s.Schema.K > best.Schema.K {
			best = s
		}
	}
	return best
}

// StageEpochs lists the numbers of observed epochs the model has a stage
// for, ascending: the epochs after which a prediction can change.
func (m *Model) StageEpochs() []int {
	ks := []int{m.Schema.K}
	for _, s := range m.Stages {
		ks = append(ks, s.Schema.K)
	}
	slices.Sort(ks)
	return ks
}

// modelFormat is bumped when the saved layout changes.
const modelFormat = 3

// Prediction is what a model says about one run.
type Prediction struct {
	BestAccuracy float64 `json:"best_accuracy"`
	// Low and High bound the best accuracy with probability Level.
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Level float64 `json:"level"`
	// BestEpoch is the predicted epoch (1-based) of the best accuracy.
	BestEpoch int `json:"best_epoch"`
	// FinalAccuracy is the predicted accuracy after the last epoch.
	FinalAccuracy float64 `json:"final_accuracy"`
	// Linear is the linear reference's best accuracy (absent at K = 0).
	Linear *float64 `json:"linear,omitempty"`
	// Known is true when the run has no epochs left: the numbers are exact.
	Known bool `json:"known,omitempty"`
	// Fallback says why the learned model was not trusted for this run
	// (too few training models of its task and metric); the estimate is
	// then persistence: the best accuracy seen so far, and the final
	// accuracy the last one seen (with nothing seen yet, K = 0: the
	// dataset's median best accuracy). The interval stays the learned one.
	Fallback string `json:"fallback,omitempty"`
}

// Trainable lists the runs a model with K observed epochs learns from (and
// is judged on): those with at least one epoch after the K-th.
func Trainable(runs []Run, k int) []Run {
	var out []Run
	for _, r := range runs {
		if len(r.Acc) > k {
			out = append(out, r)
		}
	}
	return out
}

// Train fits a model on runs; code maps model names to their code features
// (nil or partial when code is missing).
func Train(ctx context.Context, runs []Run, code map[string]CodeFeatures, o Options) (*Model, error) {
	o = o.withDefaults()
	if o.K < 0 {
		return nil, fmt.Errorf("options: K = %d, want 0 (zero-shot) or more observed epochs", o.K)
	}
	if !(o.Level > 0 && o.Level < 1) {
		return nil, fmt.Errorf("options: level = %v, want (0, 1)", o.Level)
	}
	for _, g := range o.CodeGroups {
		if !slices.Contains(CodeGroups, g) {
			return nil, fmt.Errorf("options: code feature group %q, want some of %v", g, CodeGroups)
		}
	}
	runs = Trainable(runs, o.K)
	if len(runs) < 50 {
		return nil, fmt.Errorf("only %d runs with more than %d epochs: need at least 50 to train a predictor (add LEMUR statistics with 'nngpt lemur import' or run more trainings)", len(runs), o.K)
	}
	start := time.Now()
	m := &Model{Format: modelFormat, TrainedAt: start.UTC(), Options: o, TrainRuns: len(runs)}
	m.Schema = NewSchema(runs, o, code)
	bests := make([]float64, len(runs))
	for i := range runs {
		bests[i], _ = runs[i].Best()
	}
	m.Median = median(bests)
	X := make([][]float64, len(runs))
	gain := make([]float64, len(runs))
	finalGain := make([]float64, len(runs))
	epoch := make([]float64, len(runs))
	var lx, ex [][]float64
	ly := make([]float64, len(runs))
	calib := make([]bool, len(runs))
	cache := map[[2]string]nearest{}
	for i := range runs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		r := &runs[i]
		in := InputOf(r, o.K, code[r.NN])
		row, err := m.Schema.row(&in, r.NN, cache)
		if err != nil {
			return nil, fmt.Errorf("run %s uid %s: %w", r.Pipeline, r.UID, err)
		}
		X[i] = row
		best, be := r.Best()
		base := m.base(&in)
		gain[i] = best - base
		finalGain[i] = r.Final() - m.lastSeen(&in)
		epoch[i] = float64(be)
		ly[i] = best
		switch o.K {
		case 0:
		case 1:
			lx = append(lx, []float64{r.Acc[0]})
		default:
			lx = append(lx, []float64{r.Acc[0], r.Acc[o.K-1]})
		}
		ex = append(ex, m.epochInputs(&in))
		calib[i] = modelShare(r.NN, o.Seed) < o.CalibShare
	}
	if o.K > 0 {
		l, err := FitLinear(lx, ly)
		if err != nil {
			return nil, err
		}
		m.Linear = &l
	}
	var err error
	if m.LinearEpoch, err = FitLinear(ex, epoch); err != nil {
		return nil, err
	}
	params := func(loss gbt.Loss, alpha float64) gbt.Params {
		p := gbt.DefaultParams()
		p.Loss, p.Alpha, p.Seed = loss, alpha, o.Seed+1
		switch loss {
		case gbt.Squared:
			p.Trees, p.LearningRate, p.MaxDepth = 250, 0.08, 7
		default:
			p.Trees, p.LearningRate, p.MaxDepth = 150, 0.12, 6
		}
		if o.Trees > 0 {
			p.Trees = o.Trees
		}
		return p
	}
	if m.Gain, err = gbt.Fit(ctx, X, gain, params(gbt.Squared, 0)); err != nil {
		return nil, fmt.Errorf("fit best-accuracy model: %w", err)
	}
	if m.FinalGain, err = gbt.Fit(ctx, X, finalGain, params(gbt.Squared, 0)); err != nil {
		return nil, fmt.Errorf("fit final-accuracy model: %w", err)
	}
	if m.Epoch, err = gbt.Fit(ctx, X, epoch, params(gbt.Absolute, 0)); err != nil {
		return nil, fmt.Errorf("fit best-epoch model: %w", err)
	}
	// Quantile models on the fit part, bounds shifted on the held-out
	// models so the interval covers Level of unseen models' runs (split
	// conformal quantile regression).
	datasets := make([]string, len(runs))
	for i := range runs {
		datasets[i] = runs[i].Dataset
	}
	fitX, fitY, calX, calY := splitRows(X, gain, calib)
	_, _, calD, _ := splitRows(datasetRows(datasets), gain, calib)
	if len(calX) < 20 || len(fitX) < 50 {
		fitX, fitY, calX, calY = X, gain, nil, nil
	}
	tail := (1 - o.Level) / 2
	if m.GainLo, err = gbt.Fit(ctx, fitX, fitY, params(gbt.Quantile, tail)); err != nil {
		return nil, fmt.Errorf("fit lower bound: %w", err)
	}
	if m.GainHi, err = gbt.Fit(ctx, fitX, fitY, params(gbt.Quantile, 1-tail)); err != nil {
		return nil, fmt.Errorf("fit upper bound: %w", err)
	}
	if len(calX) > 0 {
		lo := make([]float64, len(calX))
		hi := make([]float64, len(calX))
		for i, x := range calX {
			lo[i] = m.GainLo.Predict(x) - calY[i] // > 0: the bound was too high
			hi[i] = calY[i] - m.GainHi.Predict(x) // > 0: the bound was too low
		}
		m.LoShift = conformal(lo, tail)
		m.HiShift = conformal(hi, tail)
		byDS := map[string][2][]float64{}
		for i, d := range calD {
			ds := datasets[int(d[0])]
			v := byDS[ds]
			v[0], v[1] = append(v[0], lo[i]), append(v[1], hi[i])
			byDS[ds] = v
		}
		m.Shifts = map[string][2]float64{}
		for ds, v := range byDS {
			if len(v[0]) >= minCalibRuns {
				m.Shifts[ds] = [2]float64{conformal(v[0], tail), conformal(v[1], tail)}
			}
		}
	}
	slog.Info("predictor trained", "k", o.K, "runs", len(runs), "calibration_runs", len(calX),
		"features", len(m.Schema.Names()), "seconds", time.Since(start).Seconds())
	stages := slices.Clone(o.Stages)
	slices.Sort(stages)
	for _, k := range slices.Compact(stages) {
		if k <= o.K {
			return nil, fmt.Errorf("options: stage %d must be above K = %d", k, o.K)
		}
		so := o
		so.K, so.Stages, so.stage = k, nil, true
		if len(Trainable(runs, k)) < 50 {
			slog.Warn("too few runs for a stage, left out", "stage", k)
			continue
		}
		sm, err := Train(ctx, runs, code, so)
		if err != nil {
			return nil, fmt.Errorf("stage %d: %w", k, err)
		}
		m.Stages = append(m.Stages, sm)
	}
	return m, nil
}

// minCalibRuns is the fewest calibration runs of a dataset for a
// correction of its own.
const minCalibRuns = 100

// datasetRows are row indices as one-column rows, to split them alongside X.
func datasetRows(ds []string) [][]float64 {
	out := make([][]float64, len(ds))
	for i := range ds {
		out[i] = []float64{float64(i)}
	}
	return out
}

// conformal is the correction that leaves at most a share tail of the
// calibration scores above it (with the finite-sample +1).
func conformal(scores []float64, tail float64) float64 {
	n := len(scores)
	s := slices.Clone(scores)
	slices.Sort(s)
	k := int(math.Ceil((1 - tail) * float64(n+1)))
	if k > n {
		k = n
	}
	return s[k-1]
}

func splitRows(X [][]float64, y []float64, hold []bool) (fx [][]float64, fy []float64, hx [][]float64, hy []float64) {
	for i := range X {
		if hold[i] {
			hx, hy = append(hx, X[i]), append(hy, y[i])
		} else {
			fx, fy = append(fx, X[i]), append(fy, y[i])
		}
	}
	return
}

// modelShare maps a model name to [0, 1) so that every run of one model
// lands on the same side of a split.
func modelShare(nn string, seed uint64) float64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(nn))
	// FNV's high bits barely move with the last bytes (Net1, Net2, ...):
	// finish with splitmix64's mixer.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

// Predict forecasts one run. The input needs at least K accuracies (none
// for a zero-shot model); with MaxEpoch equal to the epochs already run
// the outcome is known and returned as such.
func (m *Model) Predict(in Input) (Prediction, error) {
	if m == nil || m.Gain == nil {
		return Prediction{}, errors.New("predictor is not trained")
	}
	k := m.Schema.K
	if len(in.Acc) < k {
		return Prediction{}, fmt.Errorf("need the accuracies of the first %d epochs, got %d", k, len(in.Acc))
	}
	if in.MaxEpoch < len(in.Acc) {
		return Prediction{}, fmt.Errorf("max epoch %d is below the %d epochs already run", in.MaxEpoch, len(in.Acc))
	}
	if in.MaxEpoch > len(in.Acc) {
		m = m.stageFor(len(in.Acc), in.MaxEpoch)
		k = m.Schema.K
	}
	if len(in.Acc) > 0 && in.MaxEpoch == len(in.Acc) {
		r := Run{Acc: in.Acc}
		best, be := r.Best()
		return Prediction{BestAccuracy: best, Low: best, High: best, Level: m.Options.Level, BestEpoch: be,
			FinalAccuracy: r.Final(), Known: true}, nil
	}
	row, err := m.Schema.Row(&in)
	if err != nil {
		return Prediction{}, err
	}
	lo := 0.0
	if len(in.Acc) > 0 {
		lo = maxOf(in.Acc)
	}
	base := m.base(&in)
	loShift, hiShift := m.LoShift, m.HiShift
	if sh, ok := m.Shifts[in.Dataset]; ok {
		loShift, hiShift = sh[0], sh[1]
	}
	clamp := func(v float64) float64 { return math.Min(1, math.Max(lo, v)) }
	gain := m.Gain.Predict(row)
	if k > 0 {
		gain = math.Max(0, gain) // the best so far is never lost
	}
	p := Prediction{
		BestAccuracy:  clamp(base + gain),
		Low:           clamp(base + m.GainLo.Predict(row) - loShift),
		High:          clamp(base + m.GainHi.Predict(row) + hiShift),
		Level:         m.Options.Level,
		FinalAccuracy: math.Min(1, math.Max(0, m.lastSeen(&in)+m.FinalGain.Predict(row))),
	}
	if l, ok := m.LinearBest(&in); ok {
		p.Linear = &l
	}
	if n := m.Schema.TaskModels[taskKey(in.Task, in.Metric)]; n < MinTaskModels {
		if len(in.Acc) > 0 {
			p.Fallback = fmt.Sprintf("%d training models of %s, fewer than %d: persistence", n, taskKey(in.Task, in.Metric), MinTaskModels)
			p.BestAccuracy, p.FinalAccuracy = lo, in.Acc[len(in.Acc)-1]
		} else {
			p.Fallback = fmt.Sprintf("%d training models of %s, fewer than %d: the dataset's median", n, taskKey(in.Task, in.Metric), MinTaskModels)
			p.BestAccuracy, p.FinalAccuracy = base, base
		}
	}
	p.Low = math.Min(p.Low, p.BestAccuracy)
	p.High = math.Max(p.High, p.BestAccuracy)
	be := int(math.Round(m.Epoch.Predict(row)))
	p.BestEpoch = min(max(be, 1), in.MaxEpoch)
	return p, nil
}

// Importance pairs feature names with their share of the split gain in the
// best-accuracy model, largest first; empty for a model read from disk.
func (m *Model) Importance() []FeatureWeight {
	imp := m.Gain.Importance()
	names := m.Schema.Names()
	var out []FeatureWeight
	for i, w := range imp {
		if i < len(names) && w > 0 {
			out = append(out, FeatureWeight{names[i], w})
		}
	}
	slices.SortFunc(out, func(a, b FeatureWeight) int {
		if a.Weight > b.Weight {
			return -1
		}
		if a.Weight < b.Weight {
			return 1
		}
		return 0
	})
	return out
}

// FeatureWeight is one feature's importance.
type FeatureWeight struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

// MedianBest is the dataset-median baseline: the median best accuracy of
// the dataset's training runs (of all training runs for an unseen dataset).
func (m *Model) MedianBest(in *Input) float64 {
	if p, ok := m.Schema.Priors[in.Dataset]; ok {
		return p.MedianBest
	}
	return m.Median
}

// Nearest is the nearest-model baseline: the training model whose code is
// most similar to the input's and has runs of its task, dataset and
// metric, with its median best accuracy there.
type Nearest struct {
	NN         string  `json:"nn"`
	Similarity float64 `json:"similarity"` // cosine of the hashed code bags
	Best       float64 `json:"best_accuracy"`
}

// NearestBest finds the nearest-model baseline; ok is false without the
// input's code or without training code for its pipeline.
func (m *Model) NearestBest(in *Input) (Nearest, bool) {
	nb := m.Schema.Neighbours.nearest(embedding(in.Code), pipelineKey(in.Task, in.Dataset, in.Metric), "")
	if !nb.ok {
		return Nearest{}, false
	}
	return Nearest{NN: nb.nn1, Similarity: nb.sim1, Best: nb.acc1}, true
}
