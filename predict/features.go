package predict

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/lemur"
)

// Input is what is known about a run after its first epochs: everything a
// prediction may use.
type Input struct {
	Task, Dataset, Metric string
	// NN is the model's name (optional; only used to leave a model out of
	// its own code neighbours while training).
	NN string
	// Prm are the run's hyperparameters (lr, momentum, batch, transform, ...).
	Prm lemur.Dict
	// Acc[i] is the accuracy after epoch i+1; at least the model's K epochs
	// (none for a zero-shot model, K = 0).
	Acc []float64
	// Dur[i] is the cumulative duration in seconds after epoch i+1 (NaN or
	// absent when unknown). Only used by models trained with durations.
	Dur []float64
	// MaxEpoch is E, the number of epochs the run is set to train.
	MaxEpoch int
	// Code are structural features of the model's code; nil when the code
	// is unknown (the prediction is then a bit less sharp).
	Code CodeFeatures
}

// CodeFeatures are numeric facts about a model's code (layer counts by type,
// depth, widths, estimated parameters, residual/attention/normalisation
// flags, structural family as a one-hot), keyed by name.
type CodeFeatures map[string]float64

// InputOf is the input a run gives after its first k epochs.
func InputOf(r *Run, k int, code CodeFeatures) Input {
	return Input{Task: r.Task, Dataset: r.Dataset, Metric: r.Metric, NN: r.NN, Prm: r.Prm,
		Acc: r.Acc[:min(k, len(r.Acc))], Dur: r.Dur[:min(k, len(r.Dur))], MaxEpoch: r.MaxEpoch(), Code: code}
}

// Chance is the accuracy of a uniform guess on a classification dataset
// LEMUR knows, and 0 otherwise.
func Chance(task, dataset string) float64 {
	if task != "img-classification" {
		return 0
	}
	if d, ok := lemur.Dataset(dataset); ok {
		return d.Chance()
	}
	return 0
}

// Transform is a LEMUR transform name split into its parts: family (echo,
// norm, complex, ...), size (0 when none) and flip.
type Transform struct {
	Family string
	Size   int
	Flip   bool
}

// ParseTransform splits names like norm_256_flip; unknown shapes keep the
// whole name as the family.
func ParseTransform(name string) Transform {
	parts := strings.Split(name, "_")
	t := Transform{Family: parts[0]}
	for _, p := range parts[1:] {
		if p == "flip" {
			t.Flip = true
		} else if n, err := strconv.Atoi(p); err == nil {
			t.Size = n
		} else {
			t.Family += "_" + p
		}
	}
	return t
}

// Schema turns inputs into feature rows. Its vocabularies come from the
// training runs so the column layout is fixed for a saved model.
type Schema struct {
	// K is the number of epochs observed before predicting.
	K int `json:"k"`
	// Durations adds the early epochs' durations as features.
	Durations bool `json:"durations"`
	// PrmKeys are the numeric hyperparameters used as features.
	PrmKeys []string `json:"prm_keys"`
	// Vocabularies of the categorical fields; unknown values become NaN.
	Tasks      []string `json:"tasks"`
	Datasets   []string `json:"datasets"`
	Metrics    []string `json:"metrics"`
	Transforms []string `json:"transforms"`
	// CodeKeys are the code features used as columns (CodeStructure).
	CodeKeys []string `json:"code_keys"`
	// Embedding adds the projected code embedding (CodeEmbedding).
	Embedding bool `json:"embedding,omitempty"`
	// Neighbours are the training models' code (nil when none had code):
	// the nearest-model baseline, and columns when NeighbourColumns
	// (CodeNeighbours).
	Neighbours       *Neighbours `json:"neighbours,omitempty"`
	NeighbourColumns bool        `json:"neighbour_columns,omitempty"`
	// Priors are per-dataset means over the training runs (target
	// encoding); an unseen dataset falls back to the NaN column.
	Priors map[string]Prior `json:"priors"`
	// TaskModels counts the models with training runs per "task/metric":
	// the learned parts are only trusted for well-covered ones.
	TaskModels map[string]int `json:"task_models"`
}

// MinTaskModels is the fewest training models of a task and metric for the
// learned model to predict it; below, the prediction falls back to
// persistence: LEMUR's tasks differ too much to extrapolate from image
// classification to, say, captioning BLEU. One is enough: on the
// development archive the learned model beats persistence even on tasks
// with two or three training models, but predicts captioning BLEU badly
// when no captioning model was in training (RMSE 0.12 against 0.02).
const MinTaskModels = 1

func taskKey(task, metric string) string { return task + "/" + metric }

// Prior summarises the training runs of one dataset.
type Prior struct {
	Runs       int     `json:"runs"`
	MeanBest   float64 `json:"mean_best"`
	MedianBest float64 `json:"median_best"`
	MeanGain   float64 `json:"mean_gain"` // best minus the best of the first K epochs (0 when K = 0)
}

