package cli

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/bench"
	"github.com/nngpt/nngpt/lemur"
)

func newBenchHPOCmd(g *globals) *cobra.Command {
	var (
		cfg             bench.HPOConfig
		train, test     string
		budgets         string
		asJSON, perPipe bool
		noCode          bool
	)
	cmd := &cobra.Command{
		Use:   "hpo",
		Short: "Compare random search, TPE, the learned one-shot recommender and one-shot-then-TPE on LEMUR",
		Long: `Turn LEMUR records into a tabular hyperparameter benchmark and report the
mean normalised regret after 1, 5, 10 and 20 proposals of four methods:
random search, TPE, the learned one-shot recommender (its ranked list of
proposals) and one-shot-then-TPE (the recommender's first --warm proposals,
then TPE). The learned recommender is fitted on training models only and
tested on models it never saw: with --test-lemur it learns from all of
--lemur and is tested on --test-lemur's pipelines; with --lemur alone the
models are split by name with --split-seed into --folds folds (each model
tested once by a recommender fitted on the other folds; --folds 1 holds out
--test-share instead). Random and TPE run --seeds times per pipeline.

Where the trees hold model code (nn/*.py, as lemur-dev.tar.gz), the learned
recommender is code-aware: it weighs training pipelines by how alike their
architectures are to the test model's (pyast's structural features);
--no-code leaves the code out for comparison.

The last row, "hindsight per dataset", is a reference, not a method: for
each dataset, the recorded configurations that do best on average over its
test pipelines, picked with their results in view. A recommender that
proposes the same list for every model of a dataset cannot beat it with
recorded configurations; the gap between it and zero is what only
model-specific knowledge can close.

The surrogate:
` + bench.SurrogateDoc,
		Example: `  nngpt bench hpo --lemur ../shared/lemur/lemur-stat-dev.tar.gz
  nngpt bench hpo --lemur train/ --test-lemur heldout/ --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var err error
			if train, err = bench.FindLEMUR(train); err != nil {
				return err
			}
			bs, err := parseBudgets(budgets)
			if err != nil {
				return err
			}
			cfg.Budgets = bs
			cfg.Codes = map[string]string{}
			load := func(path string) ([]lemur.Record, error) {
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
				if !noCode {
					for name, code := range t.Codes["nn"] {
						cfg.Codes[name] = code
					}
				}
				return t.Records, nil
			}
			if cfg.Train, err = load(train); err != nil {
				return err
			}
			if test != "" {
				if cfg.Test, err = load(test); err != nil {
					return err
				}
			}
			if !asJSON {
				cfg.Progress = func(done, total int) {
					fmt.Fprintf(g.stderr, "\rpipelines %d/%d", done, total)
					if done == total {
						fmt.Fprintln(g.stderr)
					}
				}
			}
			res, err := bench.RunHPO(ctx, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return bench.WriteHPOJSON(g.stdout, res)
			}
			if err := bench.WriteHPOTable(g.stdout, res); err != nil {
				return err
			}
			if perPipe {
				fmt.Fprintln(g.stdout)
				return bench.WriteHPOPipelines(g.stdout, res)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&train, "lemur", "", "LEMUR tree or archive to learn from (default "+bench.DefaultLEMUR+")")
	f.StringVar(&test, "test-lemur", "", "LEMUR tree or archive of held-out models to test on")
	f.IntVar(&cfg.Folds, "folds", 4, "folds by model when there is no --test-lemur")
	f.Float64Var(&cfg.TestShare, "test-share", 0.25, "share of models held out with --folds 1")
	f.Uint64Var(&cfg.SplitSeed, "split-seed", 1, "seed of the split by model")
	f.IntVar(&cfg.Seeds, "seeds", 10, "runs of random and TPE per pipeline")
	f.IntVar(&cfg.MinTrials, "min-trials", 30, "distinct trials a pipeline needs at one epoch")
	f.IntVar(&cfg.Warm, "warm", 10, "learned proposals before TPE in one-shot-then-TPE")
	f.StringVar(&budgets, "budgets", "1,5,10,20", "proposal counts to report")
	f.BoolVar(&perPipe, "per-pipeline", false, "also print each pipeline's regret")
	f.BoolVar(&noCode, "no-code", false, "ignore the trees' model code (the recommender without code-awareness)")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	return cmd
}

func parseBudgets(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("--budgets %q: want increasing positive integers such as 1,5,10,20", s)
		}
		out = append(out, n)
	}
	return out, nil
}
