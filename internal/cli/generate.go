package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/app"
	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/internal/text"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/synth"
)

// CandidatesDir is the workspace folder generate writes candidates into,
// one folder per candidate id.
const CandidatesDir = "candidates"

type generateOpts struct {
	n       int
	asJSON  bool
	dynamic string // auto, off, forward, train
	workers int
	nTrain  int
	nTest   int
	noWrite bool
}

// generateLine is one candidate in --json output: the candidate's own JSON
// (synth.Candidate) plus where it was written and what the worker saw.
func generateLine(c *synth.Candidate, dir string, params int64, chance *float64) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	add := func(k string, v any) {
		if raw, err := json.Marshal(v); err == nil {
			m[k] = raw
		}
	}
	if dir != "" {
		add("dir", dir)
	}
	if params > 0 {
		add("params", params)
	}
	if chance != nil {
		add("chance", *chance)
		if c.Verdict.Accuracy != nil {
			add("above_chance_ratio", *c.Verdict.Accuracy / *chance)
		}
	}
	return json.Marshal(m)
}

func newGenerateCmd(g *globals) *cobra.Command {
	o := &generateOpts{}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate candidate models (evolve or an LLM), gate them, and write them to the workspace",
		Long: `Generate candidates with the built-in evolve generator (mutations and
crossover of the workspace's corpus models; no LLM needed) or an LLM behind an
OpenAI-compatible endpoint (--llm URL --model NAME; n-shot prompts with
--shots supporting models from the corpus). Every candidate goes through the
static gates and dedup (against the corpus, earlier candidates and the batch),
then, when python with torch is found, the worker's build and forward stages
(--dynamic forward, the default) or one training epoch on the dataset
(--dynamic train, which reports the accuracy).

Each candidate is written to <workspace>/candidates/<id>/: model.py, hp.json,
transform.txt, prompt.txt and reply.txt (LLM), and candidate.json with the
parents, operators and verdict. One line per candidate is printed, or one
JSON object per candidate with --json. Nothing is added to the corpus: that
is what 'nngpt run' does with the candidates that train well.`,
		Example: `  nngpt generate --n 10
  nngpt generate --n 20 --dynamic train --workers 2
  nngpt generate --llm http://localhost:11434/v1 --model qwen2.5-coder:7b --shots 3 --n 5 --json
  nngpt generate --llm http://localhost:11434/v1 --model qwen2.5-coder:7b --rag torchvision.models.resnet.BasicBlock --n 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenerate(cmd, g, o)
		},
	}
	f := cmd.Flags()
	d := config.Default()
	f.IntVarP(&o.n, "n", "n", 10, "candidates to generate")
	f.String("generator", "", "evolve or llm (default: llm when --llm is set, else evolve)")
	f.String("llm", "", "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (env NNGPT_LLM_URL)")
	f.String("model", "", "the LLM's model name (env NNGPT_LLM_MODEL)")
	f.Int("shots", d.LLM.Shots, "supporting models in an n-shot prompt (0: zero-shot)")
	f.String("task", d.Task, "task the candidates are for")
	f.String("dataset", d.Dataset, "dataset: "+strings.Join(lemur.TrainableDatasets(), ", "))
	f.String("metric", d.Metric, "metric")
	f.Int("epochs", d.Epochs, "epochs the candidates will train for (the LLM's prompt says so)")
	f.Int64("seed", 0, "random seed of the generator (0: pick one and record it)")
	f.StringVar(&o.dynamic, "dynamic", "auto", "after the static gates: forward (build and one forward pass in the worker), train (one epoch, with accuracy), off, or auto (forward when python with torch is found)")
	f.IntVar(&o.workers, "workers", 1, "dynamic checks at once")
	f.Int("batch", d.Batch, "batch size of dynamic checks when a candidate proposes none")
	f.IntVar(&o.nTrain, "n-train", 0, "shapes: training images of --dynamic train (default 5000)")
	f.IntVar(&o.nTest, "n-test", 0, "shapes: test images of --dynamic train (default 1000)")
	f.Int64("max-params", d.MaxParams, "parameter limit per model (stated in the prompt, checked by the gate and in the worker)")
	f.BoolVar(&o.noWrite, "no-write", false, "do not write candidate folders (print only)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object per candidate")
	f.String("rag", "", "build each candidate around the next of these library blocks (comma-separated names, or all: every block that builds and runs forward; see `nngpt rag list`): llm asks for a Net around it, evolve inserts it into a corpus model")
	addMachineFlags(cmd)
	return cmd
}

func runGenerate(cmd *cobra.Command, g *globals, o *generateOpts) error {
	ctx := cmd.Context()
	if o.n < 1 {
		return &ExitError{Code: 1, Err: fmt.Errorf("--n %d: want at least 1 candidate", o.n)}
	}
	if o.workers < 1 {
		return &ExitError{Code: 1, Err: fmt.Errorf("--workers %d: want at least 1", o.workers)}
	}
	switch o.dynamic {
	case "auto", "off", "forward", "train":
	default:
		return &ExitError{Code: 1, Err: fmt.Errorf("--dynamic %q: want auto, forward, train or off", o.dynamic)}
	}
	cfg, err := loadConfig(g, cmd)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	ws, err := g.openWorkspace(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()

	dyn, err := newDynamicCheck(ctx, g, o, cfg)
	if err != nil {
		return err
	}
	var dc gate.DynamicCheck
	if dyn != nil {
		dc = dyn
	}
	gt, stats, err := app.OpenGate(ctx, ws.Store, cfg.Settings, dc)
	if err != nil {
		return err
	}
	gen, err := app.Generator(ctx, ws, cfg.Settings, gt)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if !o.asJSON {
		mode := "static gates and dedup only"
		if dyn != nil {
			mode = "static gates, dedup and the worker's build/forward"
			if dyn.Train {
				mode = fmt.Sprintf("static gates, dedup and one training epoch on %s", dyn.Data.Name)
			}
		}
		fmt.Fprintf(g.stderr, "generating %d with %s for %s/%s/%s; %s; dedup against %d corpus models and %d earlier candidates\n",
			o.n, gen.Name(), cfg.Task, cfg.Dataset, cfg.Metric, mode, stats.Corpus, stats.Candidates)
	}
	req := cfg.Request(o.n, cfg.Seed)
	bar := cfg.Admit

	out := &generateOutput{g: g, o: o, ws: ws.Dir, dyn: dyn, admit: bar, start: time.Now()}
	jobs := make(chan indexed)
	var wg sync.WaitGroup
	var checkErr error
	var errOnce sync.Once
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := gate.Judge(ctx, gt, dyn, j.c); err != nil {
					errOnce.Do(func() { checkErr = err })
					continue
				}
				out.emit(j)
			}
		}()
	}
	var genErr error
	i := 0
	for c, err := range gen.Generate(ctx, req) {
		if err != nil {
			genErr = err
			break
		}
		i++
		if !c.Verdict.OK() {
			// Rejected inside the generator (an LLM reply with no code):
			// nothing to gate.
			out.emit(indexed{i, c})
			continue
		}
		select {
		case jobs <- indexed{i, c}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if err := gt.Index().Flush(ctx); err != nil {
		slog.Warn("generate: could not persist the accepted candidates' dedup ids", "err", err)
	}
	out.summary()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case genErr != nil:
		return fmt.Errorf("generate: %w", genErr)
	case checkErr != nil:
		return checkErr
	}
	return nil
}

type indexed struct {
	i int
	c *synth.Candidate
}

// ---------------------------------------------------------------- output

type generateOutput struct {
	g     *globals
	o     *generateOpts
	ws    string
	dyn   *gate.RunnerCheck
	admit float64 // the admission bar as a multiple of chance
	start time.Time

	mu     sync.Mutex
	n      int
	status map[string]int
	reason map[string]int
	above  int
	failed error
}

func (out *generateOutput) emit(j indexed) {
	out.mu.Lock()
	defer out.mu.Unlock()
	c := j.c
	if out.status == nil {
		out.status, out.reason = map[string]int{}, map[string]int{}
	}
	out.n++
	out.status[string(c.Verdict.Status)]++
	if c.Verdict.Reason != "" {
		out.reason[c.Verdict.Reason]++
	}
	var chance *float64
	if out.dyn != nil && out.dyn.Train && c.Verdict.Accuracy != nil {
		ch := out.dyn.Data.Chance()
		chance = &ch
		if *c.Verdict.Accuracy > out.admit*ch {
			out.above++
		}
	}
	dir := ""
	if !out.o.noWrite && c.ID != "" {
		dir = filepath.Join(out.ws, CandidatesDir, c.ID)
		if _, err := os.Stat(dir); err == nil && c.Verdict.Status == synth.StatusDuplicate {
			// The same code is already there (an earlier candidate of this
			// or another run): keep that one's record.
			dir = ""
		} else if err := c.WriteDir(dir); err != nil {
			fmt.Fprintf(out.g.stderr, "nngpt: %v\n", err)
			dir = ""
		}
	}
	if out.o.asJSON {
		var params int64
		if out.dyn != nil {
			if r := out.dyn.Result(c.Name); r != nil {
				params = r.Params
			}
		}
		b, err := generateLine(c, dir, params, chance)
		if err != nil {
			fmt.Fprintf(out.g.stderr, "nngpt: candidate %s: %v\n", c.ID, err)
			return
		}
		fmt.Fprintf(out.g.stdout, "%s\n", b)
		return
	}
	name := c.Name
	if name == "" {
		name = "(no code) " + text.Head(c.ID, 12)
	}
	from := ""
	if len(c.Operators) > 0 {
		from = "  <- " + strings.Join(c.Parents, "+") + ": " + strings.Join(c.Operators, "; ")
	}
	fmt.Fprintf(out.g.stdout, "%3d/%d %s  %s%s\n", j.i, out.o.n, name, c.Verdict, from)
}

func (out *generateOutput) summary() {
	if out.o.asJSON {
		return
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	parts := sortedCounts(out.status)
	line := fmt.Sprintf("%d candidates in %s: %s", out.n, time.Since(out.start).Round(time.Millisecond), strings.Join(parts, ", "))
	if rs := sortedCounts(out.reason); len(rs) > 0 {
		line += "; reasons: " + strings.Join(rs, ", ")
	}
	if d := out.status[string(synth.StatusDuplicate)]; d > 0 {
		line += fmt.Sprintf("; trainings saved by dedup: %d", d)
	}
	if out.dyn != nil && out.dyn.Train {
		line += fmt.Sprintf("; trained above %g x chance: %d", out.admit, out.above)
	}
	if !out.o.noWrite {
		line += "; written to " + filepath.Join(out.ws, CandidatesDir)
	}
	fmt.Fprintln(out.g.stdout, line)
}

func sortedCounts(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return out
}

// ---------------------------------------------------------------- dynamic check

// newDynamicCheck sets up the worker's checks, or returns nil when they
// are off (or "auto" finds no python with torch or no dataset).
func newDynamicCheck(ctx context.Context, g *globals, o *generateOpts, cfg *config.Loaded) (*gate.RunnerCheck, error) {
	if o.dynamic == "off" {
		return nil, nil
	}
	var notice io.Writer = g.stderr
	if o.asJSON {
		notice = nil
	}
	w, err := app.NewWorker(ctx, cfg, notice)
	if err != nil {
		if o.dynamic == "auto" && ctx.Err() == nil {
			fmt.Fprintf(g.stderr, "nngpt: no worker for the dynamic checks (%v): static gates only; `nngpt doctor` says more\n", err)
			return nil, nil
		}
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("--dynamic %s: %w", o.dynamic, err)}
	}
	spec := app.LoopDataset(cfg.Settings)
	if o.nTrain > 0 {
		spec.NTrain = o.nTrain
	}
	if o.nTest > 0 {
		spec.NTest = o.nTest
	}
	if o.dynamic != "train" && spec.Name == "shapes" {
		// Build and forward only look at the shape of a batch.
		spec.NTrain, spec.NTest = 256, 64
	}
	data, err := w.Dataset(ctx, spec)
	if err != nil {
		if o.dynamic == "auto" && ctx.Err() == nil {
			fmt.Fprintf(g.stderr, "nngpt: dataset %s is not available for the worker checks (%v): static gates only\n", spec.Name, err)
			return nil, nil
		}
		return nil, err
	}
	ex, err := w.Executor(ctx, app.ExecOptions{Slots: o.workers})
	if err != nil {
		return nil, err
	}
	return &gate.RunnerCheck{Exec: ex, Data: data, Train: o.dynamic == "train", Batch: cfg.Batch, MaxParams: cfg.MaxParams,
		Device: w.Device, Seed: cfg.Seed}, nil
}