// logKeys are hyperparameters spread over decades: used as log10.
var logKeys = map[string]bool{"lr": true, "weight_decay": true, "norm_eps": true}

// NewSchema derives the vocabularies from training runs, with the code
// feature groups of o (CodeGroups). Hyperparameters and code features
// present in fewer than minShare of the runs are left out (too rare to
// learn from).
func NewSchema(runs []Run, o Options, code map[string]CodeFeatures) Schema {
	const minShare = 0.01
	k := o.K
	groups := o.codeGroups()
	s := Schema{K: k, Durations: o.Durations && k > 0, Priors: map[string]Prior{}}
	prmCount := map[string]int{}
	codeCount := map[string]int{}
	tasks, datasets, metrics, transforms := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	sums := map[string]*Prior{}
	bests := map[string][]float64{}
	taskModels := map[string]map[string]bool{}
	for i := range runs {
		r := &runs[i]
		tasks[r.Task], datasets[r.Dataset], metrics[r.Metric] = true, true, true
		transforms[ParseTransform(r.Transform()).Family] = true
		for _, it := range r.Prm {
			if _, ok := lemur.AsFloat(it.Value); ok && it.Key != "epoch" {
				prmCount[it.Key]++
			}
		}
		for key := range code[r.NN] {
			if !strings.HasPrefix(key, embedPrefix) {
				codeCount[key]++
			}
		}
		if len(r.Acc) > k {
			tk := taskKey(r.Task, r.Metric)
			if taskModels[tk] == nil {
				taskModels[tk] = map[string]bool{}
			}
			taskModels[tk][r.NN] = true
			best, _ := r.Best()
			p := sums[r.Dataset]
			if p == nil {
				p = &Prior{}
				sums[r.Dataset] = p
			}
			p.Runs++
			p.MeanBest += best
			bests[r.Dataset] = append(bests[r.Dataset], best)
			if k > 0 {
				p.MeanGain += best - maxOf(r.Acc[:k])
			}
		}
	}
	min := int(math.Ceil(minShare * float64(len(runs))))
	for key, n := range prmCount {
		if n >= min {
			s.PrmKeys = append(s.PrmKeys, key)
		}
	}
	if slices.Contains(groups, CodeStructure) {
		for key, n := range codeCount {
			if n >= min {
				s.CodeKeys = append(s.CodeKeys, key)
			}
		}
	}
	s.Embedding = slices.Contains(groups, CodeEmbedding)
	cols := slices.Contains(groups, CodeNeighbours)
	if !o.stage || cols {
		if nb := newNeighbours(Trainable(runs, k), code); len(nb.Models) > 0 {
			s.Neighbours, s.NeighbourColumns = nb, cols
		}
	}
	sort.Strings(s.PrmKeys)
	sort.Strings(s.CodeKeys)
	s.Tasks, s.Datasets, s.Metrics, s.Transforms = keys(tasks), keys(datasets), keys(metrics), keys(transforms)
	s.TaskModels = map[string]int{}
	for tk, ms := range taskModels {
		s.TaskModels[tk] = len(ms)
	}
	for d, p := range sums {
		s.Priors[d] = Prior{Runs: p.Runs, MeanBest: p.MeanBest / float64(p.Runs), MedianBest: median(bests[d]),
			MeanGain: p.MeanGain / float64(p.Runs)}
	}
	return s
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// Names lists the feature columns in order.
func (s *Schema) Names() []string {
	var n []string
	for i := 1; i <= s.K; i++ {
		n = append(n, fmt.Sprintf("acc_%d", i))
	}
	if s.K > 0 {
		n = append(n, "acc_max", "slope_last", "slope_mean", "ratio_last_first")
	}
	n = append(n, "chance")
	if s.K > 0 {
		n = append(n, "lift_over_chance", "headroom")
	}
	n = append(n, "max_epoch", "log_max_epoch", "epochs_left", "share_seen")
	if s.Durations {
		n = append(n, "log_epoch1_seconds", "log_epoch_last_seconds")
	}
	for _, k := range s.PrmKeys {
		if logKeys[k] {
			n = append(n, "log10_"+k)
		} else if k == "batch" {
			n = append(n, "log2_batch")
		} else {
			n = append(n, "prm_"+k)
		}
	}
	n = append(n, "transform_family", "transform_size", "transform_flip",
		"task", "dataset", "metric", "dataset_mean_best", "dataset_mean_gain", "has_code")
	for _, k := range s.CodeKeys {
		n = append(n, "code_"+k)
	}
	if s.Embedding {
		for i := range ProjectDims {
			n = append(n, fmt.Sprintf("code_emb_%d", i))
		}
	}
	if s.NeighbourColumns {
		n = append(n, neighbourNames...)
	}
	return n
}

// Row is the feature vector of one input; NaN marks a missing value.
// The input must hold at least K accuracies.
func (s *Schema) Row(in *Input) ([]float64, error) { return s.row(in, "", nil) }

// row leaves the model self out of the code neighbours (a training run's
// own model would be its nearest), caching them per model and pipeline in
// cache when it is not nil.
func (s *Schema) row(in *Input, self string, cache map[[2]string]nearest) ([]float64, error) {
	if len(in.Acc) < s.K {
		return nil, fmt.Errorf("need the accuracies of the first %d epochs, got %d", s.K, len(in.Acc))
	}
	for i, a := range in.Acc[:s.K] {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return nil, fmt.Errorf("accuracy after epoch %d is %v", i+1, a)
		}
	}
	if in.MaxEpoch < max(s.K, 1) {
		return nil, fmt.Errorf("max epoch %d is below %d: a run trains at least one epoch, and more than the %d observed", in.MaxEpoch, max(s.K, 1), s.K)
	}
	nan := math.NaN()
	acc := in.Acc[:s.K]
	row := make([]float64, 0, 40+len(s.PrmKeys)+len(s.CodeKeys))
	row = append(row, acc...)
	chance := Chance(in.Task, in.Dataset)
	if s.K > 0 {
		last, first := acc[s.K-1], acc[0]
		slopeLast, slopeMean := 0.0, 0.0
		if s.K > 1 {
			slopeLast = last - acc[s.K-2]
			slopeMean = (last - first) / float64(s.K-1)
		}
		ratio := nan
		if first > 0 {
			ratio = last / first
		}
		row = append(row, maxOf(acc), slopeLast, slopeMean, ratio)
		lift := nan
		if chance > 0 {
			lift = last / chance
		}
		row = append(row, chance, lift, 1-maxOf(acc))
	} else {
		row = append(row, chance)
	}
	e := float64(in.MaxEpoch)
	row = append(row, e, math.Log(e), e-float64(s.K), float64(s.K)/e)
	if s.Durations {
		d1, dl := nan, nan
		if len(in.Dur) >= s.K {
			if d := in.Dur[0]; d > 0 {
				d1 = math.Log(d)
			}
			prev := 0.0
			if s.K > 1 {
				prev = in.Dur[s.K-2]
			}
			if d := in.Dur[s.K-1] - prev; d > 0 {
				dl = math.Log(d)
			}
		}
		row = append(row, d1, dl)
	}
	for _, k := range s.PrmKeys {
		v, ok := in.Prm.Float(k)
		switch {
		case !ok:
			v = nan
		case logKeys[k]:
			v = logOrNaN(v, 10)
		case k == "batch":
			v = logOrNaN(v, 2)
		}
		row = append(row, v)
	}
	tname, _ := in.Prm.String("transform")
	t := ParseTransform(tname)
	size := nan
	if t.Size > 0 {
		size = float64(t.Size)
	}
	flip := 0.0
	if t.Flip {
		flip = 1
	}
	row = append(row, index(s.Transforms, t.Family), size, flip,
		index(s.Tasks, in.Task), index(s.Datasets, in.Dataset), index(s.Metrics, in.Metric))
	if p, ok := s.Priors[in.Dataset]; ok {
		row = append(row, p.MeanBest, p.MeanGain)
	} else {
		row = append(row, nan, nan)
	}
	if in.Code != nil {
		row = append(row, 1)
	} else {
		row = append(row, 0)
	}
	for _, k := range s.CodeKeys {
		v, ok := in.Code[k]
		if !ok {
			if in.Code != nil {
				v = 0 // the code is known and has none of it
			} else {
				v = nan
			}
		}
		row = append(row, v)
	}
	vec := embedding(in.Code)
	if s.Embedding {
		for i := range ProjectDims {
			v := nan
			if vec != nil {
				v = cosine(projection[i], vec)
			}
			row = append(row, v)
		}
	}
	if s.NeighbourColumns {
		key := [2]string{self, pipelineKey(in.Task, in.Dataset, in.Metric)}
		nb, ok := cache[key]
		if !ok || self == "" {
			nb = s.Neighbours.nearest(vec, key[1], self)
			if cache != nil && self != "" {
				cache[key] = nb
			}
		}
		rel := nan
		if p, ok := s.Priors[in.Dataset]; ok {
			rel = nb.accW - p.MedianBest
		}
		row = append(row, nb.simMax, nb.sim1, nb.acc1, nb.accW, rel)
	}
	for i, v := range row {
		if math.IsInf(v, 0) {
			row[i] = nan // a missing value to the trees; JSON cannot hold it either
		}
	}
	return row, nil
}

func logOrNaN(v, base float64) float64 {
	if v <= 0 {
		return math.NaN()
	}
	return math.Log(v) / math.Log(base)
}

func index(vocab []string, v string) float64 {
	if i, ok := slices.BinarySearch(vocab, v); ok {
		return float64(i)
	}
	return math.NaN()
}
