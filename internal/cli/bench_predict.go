package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/bench"
	"github.com/nngpt/nngpt/predict"
)

func newBenchPredictCmd(g *globals) *cobra.Command {
	var (
		cfg    bench.PredictConfig
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Score accuracy prediction on models held out from training",
		Long: `Build run trajectories from a LEMUR tree or archive (with or without nn/
code), split them by model (no model on both sides; with --test-lemur, train
on --lemur and test on --test-lemur), fit the predictor on the training side
and score, pooled and per dataset, the best accuracy's RMSE, MAE and Pearson r
and the best epoch's MAE of three methods: epoch-K persistence, the
3-parameter linear fit and the learned model (with its interval's coverage).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.Train, err = bench.FindLEMUR(cfg.Train); err != nil {
				return err
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
	return cmd
}

func newBenchPruneCmd(g *globals) *cobra.Command {
	var (
		cfg    bench.PruneConfig
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Replay LEMUR runs through the early-stopping pruner",
		Long: `Fit the predictor on one side of a split by model, then replay the other
side's runs in a seeded random order through the pruner (its board starts
with the training runs and grows with every replayed run). For each policy,
report the share of epochs saved against the share of the true top-decile
runs (per task and dataset) that were wrongly stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.Train, err = bench.FindLEMUR(cfg.Train); err != nil {
				return err
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	return cmd
}

func benchSplitFlags(cmd *cobra.Command, train, test *string, share *float64, seed *uint64, o *predict.Options) {
	f := cmd.Flags()
	f.StringVar(train, "lemur", "", "LEMUR tree or archive to train on (default "+bench.DefaultLEMUR+")")
	f.StringVar(test, "test-lemur", "", "LEMUR tree or archive to test on (default: hold out models of --lemur)")
	f.Float64Var(share, "test-share", 0.25, "share of models held out when there is no --test-lemur")
	f.Uint64Var(seed, "seed", 1, "seed of the split and of training")
	f.IntVar(&o.K, "k", 2, "epochs observed before predicting")
	f.BoolVar(&o.Durations, "durations", false, "also learn from epoch durations")
}
