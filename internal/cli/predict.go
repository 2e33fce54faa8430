package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/store"
)

func newPredictCmd(g *globals) *cobra.Command {
	var (
		prmJSON, dataset, task, metric, accs, modelPath string
		maxEpoch                                        int
		asJSON                                          bool
	)
	cmd := &cobra.Command{
		Use:   "predict [MODEL.py]",
		Short: "Predict a run's best accuracy and best epoch, before training or from its first epochs",
		Long: `Predict where a training run will end up: the best accuracy it will reach
(with an interval), the epoch of that peak and the final accuracy. Without
--acc the prediction is made before training (zero-shot, from the code,
hyperparameters, transform, dataset and planned epochs) by a predictor fitted
with 'nngpt predict train --k 0', beside the dataset's median and the nearest
training model by code similarity; with --acc it uses the accuracies of the
first epochs. The workspace's predictor with the most observed epochs that
the given accuracies allow is used (the newest of those), or --model.

MODEL.py is the model's code (optional: without it the prediction uses no code
features and is a bit less sharp). --prm holds the hyperparameters as JSON,
as LEMUR writes them, e.g. '{"lr": 0.01, "momentum": 0.9, "batch": 64,
"transform": "norm_32"}'.

  nngpt predict MODEL.py --prm '{"lr":0.01,"batch":64,"transform":"norm"}' \
      --dataset cifar-10 --acc 0.41,0.47 --max-epoch 50
  nngpt predict MODEL.py --prm '{"lr":0.01,"batch":64,"transform":"norm"}' \
      --dataset cifar-10 --max-epoch 50          # before training`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataset == "" || maxEpoch < 1 {
				return &ExitError{Code: 2, Err: errors.New("predict needs --dataset and --max-epoch (the epochs the run is set to train); --acc (the accuracies after the first epochs, e.g. 0.41,0.47) is optional")}
			}
			in := predict.Input{Task: task, Dataset: dataset, Metric: metric, MaxEpoch: maxEpoch}
			var err error
			if accs != "" {
				if in.Acc, err = parseAccs(accs); err != nil {
					return &ExitError{Code: 2, Err: err}
				}
			}
			if in.Prm, err = parsePrm(prmJSON); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if len(args) == 1 {
				src, err := os.ReadFile(args[0])
				if err != nil {
					return &ExitError{Code: 2, Err: fmt.Errorf("read model code: %w", err)}
				}
				if in.Code, err = predict.CodeFeaturesOf(src); err != nil {
					slog.Warn("predicting without code features", "file", args[0], "err", err)
				}
			}
			m, path, err := loadPredictorFor(g, cmd, modelPath, len(in.Acc))
			if err != nil {
				return err
			}
			p, err := m.Predict(in)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			median := m.MedianBest(&in)
			nearest, hasNearest := m.NearestBest(&in)
			usedCode := in.Code != nil && len(m.Schema.CodeGroups()) > 0
			if asJSON {
				out := struct {
					predict.Prediction
					K         int              `json:"k"`
					Median    float64          `json:"dataset_median"`
					Nearest   *predict.Nearest `json:"nearest,omitempty"`
					Predictor string           `json:"predictor"`
					UsedCode  bool             `json:"used_code"`
				}{Prediction: p, K: m.K(), Median: median, Predictor: path, UsedCode: usedCode}
				if hasNearest {
					out.Nearest = &nearest
				}
				return json.NewEncoder(g.stdout).Encode(out)
			}
			w := g.stdout
			if p.Known {
				fmt.Fprintf(w, "the run has no epochs left: best accuracy %.4f at epoch %d\n", p.BestAccuracy, p.BestEpoch)
				return nil
			}
			fmt.Fprintf(w, "best accuracy   %.4f  (%.0f%% interval %.4f .. %.4f)\n", p.BestAccuracy, 100*p.Level, p.Low, p.High)
			fmt.Fprintf(w, "best epoch      %d of %d\n", p.BestEpoch, maxEpoch)
			fmt.Fprintf(w, "final accuracy  %.4f\n", p.FinalAccuracy)
			if p.Linear != nil {
				fmt.Fprintf(w, "linear fit      %.4f  (linear reference on the observed accuracies)\n", *p.Linear)
			}
			fmt.Fprintf(w, "dataset median  %.4f  (median best accuracy of the training runs on %s)\n", median, dataset)
			if hasNearest {
				fmt.Fprintf(w, "nearest model   %.4f  (%s, code similarity %.3f)\n", nearest.Best, nearest.NN, nearest.Similarity)
			}
			if p.Fallback != "" {
				fmt.Fprintf(w, "fallback        %s\n", p.Fallback)
			}
			code := "without code features"
			switch {
			case in.Code != nil && !usedCode:
				code = "code given, but this predictor learned from no code (its corpus had none)"
			case in.Code != nil:
				code = "with code features"
			}
			fmt.Fprintf(w, "predictor       %s (k = %d), %s\n", path, m.K(), code)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prmJSON, "prm", "{}", "hyperparameters as a JSON object (lr, momentum, batch, transform, dropout, ...)")
	f.StringVar(&dataset, "dataset", "", "dataset, e.g. cifar-10 (required)")
	f.StringVar(&task, "task", "img-classification", "task")
	f.StringVar(&metric, "metric", "acc", "metric")
	f.StringVar(&accs, "acc", "", "comma-separated accuracies after epochs 1, 2, ... (required)")
	f.IntVar(&maxEpoch, "max-epoch", 0, "epochs the run is set to train (required)")
	f.StringVar(&modelPath, "model", "", "predictor folder (default: the workspace's newest)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.AddCommand(newPredictTrainCmd(g))
	return cmd
}

// loadPredictor loads the predictor at path, or the workspace's newest
// for early stopping (observing at least one epoch).
func loadPredictor(g *globals, cmd *cobra.Command, path string) (*predict.Model, string, error) {
	if path == "" {
		ws, err := g.openWorkspace(cmd.Context())
		if err != nil {
			return nil, "", err
		}
		dir := ws.Dir
		ws.Close()
		if path, err = predict.LatestPruning(dir); err != nil {
			return nil, "", err
		}
	}
	m, err := predict.Load(path)
	return m, path, err
}

// loadPredictorFor loads the predictor at path, or the workspace's for a
// run with seen epochs observed.
func loadPredictorFor(g *globals, cmd *cobra.Command, path string, seen int) (*predict.Model, string, error) {
	if path == "" {
		ws, err := g.openWorkspace(cmd.Context())
		if err != nil {
			return nil, "", err
		}
		dir := ws.Dir
		ws.Close()
		if path, err = predict.LatestFor(dir, seen); err != nil {
			return nil, "", err
		}
	}
	m, err := predict.Load(path)
	if err == nil && m.K() > seen {
		return nil, "", &ExitError{Code: 2, Err: fmt.Errorf("predictor %s needs the accuracies of the first %d epochs, --acc gives %d: pass them, or fit a predictor with 'nngpt predict train --k %d'", path, m.K(), seen, seen)}
	}
	return m, path, err
}

func parseAccs(s string) ([]float64, error) {
	var out []float64
	for i, part := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
			return nil, fmt.Errorf("--acc: value %d %q is not an accuracy in [0, 1]", i+1, part)
		}
		out = append(out, v)
	}
	return out, nil
}

