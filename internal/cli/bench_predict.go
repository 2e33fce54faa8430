package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/bench"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/predict"
)

func newBenchPredictCmd(g *globals) *cobra.Command {
	var (
		cfg                          bench.PredictConfig
		asJSON                       bool
		llmURL, llmModel, codeGroups string
	)
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Score accuracy prediction on models held out from training",
		Long: `Build run trajectories from a LEMUR tree or archive (with or without nn/
code), split them by model (no model on both sides; with --test-lemur, train
on --lemur and test on --test-lemur), fit the predictor on the training side
and score, pooled and per dataset, the best accuracy's RMSE, MAE and Pearson
r, its ranking within each dataset (Kendall's tau, Spearman's rho, recall of
the true top 10%; pooled: run-weighted means of the datasets' own) and the
best epoch's MAE, for the methods that exist at --k: the dataset's median and
the nearest training model by code similarity (every k), epoch-k persistence
and the linear fit (k >= 1) and the learned model (with its interval's
coverage). --k 0 predicts before training. --compare-code also fits the
learned model without code features (gbt-nocode); --code-features chooses
the groups.

The default data is ../shared/lemur/lemur-dev.tar.gz (with the models' code)
when present.

With --llm-url and --llm-model (any OpenAI-compatible server), the paper's
LLM predictor is asked about --llm-runs random test runs and scored beside
the others on the same runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.Train, err = bench.FindLEMURCode(cfg.Train); err != nil {
				return err
			}
			if cfg.Options.CodeGroups, err = predict.ParseCodeGroups(codeGroups); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if cfg.Options.K < 0 {
				return &ExitError{Code: 2, Err: fmt.Errorf("--k %d: want 0 (before training) or more observed epochs", cfg.Options.K)}
			}
			if llmURL != "" {
				lc := llm.DefaultConfig()
				lc.BaseURL, lc.Model = llmURL, llmModel
				if cfg.LLM, err = llm.New(lc); err != nil {
					return &ExitError{Code: 2, Err: err}
				}
			}
			rep, err := bench.Predict(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(rep)
			}
			return rep.WriteTable(g.stdout)
		},
	}
	benchSplitFlags(cmd, &cfg.Train, &cfg.Test, &cfg.TestShare, &cfg.Seed, &cfg.Options)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	cmd.Flags().StringVar(&llmURL, "llm-url", os.Getenv("NNGPT_LLM_URL"), "OpenAI-compatible API root of an LLM to score as a predictor too (env NNGPT_LLM_URL)")
	cmd.Flags().StringVar(&llmModel, "llm-model", os.Getenv("NNGPT_LLM_MODEL"), "model name the LLM server serves (env NNGPT_LLM_MODEL)")
	cmd.Flags().IntVar(&cfg.LLMRuns, "llm-runs", 200, "test runs to ask the LLM about")
	cmd.Flags().BoolVar(&cfg.CompareCode, "compare-code", false, "also fit and score the learned model without code features (gbt-nocode)")
	cmd.Flags().StringVar(&codeGroups, "code-features", "default", "code feature groups: some of "+strings.Join(predict.CodeGroups, ",")+", none, or default")
	return cmd
}

func newBenchPruneCmd(g *globals) *cobra.Command {
	var (
		cfg      bench.PruneConfig
		asJSON   bool
		pol      predict.Policy
		stages   string
		noScreen bool
		explore  float64
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Replay LEMUR runs through the early-stopping pruner",
		Long: `Fit the predictor on one side of a split by model, then replay the other
side's runs in a seeded random order through the pruner (its board starts
with the training runs and grows with every replayed run). For each policy,
report the share of epochs saved against the share of the true top-decile
runs (per task and dataset) that were wrongly stopped. Without policy flags
a fixed set of policies is compared; --top-k, --top-share, --margin or
--after replay that one policy instead.

Then screening before training and early stopping together: a zero-shot
predictor (k = 0) fitted on the same side screens each replayed run before it
trains (not trained: all its epochs saved; a share --explore of the screened
runs is trained anyway, as in the loop), and the runs it lets through are
early-stopped by the default policy (or the one given). For each screening
policy: runs not trained, epochs saved (in all and by screening), true
top-decile runs lost (screened or stopped). --no-screen leaves this out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.Train, err = bench.FindLEMURCode(cfg.Train); err != nil {
				return err
			}
			if cmd.Flags().Changed("top-k") || cmd.Flags().Changed("top-share") || cmd.Flags().Changed("margin") || cmd.Flags().Changed("after") {
				cfg.Policies = []bench.NamedPolicy{{Name: "custom", Policy: pol}}
				cfg.Combined = pol
			}
			if explore < 0 || explore > 1 {
				return &ExitError{Code: 2, Err: fmt.Errorf("--explore %v: want a share in [0, 1]", explore)}
			}
			cfg.Screens = bench.DefaultScreenPolicies(explore, cfg.Seed)
			if noScreen {
				cfg.Screens = []bench.NamedScreen{}
			}
			if cmd.Flags().Changed("stages") {
				if cfg.Options.Stages, err = parseStages(stages, cfg.Options.K); err != nil {
					return &ExitError{Code: 2, Err: err}
				}
			}
			rep, err := bench.Prune(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(rep)
			}
			return rep.WriteTable(g.stdout)
		},
	}
	benchSplitFlags(cmd, &cfg.Train, &cfg.Test, &cfg.TestShare, &cfg.Seed, &cfg.Options)
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	f.IntVar(&pol.TopK, "top-k", 0, "stop runs whose upper bound is below the k-th best of their task and dataset")
	f.Float64Var(&pol.TopShare, "top-share", 0, "stop runs whose upper bound is below the top share (e.g. 0.1) of their task and dataset")
	f.Float64Var(&pol.Margin, "margin", 0, "added to the upper bound before comparing (positive: fewer stops)")
	f.IntVar(&pol.After, "after", 0, "first epoch after which runs may be stopped (default: the predictor's k)")
	f.StringVar(&stages, "stages", joinInts(predict.DefaultStages), "predictor stages (epochs after which runs are judged again), or none")
	f.BoolVar(&noScreen, "no-screen", false, "leave out the replays of screening before training")
	f.Float64Var(&explore, "explore", predict.DefaultScreenPolicy().Explore, "share of the runs screening would skip that are trained anyway")
	return cmd
}

func benchSplitFlags(cmd *cobra.Command, train, test *string, share *float64, seed *uint64, o *predict.Options) {
	f := cmd.Flags()
	f.StringVar(train, "lemur", "", "LEMUR tree or archive to train on (default "+bench.DefaultLEMUR+")")
	f.StringVar(test, "test-lemur", "", "LEMUR tree or archive to test on (default: hold out models of --lemur)")
	f.Float64Var(share, "test-share", 0.25, "share of models held out when there is no --test-lemur")
	f.Uint64Var(seed, "seed", 1, "seed of the split and of training")
	f.IntVar(&o.K, "k", 2, "epochs observed before predicting (0: before training)")
	f.BoolVar(&o.Durations, "durations", false, "also learn from epoch durations")
}
