package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/app"
	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/report"
	"github.com/nngpt/nngpt/workspace"
	"github.com/nngpt/nngpt/zoo"
)

func newInitCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the workspace and write a commented nngpt.yaml into it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := g.openWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			defer ws.Close()
			path, err := config.WriteTemplate(ws.Dir, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s: edit it, then `nngpt run`\n", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing nngpt.yaml")
	return cmd
}

// addRunFlags declares the flags of `nngpt run` that are settings; `nngpt
// config` takes the same so it can show what a run would use.
func addRunFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	d := config.Default()
	f.Int("cycles", d.Cycles, "cycles to run")
	f.Int("candidates", d.Candidates, "candidates generated per cycle")
	f.Int("epochs", d.Epochs, "training epochs per candidate")
	f.Duration("time-budget", 0, "stop starting new cycles after this long (e.g. 2h; 0: no limit)")
	f.Int64("seed", 0, "random seed (0: pick one and record it)")
	f.String("generator", "", "evolve or llm (default: llm when --llm is set, else evolve)")
	f.String("rag", "", "build candidates around these library blocks (comma-separated names, or all; see `nngpt rag list`)")
	f.String("recommender", d.Recommender, "hyperparameters of candidates that bring none usable: learned, or llm (the HPGPT prompt, then learned)")
	f.String("llm", "", "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
	f.String("model", "", "the LLM's model name")
	f.Int("shots", d.LLM.Shots, "supporting models in an n-shot prompt")
	f.String("task", d.Task, "task")
	f.String("dataset", d.Dataset, "dataset: "+strings.Join(lemur.TrainableDatasets(), ", "))
	f.Int("workers", 0, "trainings at once (0: fit the cores)")
	addMachineFlags(cmd)
	f.String("executor", d.Executor, "where trainings run: local (this machine) or slurm (a Slurm job each; cluster.* settings, env NNGPT_CLUSTER_SHARED_DIR)")
	f.Int64("max-params", d.MaxParams, "parameter limit per model")
	f.Float64("admit", d.Admit, "admit models whose accuracy beats this multiple of chance")
	f.Bool("early-stop", d.EarlyStop.Enabled, "stop runs predicted to miss the bar")
	f.String("finetune-cmd", "", "command run after each cycle (template over {{.Data}} {{.Cycle}} {{.Model}})")
}

func newConfigCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration of `nngpt run` and where each value comes from",
		Long: `Print every setting of 'nngpt run' with its value and its source: the
built-in default, the workspace's nngpt.yaml, an NNGPT_* environment
variable (NNGPT_LLM_URL for llm.url, NNGPT_TIME_BUDGET for time_budget, ...)
or a flag. Pass the same flags as to 'nngpt run' to see their effect.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(g.workspace, cmd.Flags())
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(cfg.Effective())
			}
			if cfg.File != "" {
				fmt.Fprintf(g.stdout, "# file %s\n", cfg.File)
			} else {
				fmt.Fprintf(g.stdout, "# no %s in %s (`nngpt init` writes one)\n", config.FileName, g.workspace)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			for _, s := range cfg.Effective() {
				fmt.Fprintf(tw, "%s\t%s\t# %s\n", s.Key, s.Display(), s.Source)
			}
			return tw.Flush()
		},
	}
	addRunFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the settings as JSON")
	return cmd
}

func newRunCmd(g *globals) *cobra.Command {
	var asJSON, fresh bool
	var resume string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the closed loop: generate, gate, train, record, grow the corpus, repeat",
		Long: `Run NNGPT's self-improving loop in the workspace. Each cycle picks reference
models from the corpus, generates candidates (an LLM when one is configured,
the built-in evolve generator otherwise), gates and deduplicates them, trains
the survivors in the sandboxed worker several at once, records every result
and admits the models that beat the bar (admit x chance) into the corpus,
named <generator>-<code md5> as LEMUR does. The next cycle starts from the
grown corpus.

With no configuration it runs offline: the built-in shapes dataset, evolve
and the seed zoo, 3 cycles of 8 candidates for 1 epoch each.

Every step is journaled: after a crash or kill, 'nngpt run' in the same
workspace resumes the unfinished loop (finished results kept, nothing
trained twice). Ctrl-C stops gracefully (exit 130); a second Ctrl-C stops at
once. Settings come from flags, NNGPT_* variables and nngpt.yaml
('nngpt config' shows them).`,
		Example: `  nngpt run
  nngpt run --cycles 10 --candidates 16 --epochs 2
  nngpt run --llm http://localhost:11434/v1 --model qwen2.5-coder:7b
  nngpt run --json > events.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLoop(cmd, g, asJSON, fresh, resume)
		},
	}
	addRunFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a stream of JSON events instead of progress bars")
	cmd.Flags().BoolVar(&fresh, "new", false, "start a new loop even when an unfinished one exists")
	cmd.Flags().StringVar(&resume, "resume", "", "resume this loop id")
	return cmd
}

func runLoop(cmd *cobra.Command, g *globals, asJSON, fresh bool, resume string) error {
	// The first Ctrl-C cancels ctx (graceful: commit, report, exit 130);
	// a second one exits at once. Workers die with us (sandbox).
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		n := 0
		for range sig {
			n++
			if n == 1 {
				fmt.Fprintln(g.stderr, "\nnngpt: stopping after committing what finished (Ctrl-C again to stop at once)")
				cancel()
				continue
			}
			os.Exit(130)
		}
	}()

	ws, err := g.openWorkspace(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	cfg, err := config.Load(ws.Dir, cmd.Flags())
	if err != nil {
		return err
	}
	if _, err := zoo.Seed(ctx, ws.Store); err != nil {
		return err
	}
	lp, err := app.OpenLoop(ctx, ws, cfg, loop.Selection{Resume: resume, New: fresh}, g.stderr)
	if err != nil {
		return err
	}
	out := newRunOutput(g, asJSON, lp.Plan.Settings.Epochs)
	lp.Engine.Observe = out.observe
	res, err := lp.Engine.Run(ctx, lp.Plan, cfg.TimeBudget)
	out.close()
	if res != nil && res.Loop.ID != "" {
		if rerr := writeReport(ctx, g, ws, res.Loop.ID, lp.Bar(), !asJSON); rerr != nil && err == nil {
			err = rerr
		}
	}
	if errors.Is(err, loop.ErrInterrupted) {
		return &ExitError{Code: 130, Err: fmt.Errorf("interrupted; `nngpt run` resumes loop %s", res.Loop.ID)}
	}
	return err
}

// writeReport writes the loop's report under the workspace and, when
// show is set, prints its text form.
func writeReport(ctx context.Context, g *globals, ws *workspace.Workspace, loopID string, bar float64, show bool) error {
	ctx = context.WithoutCancel(ctx) // report even after Ctrl-C
	rep, err := report.Build(ctx, ws.Store, loopID)
	if err != nil {
		return err
	}
	rep.Threshold = bar
	dir := report.DefaultDir(ws.Dir, loopID)
	if err := rep.Write(dir); err != nil {
		return err
	}
	if show {
		fmt.Fprintln(g.stdout)
		if err := rep.Text(g.stdout); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "report, plots and Markdown summary: %s\n", dir)
	}
	return nil
}