func parsePrm(s string) (lemur.Dict, error) {
	v, err := lemur.DecodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("--prm: %w (want a JSON object such as '{\"lr\": 0.01, \"batch\": 64}')", err)
	}
	d, ok := v.(lemur.Dict)
	if !ok {
		return nil, fmt.Errorf("--prm: want a JSON object such as '{\"lr\": 0.01, \"batch\": 64}', got %s", strings.TrimSpace(s))
	}
	return d, nil
}

func newPredictTrainCmd(g *globals) *cobra.Command {
	var (
		src, stages, codeGroups string
		o                       predict.Options
		asJSON                  bool
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Fit a predictor on the workspace's runs and save it in the workspace",
		Long: `Fit the accuracy predictor on every complete run in the workspace's store (or
on a LEMUR tree with --lemur): a linear reference (from acc_1 and acc_k; from
acc_1 alone at --k 1; none at --k 0) and gradient-boosted trees for the best
accuracy (mean and a calibrated interval), the best epoch and the final
accuracy. A run is a (task, dataset, metric, nn, uid) whose uid occurs exactly
once in each epoch 1..E; ambiguous or incomplete ones are left out and
counted. Runs with more than --k epochs are learned from.

--k 0 fits a zero-shot predictor: it predicts before any training, from the
code, hyperparameters, transform, dataset and planned epochs; the loop's
screening uses it. Code features (--code-features) are pyast's structure
counts, a hashed code embedding and the similarity to the training models
with their accuracy on the run's dataset.

The predictor and the runs it learned from are saved under
WORKSPACE/predictors/<time>/ (model.json.gz, runs.jsonl.gz); 'nngpt predict'
and early stopping use the newest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.K == 0 && !cmd.Flags().Changed("stages") {
				// A zero-shot predictor screens before training; early
				// stopping uses the predictor with observed epochs.
				stages = "none"
			}
			if o.Stages, err = parseStages(stages, o.K); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if o.CodeGroups, err = predict.ParseCodeGroups(codeGroups); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if o.K < 0 {
				return &ExitError{Code: 2, Err: fmt.Errorf("--k %d: want 0 (before training) or more observed epochs", o.K)}
			}
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			var (
				runs []predict.Run
				bs   predict.BuildStats
				code map[string]predict.CodeFeatures
			)
			source := "workspace store"
			if src != "" {
				t, err := lemur.Load(ctx, src)
				if err != nil {
					return fmt.Errorf("load %s: %w", src, err)
				}
				if runs, bs, err = predict.BuildRuns(predict.Records(t.Records)); err != nil {
					return err
				}
				code = map[string]predict.CodeFeatures{}
				for name, c := range t.Codes["nn"] {
					if cf, err := predict.CodeFeaturesOf([]byte(c)); err == nil {
						code[name] = cf
					}
				}
				source = src
			} else if runs, bs, code, err = predict.FromStore(ctx, ws.Store, store.Filter{}); err != nil {
				return err
			}
			start := time.Now()
			m, err := predict.Train(ctx, runs, code, o)
			if err != nil {
				return err
			}
			secs := time.Since(start).Seconds()
			dir, err := predict.Save(ws.Dir, m, predict.Trainable(runs, m.Schema.K))
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(map[string]any{
					"predictor": dir, "source": source, "build": bs, "train_runs": m.TrainRuns,
					"models_with_code": len(code), "seconds": secs, "importance": m.Importance(),
					"k": m.K(), "stages": m.StageEpochs()[1:], "code_groups": m.Schema.CodeGroups(),
				})
			}
			w := g.stdout
			fmt.Fprintf(w, "source      %s: %s\n", source, bs)
			groups := "none"
			if g := m.Schema.CodeGroups(); len(g) > 0 {
				groups = strings.Join(g, ", ")
			}
			fmt.Fprintf(w, "trained on  %d runs with more than %d epochs (code for %d models; code features: %s) in %.1f s\n",
				m.TrainRuns, m.Schema.K, len(code), groups, secs)
			fmt.Fprintf(w, "stages      predicts after epochs %v\n", m.StageEpochs())
			fmt.Fprintf(w, "saved       %s\n", dir)
			imp := m.Importance()
			var parts []string
			for _, f := range imp[:min(6, len(imp))] {
				parts = append(parts, fmt.Sprintf("%s %.2f", f.Name, f.Weight))
			}
			fmt.Fprintf(w, "features    %s\n", strings.Join(parts, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&src, "lemur", "", "fit on a LEMUR checkout, stat folder or .tar.gz instead of the store")
	f.IntVar(&o.K, "k", 2, "epochs observed before predicting; 0 predicts before training (zero-shot, for screening)")
	f.StringVar(&codeGroups, "code-features", "default", "code feature groups: some of "+strings.Join(predict.CodeGroups, ",")+", none, or default ("+strings.Join(predict.DefaultCodeGroups, ",")+")")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of subsampling and the calibration split")
	f.IntVar(&o.Trees, "trees", 0, "trees per boosted model (default: 400 for means, 200 for quantiles)")
	f.StringVar(&stages, "stages", joinInts(predict.DefaultStages), "further observed-epoch counts to fit a stage for, comma-separated (early stopping re-judges a run after each); 'none' for none (the default with --k 0)")
	f.BoolVar(&o.Durations, "durations", false, "also learn from epoch durations (they depend on the machine)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// parseStages reads --stages for a predictor observing k epochs: each
// stage observes more.
func parseStages(s string, k int) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return []int{}, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n <= k {
			return nil, fmt.Errorf("--stages: %q is not an epoch count above --k %d (want e.g. 3,5,10 or none)", part, k)
		}
		out = append(out, n)
	}
	return out, nil
}
