package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/predict/llmpred"
)

// PredictConfig configures the accuracy-prediction benchmark.
type PredictConfig struct {
	// Train is a LEMUR checkout, stat folder or .tar.gz of either.
	Train string
	// Test, when set, is a second tree to test on; otherwise the models
	// of Train are split.
	Test string
	// TestShare is the share of Train's models held out when Test is
	// empty (default 0.25).
	TestShare float64
	Seed      uint64
	Options   predict.Options
	// LLM, when set, is also scored (the paper's predictor) on LLMRuns
	// test runs drawn at random (default 200), beside the learned model
	// and the linear fit on the same runs.
	LLM     llm.Client
	LLMRuns int
	// CompareCode also fits the same K without code features and scores
	// it as MethodNoCode: what the code features are worth.
	CompareCode bool
}

// DefaultLEMURCode is the development archive with the models' code,
// which the prediction benchmarks prefer to the statistics alone.
const DefaultLEMURCode = "../shared/lemur/lemur-dev.tar.gz"

// FindLEMURCode is FindLEMUR preferring the archive with code when no
// path is given.
func FindLEMURCode(path string) (string, error) {
	if path == "" {
		if _, err := os.Stat(DefaultLEMURCode); err == nil {
			return DefaultLEMURCode, nil
		}
	}
	return FindLEMUR(path)
}

// MethodNoCode is the learned model fitted without code features.
const MethodNoCode predict.Method = "gbt-nocode"

// Corpus is a LEMUR tree turned into runs and code features.
type Corpus struct {
	Path  string                          `json:"path"`
	Build predict.BuildStats              `json:"build"`
	Code  int                             `json:"models_with_code"`
	Runs  []predict.Run                   `json:"-"`
	Feats map[string]predict.CodeFeatures `json:"-"`
	Src   map[string]string               `json:"-"` // model code by name
}

// LoadCorpus reads a LEMUR tree or archive and builds its runs and the code
// features of the models whose code it holds.
func LoadCorpus(ctx context.Context, path string) (*Corpus, error) {
	t, err := lemur.Load(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("load LEMUR tree %s: %w", path, err)
	}
	if len(t.Problems) > 0 {
		slog.Warn("LEMUR tree has unreadable parts, left out", "path", path, "problems", len(t.Problems), "first", t.Problems[0].Error())
	}
	if len(t.Records) == 0 {
		return nil, fmt.Errorf("LEMUR tree %s holds no stat records: want a checkout, its stat/ folder or a .tar.gz of either", path)
	}
	runs, st, err := predict.BuildRuns(predict.Records(t.Records))
	if err != nil {
		return nil, err
	}
	c := &Corpus{Path: path, Build: st, Runs: runs, Feats: map[string]predict.CodeFeatures{}, Src: t.Codes["nn"]}
	for name, src := range t.Codes["nn"] {
		f, err := predict.CodeFeaturesOf([]byte(src))
		if err != nil {
			slog.Debug("no code features", "nn", name, "err", err)
			continue
		}
		c.Feats[name] = f
	}
	c.Code = len(c.Feats)
	return c, nil
}

// PredictReport is the benchmark's result.
type PredictReport struct {
	Train        *Corpus                 `json:"train"`
	Test         *Corpus                 `json:"test,omitempty"`
	Split        string                  `json:"split"`
	Seed         uint64                  `json:"seed"`
	K            int                     `json:"k"`
	CodeGroups   []string                `json:"code_groups"`
	TrainRuns    int                     `json:"train_runs"`
	TrainModels  int                     `json:"train_models"`
	TestRuns     int                     `json:"test_runs"`
	TestModels   int                     `json:"test_models"`
	TrainSeconds float64                 `json:"train_seconds"`
	Groups       []predict.Group         `json:"groups"`
	Importance   []predict.FeatureWeight `json:"importance"`
	LLM          *LLMScores              `json:"llm,omitempty"`
}

// LLMScores compares the LLM predictor with the others on the same runs.
type LLMScores struct {
	Asked  int                               `json:"asked"`
	Failed int                               `json:"failed"` // errors or unparsable replies, left out
	Scores map[predict.Method]predict.Scores `json:"scores"`
}

// MethodLLM names the LLM predictor in LLMScores.
const MethodLLM predict.Method = "llm"

