package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"sync"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/finetune"
	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/report"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/evolve"
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
	f.String("dataset", d.Dataset, "dataset: shapes, cifar-10, cifar-100, mnist, fashion-mnist, svhn")
	f.String("data-dir", "", "folder with the dataset files (env NNGPT_DATA)")
	f.Bool("download", false, "let torchvision download missing dataset files")
	f.Int("workers", 0, "trainings at once (0: fit the cores)")
	f.String("device", d.Device, "cpu, cuda or cuda:N")
	f.String("python", "", "a python3 that can import torch (default: search)")
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
				return json.NewEncoder(g.stdout).Encode(cfg.Settings())
			}
			if cfg.File != "" {
				fmt.Fprintf(g.stdout, "# file %s\n", cfg.File)
			} else {
				fmt.Fprintf(g.stdout, "# no %s in %s (`nngpt init` writes one)\n", config.FileName, g.workspace)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			for _, s := range cfg.Settings() {
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
	loaded, err := config.Load(ws.Dir, cmd.Flags())
	if err != nil {
		return err
	}
	cfg := loaded.Config
	if _, err := zoo.Seed(ctx, ws.Store); err != nil {
		return err
	}
	eng, err := newEngine(ctx, g, ws, cfg)
	if err != nil {
		return err
	}
	out := newRunOutput(g, asJSON, cfg.Epochs)
	eng.Observe = out.observe
	res, err := eng.Run(ctx, loop.Options{Config: cfg, Resume: resume, New: fresh})
	out.close()
	if res != nil && res.Loop.ID != "" {
		if rerr := writeReport(ctx, g, ws, res.Loop.ID, cfg.Admit*eng.Data.Chance(), !asJSON); rerr != nil && err == nil {
			err = rerr
		}
	}
	if errors.Is(err, loop.ErrInterrupted) {
		return &ExitError{Code: 130, Err: fmt.Errorf("interrupted; `nngpt run` resumes loop %s", res.Loop.ID)}
	}
	return err
}

// newEngine wires the loop's collaborators from the configuration.
func newEngine(ctx context.Context, g *globals, ws *workspace.Workspace, cfg config.Config) (*loop.Engine, error) {
	py, _, err := runner.FindPython(ctx, runner.PythonOptions{Path: cfg.Python, CacheDir: ws.Path("cache")})
	if err != nil {
		return nil, fmt.Errorf("%w (run `nngpt doctor`)", err)
	}
	if err := py.CheckDevice(cfg.Device); err != nil {
		return nil, err
	}
	sb, err := runner.NewSandbox(ctx, runner.SandboxAuto)
	if err != nil {
		return nil, err
	}
	spec := runner.DatasetSpec{Name: cfg.Dataset, DataDir: cfg.Data.Dir, Download: cfg.Data.Download, Seed: 1}
	if cfg.Dataset == "shapes" {
		spec.NTrain, spec.NTest, spec.Size = cfg.Data.Train, cfg.Data.Test, cfg.Data.Size
	}
	data, err := runner.Datasets{Sandbox: sb}.Prepare(ctx, py, spec)
	if err != nil {
		return nil, err
	}
	slots := cfg.Workers
	if slots <= 0 {
		slots = runtime.NumCPU()
	}
	exec, err := runner.NewLocal(ctx, runner.LocalConfig{Python: py, Sandbox: sb, Slots: slots, Threads: max(1, runtime.NumCPU()/slots)})
	if err != nil {
		return nil, err
	}
	gcfg := gate.DefaultConfig()
	gcfg.MaxParams = float64(cfg.MaxParams)
	gt, _, err := gate.Open(ctx, ws.Store, gcfg, nil)
	if err != nil {
		return nil, err
	}
	gen, err := buildGenerator(ctx, cfg, ws.Dir, ws.Store, gt)
	if err != nil {
		return nil, err
	}
	eng := &loop.Engine{
		Store: ws.Store, Generator: gen, Exec: exec, Data: data,
		Check: func(ctx context.Context, c *synth.Candidate) synth.Verdict {
			v, err := gt.Check(ctx, gate.Candidate{Name: c.Name, Code: c.Code})
			if err != nil {
				return synth.Reject("gate", "internal", err.Error())
			}
			return fromGate(v)
		},
		Learn: func(row store.CandidateRow) {
			gt.Index().Add(row.Name, pyast.CodeIDs([]byte(row.Code)), gate.SourceCandidate)
		},
		Repro: map[string]any{"python": py.Version, "torch": py.Torch, "device": cfg.Device, "dataset_id": data.SplitID(),
			"isolation": sb.Isolation},
	}
	if eng.Prune, eng.Finished, err = newPrune(ctx, g, ws, cfg, data); err != nil {
		return nil, err
	}
	if cfg.Finetune.Export || cfg.Finetune.Command != "" {
		fineTuning(g, ws, cfg, eng, gt)
	}
	if eng.Hyperparameters, err = hyperparameters(ws.Store, cfg); err != nil {
		return nil, err
	}
	if ev, ok := gen.(*evolve.Generator); ok && cfg.Evolve.Learn {
		eng.BeforeCycle = func(ctx context.Context, l store.Loop, cycle int) error {
			rows, err := ws.Store.Candidates(ctx, l.ID)
			if err != nil {
				return err
			}
			ev.Policy = operatorPolicy(rows, cycle)
			slog.Info("evolve operator weights", "cycle", cycle, "weights", ev.Policy.String())
			return nil
		}
	}
	return eng, nil
}

// operatorPolicy is evolve's operator policy after a loop's cycles before
// the given one. Each evolve candidate credits its operators with a reward
// in [-1, 1]: -1 when the gate rejected it (a duplicate included) or its
// training failed, -0.5 when it was pruned as hopeless, and for a trained
// one its accuracy's rank among all trained candidates so far, from -1
// (the worst) to +1 (the best), so operators are judged against the loop's
// own baseline even where every candidate clears the admission bar. It
// depends on the journal alone, so a resumed loop rebuilds the policy an
// uninterrupted one had.
func operatorPolicy(rows []store.CandidateRow, cycle int) *evolve.Policy {
	var past []store.CandidateRow
	for _, r := range rows {
		if r.Cycle < cycle {
			past = append(past, r)
		}
	}
	slices.SortFunc(past, func(a, b store.CandidateRow) int {
		return cmp.Or(cmp.Compare(a.Cycle, b.Cycle), cmp.Compare(a.Index, b.Index))
	})
	var accs []float64
	for _, r := range past {
		if r.State == store.StateDone && len(r.Epochs) > 0 {
			accs = append(accs, slices.Max(r.Epochs))
		}
	}
	slices.Sort(accs)
	pol := evolve.NewPolicy()
	for _, r := range past {
		reward := 0.0
		switch r.State {
		case store.StateRejected, store.StateDuplicate, store.StateFailed:
			reward = -1
		case store.StatePruned:
			reward = -0.5
		case store.StateDone:
			if len(r.Epochs) > 0 && len(accs) > 1 {
				acc := slices.Max(r.Epochs)
				below := sort.SearchFloat64s(accs, acc)                                                // trained candidates that did worse
				above := len(accs) - sort.Search(len(accs), func(i int) bool { return accs[i] > acc }) // and better
				reward = float64(below-above) / float64(len(accs)-1)
			}
		}
		pol.Learn(&synth.Candidate{Generator: r.Generator, Operators: r.Operators}, reward)
	}
	return pol
}

// hyperparameters keeps a candidate's own hyperparameters (an LLM's <hp>,
// evolve's inherited ones) when they fit the model's LEMUR search space,
// clipped into it, and otherwise asks the configured recommender: the LLM's
// one-shot when recommender is llm, then the learned one, fitted on the
// corpus as it stood when the candidate's cycle began.
func hyperparameters(st store.Store, cfg config.Config) (func(context.Context, *synth.Candidate) (lemur.Dict, string, error), error) {
	var first hpo.Recommender
	if cfg.Recommender == "llm" {
		c, err := llm.New(llmConfig(cfg))
		if err != nil {
			return nil, err
		}
		first = &hpo.LLMRecommender{Client: c}
	}
	var learned *hpo.Learned
	var fittedAt store.Counts
	return func(ctx context.Context, c *synth.Candidate) (lemur.Dict, string, error) {
		sp, err := hpo.LEMURSpace(pyast.Analyze([]byte(c.Code)).Contract.Supported, nil)
		if err != nil {
			return nil, "", err
		}
		given := append(lemur.Dict(nil), c.HP...)
		if c.Transform != "" {
			given = given.Set("transform", c.Transform)
		}
		// The corpus only grows between cycles: refit when it changed.
		if counts, err := st.Counts(ctx); err == nil && (learned == nil || counts != fittedAt) {
			var recs []lemur.Record
			for r, err := range st.Stats(ctx, store.Filter{}) {
				if err != nil {
					return nil, "", err
				}
				recs = append(recs, r)
			}
			if learned, err = hpo.FitLearned(recs, hpo.LearnedOptions{}); err != nil {
				learned = nil
			}
			fittedAt = counts
		}
		var recs []hpo.Recommender
		if first != nil {
			recs = append(recs, first)
		}
		if learned != nil {
			recs = append(recs, learned)
		}
		q := hpo.Query{Task: cfg.Task, Dataset: cfg.Dataset, Metric: cfg.Metric, Model: c.Name, Code: c.Code, Epochs: cfg.Epochs}
		prm, source, _, err := hpo.CandidateHP(ctx, recs, q, sp, given)
		if source == "llm-hp" {
			source = c.Generator // the generator's own, accepted
		}
		return prm, source, err
	}, nil
}

// newPrune returns the early-stopping decision of the workspace's
// predictor, or nil when early stopping is off, cannot act (too few
// epochs) or has no predictor yet.
// The second function feeds finished runs to the pruner's board, so "the
// current top-k" includes this loop's results.
func newPrune(ctx context.Context, g *globals, ws *workspace.Workspace, cfg config.Config, data *runner.Dataset) (
	func(*store.CandidateRow, runner.EpochResult) (bool, float64), func(store.CandidateRow), error) {
	if !cfg.EarlyStop.Enabled || cfg.Epochs <= cfg.EarlyStop.AfterEpoch {
		return nil, nil, nil
	}
	pol := predict.DefaultPolicy()
	pol.After = cfg.EarlyStop.AfterEpoch
	pol.Admission = cfg.Admit * data.Chance()
	p, err := predict.OpenPruner(ctx, ws.Dir, ws.Store, pol)
	if errors.Is(err, predict.ErrNoPredictor) {
		fmt.Fprintln(g.stderr, "nngpt: early stopping is off: no predictor in this workspace (`nngpt predict train` fits one)")
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	features := map[string]predict.CodeFeatures{}
	return func(row *store.CandidateRow, ep runner.EpochResult) (bool, float64) {
			mu.Lock()
			cf, ok := features[row.CodeID]
			if !ok {
				cf, _ = predict.CodeFeaturesOf([]byte(row.Code))
				features[row.CodeID] = cf
			}
			mu.Unlock()
			d, err := p.Decide(ctx, predict.CandidateState(row, ep.Epoch, ep.Accuracy, cfg.Epochs, cf))
			if err != nil || !d.Stop || d.Prediction == nil {
				return false, 0
			}
			return true, d.Prediction.BestAccuracy
		}, func(row store.CandidateRow) {
			if row.State == store.StateDone || row.State == store.StatePruned {
				p.Board.Add(row.Pipeline.Task, row.Pipeline.Dataset, row.Best())
			}
		}, nil
}

// fineTuning exports NNGPT's fine-tuning pairs after each cycle and runs
// the user's fine-tune command; the model its last line names generates
// next, also after a resume.
func fineTuning(g *globals, ws *workspace.Workspace, cfg config.Config, eng *loop.Engine, gt *gate.Gate) {
	model := cfg.LLM.Model
	ftc := func(l store.Loop) finetune.Config {
		return finetune.Config{Command: cfg.Finetune.Command, Dir: ws.Path("finetune", l.ID),
			Export: finetune.Options{Task: cfg.Task, Dataset: cfg.Dataset, Metric: cfg.Metric, Seed: l.Seed,
				Shots: cfg.LLM.Shots, MaxParams: cfg.MaxParams}}
	}
	use := func(next string, from int) error {
		if next == "" || next == model || cfg.GeneratorName() != "llm" {
			return nil
		}
		model = next
		c := cfg
		c.LLM.Model = next
		gen, err := buildGenerator(context.Background(), c, ws.Dir, ws.Store, gt)
		if err != nil {
			return err
		}
		eng.Generator = gen
		fmt.Fprintf(g.stderr, "nngpt: generating with %s from cycle %d on\n", next, from)
		return nil
	}
	eng.Start = func(ctx context.Context, l store.Loop) error {
		last, ok, err := finetune.Latest(ftc(l).Dir)
		if err != nil || !ok {
			return err
		}
		return use(last.Model, last.Cycle+1)
	}
	eng.AfterCycle = func(ctx context.Context, l store.Loop, cycle int) error {
		res, err := finetune.Step(ctx, ws.Store, ftc(l), cycle, model)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stderr, "nngpt: fine-tuning set of cycle %d: %s (%d pairs)\n", cycle, res.Data, res.Stats.Pairs)
		return use(res.Model, cycle+1)
	}
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
