package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/bench"
	"github.com/nngpt/nngpt/lemur"
)

func newBenchTPECmd(g *globals) *cobra.Command {
	var (
		cfg                  bench.TPEConfig
		budgets, src, python string
		reuse                string
		lemurK               int
		withOptuna, asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "tpe",
		Short: "Compare nngpt's TPE (multivariate and univariate) with random search and Optuna's TPE on test functions and LEMUR",
		Long: `Minimise standard functions and LEMUR replay surrogates with each sampler,
--seeds times each, and report the mean best value found after each of
--budgets trials (lower is better). Problems: sphere-5d (optimum off the
centre), Branin, Rosenbrock-4d, Ackley-5d, a mixed space (log-scaled lr, an
integer width, a categorical transform) and the --lemur-problems LEMUR
pipelines with the most distinct trials (the normalised regret of the
nearest recorded trial, as 'nngpt bench hpo'; skipped where --lemur is
missing).

With --optuna, Optuna's TPE runs on the same problems and seeds, univariate
(its default as installed) and multivariate, through a python3 that has it
(--python, else python3 on PATH, else /usr/bin/python3; Debian:
apt-get install python3-optuna). The objective stays in Go: Optuna only asks
and tells over a pipe. Ratio tables compare nngpt's mean best value with
Optuna's per problem (each mean plus 1e-3) with the two-sided Wilcoxon
signed-rank p-value over seeds, and their geometric mean over problems.
--ask-trials measures the time per ask after that many trials. Optuna is
slow (about a minute per 1,000-trial study): --reuse FILE takes its runs
from an earlier --json result of the same budgets.`,
		Example: `  nngpt bench tpe
  nngpt bench tpe --optuna --json > tpe.json
  nngpt bench tpe --reuse tpe.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			bs, err := parseBudgets(budgets)
			if err != nil {
				return err
			}
			cfg.Budgets = bs
			cfg.Problems = bench.AnalyticProblems()
			if lemurK > 0 {
				path, err := bench.FindLEMUR(src)
				if err != nil {
					fmt.Fprintf(g.stderr, "LEMUR replay left out: %v\n", err)
				} else {
					t, err := lemur.Load(ctx, path)
					if err != nil {
						return fmt.Errorf("load LEMUR tree %s: %w", path, err)
					}
					if len(t.Problems) > 0 {
						slog.Warn("LEMUR tree has unreadable parts, left out", "path", path, "problems", len(t.Problems))
					}
					lp, err := bench.LEMURProblems(t.Records, lemurK)
					if err != nil {
						return err
					}
					cfg.Problems = append(cfg.Problems, lp...)
				}
			}
			if reuse != "" {
				b, err := os.ReadFile(reuse)
				if err != nil {
					return fmt.Errorf("--reuse: %w", err)
				}
				var old bench.TPEResult
				if err := json.Unmarshal(b, &old); err != nil {
					return fmt.Errorf("--reuse %s: not the JSON of nngpt bench tpe --json: %w", reuse, err)
				}
				cfg.Reuse = &old
			}
			skipped := ""
			if withOptuna {
				py, _, err := bench.FindOptuna(ctx, python)
				if err != nil {
					skipped = err.Error()
					fmt.Fprintf(g.stderr, "Optuna skipped: %v\n", err)
				} else {
					cfg.Optuna = py
				}
			}
			if !asJSON {
				cfg.Progress = func(done, total int) {
					if done%20 == 0 || done == total {
						fmt.Fprintf(g.stderr, "\rruns %d/%d", done, total)
					}
					if done == total {
						fmt.Fprintln(g.stderr)
					}
				}
			}
			res, err := bench.RunTPE(ctx, cfg)
			if err != nil {
				return err
			}
			res.OptunaSkipped = skipped
			if asJSON {
				return writeJSON(g, res)
			}
			return bench.WriteTPETable(g.stdout, res)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Seeds, "seeds", 20, "runs per sampler and problem")
	f.StringVar(&budgets, "budgets", "50,200", "trial counts to report")
	f.IntVar(&cfg.AskTrials, "ask-trials", 1000, "measure the ask time after this many trials (0: skip)")
	f.BoolVar(&withOptuna, "optuna", false, "also run Optuna's TPE, univariate and multivariate")
	f.StringVar(&python, "python", "", "a python3 that can import optuna (default: search)")
	f.StringVar(&reuse, "reuse", "", "take Optuna's runs from this earlier --json result")
	f.StringVar(&src, "lemur", "", "LEMUR tree or archive for the replay problems (default "+bench.DefaultLEMUR+")")
	f.IntVar(&lemurK, "lemur-problems", 3, "LEMUR pipelines to replay (0: none)")
	f.IntVar(&cfg.Workers, "workers", 0, "runs at once (default: the CPUs)")
	f.BoolVar(&asJSON, "json", false, "print every figure, each run and each ratio as one JSON object")
	return cmd
}