// Predict trains on one side of a split by model and scores persistence,
// the linear fit and the learned model on the other.
func Predict(ctx context.Context, cfg PredictConfig) (*PredictReport, error) {
	if cfg.TestShare == 0 {
		cfg.TestShare = 0.25
	}
	if !(cfg.TestShare > 0 && cfg.TestShare < 1) {
		return nil, fmt.Errorf("test share %v: want a value in (0, 1)", cfg.TestShare)
	}
	sp, err := splitCorpora(ctx, cfg.Train, cfg.Test, cfg.TestShare, cfg.Seed)
	if err != nil {
		return nil, err
	}
	rep := &PredictReport{Train: sp.train, Test: sp.test, Seed: cfg.Seed, Split: sp.desc}
	train, test, code := sp.trainRuns, sp.testRuns, sp.code
	o := cfg.Options
	o.Seed = cfg.Seed
	start := time.Now()
	m, err := predict.Train(ctx, train, code, o)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	rep.TrainSeconds = time.Since(start).Seconds()
	rep.K = m.Schema.K
	rep.TrainRuns = m.TrainRuns
	rep.TrainModels = countModels(predict.Trainable(train, rep.K))
	testable := predict.Trainable(test, rep.K)
	rep.TestRuns, rep.TestModels = len(testable), countModels(testable)
	if rep.TestRuns == 0 {
		return nil, fmt.Errorf("no test runs with more than %d epochs", rep.K)
	}
	rep.CodeGroups = slices.Clone(m.Schema.CodeGroups())
	var others []predict.Compared
	if cfg.CompareCode {
		no := o
		no.CodeGroups, no.Stages = []string{}, nil
		mn, err := predict.Train(ctx, train, code, no)
		if err != nil {
			return nil, fmt.Errorf("train without code: %w", err)
		}
		others = append(others, predict.Compared{Method: MethodNoCode, Model: mn})
	}
	if rep.Groups, err = predict.Evaluate(m, testable, code, others...); err != nil {
		return nil, err
	}
	imp := m.Importance()
	rep.Importance = imp[:min(len(imp), 15)]
	if cfg.LLM != nil {
		src := sp.train.Src
		if sp.test != nil {
			src = sp.test.Src
		}
		if rep.LLM, err = scoreLLM(ctx, cfg, m, testable, code, src); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func scoreLLM(ctx context.Context, cfg PredictConfig, m *predict.Model, test []predict.Run,
	code map[string]predict.CodeFeatures, src map[string]string) (*LLMScores, error) {
	n := cfg.LLMRuns
	if n == 0 {
		n = 200
	}
	idx := rand.New(rand.NewPCG(cfg.Seed, 11)).Perm(len(test))
	idx = idx[:min(n, len(idx))]
	lp := &llmpred.Predictor{Client: cfg.LLM}
	out := &LLMScores{Scores: map[predict.Method]predict.Scores{}}
	var truth, truthE []float64
	preds := map[predict.Method][2][]float64{}
	add := func(meth predict.Method, acc, epoch float64) {
		v := preds[meth]
		v[0], v[1] = append(v[0], acc), append(v[1], epoch)
		preds[meth] = v
	}
	k := m.Schema.K
	for _, i := range idx {
		r := &test[i]
		in := predict.InputOf(r, k, code[r.NN])
		out.Asked++
		lpRes, err := lp.Predict(ctx, in, src[r.NN])
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out.Failed++
			slog.Warn("LLM prediction failed", "nn", r.NN, "err", err)
			continue
		}
		p, err := m.Predict(in)
		if err != nil {
			return nil, err
		}
		best, be := r.Best()
		truth, truthE = append(truth, best), append(truthE, float64(be))
		add(MethodLLM, lpRes.BestAccuracy, float64(lpRes.BestEpoch))
		add(predict.Boosted, p.BestAccuracy, float64(p.BestEpoch))
		add(predict.Median, m.MedianBest(&in), float64(m.LinearBestEpoch(&in)))
		if k > 0 {
			add(predict.LinearFit, *p.Linear, float64(m.LinearBestEpoch(&in)))
			seen := predict.Run{Acc: r.Acc[:k]}
			_, se := seen.Best()
			add(predict.Persistence, r.Acc[k-1], float64(se))
		}
	}
	for meth, v := range preds {
		out.Scores[meth] = predict.Score(v[0], truth, v[1], truthE)
	}
	return out, nil
}

// split is a training and a test set of runs, no model on both sides.
type split struct {
	train, test         *Corpus
	trainRuns, testRuns []predict.Run
	code                map[string]predict.CodeFeatures
	desc                string
}

func splitCorpora(ctx context.Context, trainPath, testPath string, share float64, seed uint64) (*split, error) {
	tr, err := LoadCorpus(ctx, trainPath)
	if err != nil {
		return nil, err
	}
	sp := &split{train: tr, code: tr.Feats}
	if testPath == "" {
		sp.trainRuns, sp.testRuns = predict.SplitByModel(tr.Runs, share, seed)
		sp.desc = fmt.Sprintf("by model, %.0f%% of models held out", 100*share)
		return sp, nil
	}
	te, err := LoadCorpus(ctx, testPath)
	if err != nil {
		return nil, err
	}
	sp.test, sp.trainRuns = te, tr.Runs
	// A model in both trees would be scored on runs it was trained on.
	inTrain := map[string]bool{}
	for _, r := range tr.Runs {
		inTrain[r.NN] = true
	}
	for _, r := range te.Runs {
		if !inTrain[r.NN] {
			sp.testRuns = append(sp.testRuns, r)
		}
	}
	if dropped := len(te.Runs) - len(sp.testRuns); dropped > 0 {
		slog.Warn("test runs of models also in the training tree left out", "runs", dropped)
	}
	sp.code = merge(tr.Feats, te.Feats)
	sp.desc = "train tree / test tree"
	return sp, nil
}

func merge(a, b map[string]predict.CodeFeatures) map[string]predict.CodeFeatures {
	out := make(map[string]predict.CodeFeatures, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func countModels(runs []predict.Run) int {
	m := map[string]bool{}
	for _, r := range runs {
		m[r.NN] = true
	}
	return len(m)
}

// WriteTable prints the report for people.
func (r *PredictReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "train: %s: %s; code for %d models\n", r.Train.Path, r.Train.Build, r.Train.Code)
	if r.Test != nil {
		fmt.Fprintf(w, "test:  %s: %s; code for %d models\n", r.Test.Path, r.Test.Build, r.Test.Code)
	}
	if r.K == 0 {
		fmt.Fprintf(w, "split: %s (seed %d); predicting before training (k = 0: code, hyperparameters, transform, dataset, planned epochs)\n", r.Split, r.Seed)
	} else {
		fmt.Fprintf(w, "split: %s (seed %d); predicting from the first %d epochs of runs with more epochs\n", r.Split, r.Seed, r.K)
	}
	code := "none"
	if len(r.CodeGroups) > 0 {
		code = strings.Join(r.CodeGroups, ", ")
	}
	fmt.Fprintf(w, "code features: %s\n", code)
	fmt.Fprintf(w, "train: %d runs of %d models, fitted in %.1f s; test: %d runs of %d models\n\n",
		r.TrainRuns, r.TrainModels, r.TrainSeconds, r.TestRuns, r.TestModels)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "dataset\ttest runs\tmethod\tRMSE\tMAE\tPearson r\tKendall tau\tSpearman\ttop-10% recall\tbest-epoch MAE\tinterval cover\twidth\t")
	for _, g := range r.Groups {
		name := g.Dataset
		if name == "" {
			name = "pooled"
		}
		for i, meth := range g.Methods {
			s := g.Scores[meth]
			label, n := "", ""
			if i == 0 {
				label, n = name, fmt.Sprint(s.Runs)
			}
			cov, width := "", ""
			if s.Width > 0 {
				cov, width = fmt.Sprintf("%.1f%%", 100*s.Coverage), f3(s.Width)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t\n", label, n, meth, f3(s.RMSE), f3(s.MAE),
				f3(float64(s.Pearson)), f3(float64(s.Kendall)), f3(float64(s.Spearman)), pct(float64(s.Top10Recall)), s.EpochMAE, cov, width)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "pooled ranking scores: run-weighted means of the datasets' own (datasets with >= %d test runs)\n", predict.MinRankRuns)
	if r.LLM != nil {
		fmt.Fprintf(w, "\nLLM predictor on %d random test runs (%d failed and left out); all methods on the same runs:\n", r.LLM.Asked, r.LLM.Failed)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "method\truns\tRMSE\tMAE\tPearson r\tbest-epoch MAE\t")
		for _, meth := range []predict.Method{predict.Median, predict.Persistence, predict.LinearFit, predict.Boosted, MethodLLM} {
			s, ok := r.LLM.Scores[meth]
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.2f\t\n", meth, s.Runs, f3(s.RMSE), f3(s.MAE), f3(float64(s.Pearson)), s.EpochMAE)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Importance) > 0 {
		var parts []string
		for _, f := range r.Importance[:min(8, len(r.Importance))] {
			parts = append(parts, fmt.Sprintf("%s %.2f", f.Name, f.Weight))
		}
		fmt.Fprintf(w, "\nmost used features (share of split gain): %s\n", strings.Join(parts, ", "))
	}
	return nil
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func f3(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", v)
}
