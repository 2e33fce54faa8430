package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/rag"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/evolve"
	"github.com/nngpt/nngpt/synth/llmgen"
)

// CandidatesDir is the workspace folder generate writes candidates into,
// one folder per candidate id.
const CandidatesDir = "candidates"

type generateOpts struct {
	n         int
	asJSON    bool
	dynamic   string // auto, off, forward, train
	workers   int
	batch     int
	nTrain    int
	nTest     int
	noWrite   bool
	maxParams int64
	wf        workerFlags
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
	f.String("dataset", d.Dataset, "dataset: "+strings.Join(runner.DatasetNames, ", "))
	f.String("metric", d.Metric, "metric")
	f.Int64("seed", 0, "random seed of the generator (0: pick one and record it)")
	f.String("device", d.Device, "cpu, cuda or cuda:N (dynamic checks)")
	f.StringVar(&o.dynamic, "dynamic", "auto", "after the static gates: forward (build and one forward pass in the worker), train (one epoch, with accuracy), off, or auto (forward when python with torch is found)")
	f.IntVar(&o.workers, "workers", 1, "dynamic checks at once")
	f.IntVar(&o.batch, "batch", 0, "batch size of dynamic checks when a candidate proposes none (0: 64)")
	f.IntVar(&o.nTrain, "n-train", 0, "shapes: training images of --dynamic train (default 5000)")
	f.IntVar(&o.nTest, "n-test", 0, "shapes: test images of --dynamic train (default 1000)")
	f.Int64Var(&o.maxParams, "max-params", d.MaxParams, "parameter limit per model (checked in the worker)")
	f.BoolVar(&o.noWrite, "no-write", false, "do not write candidate folders (print only)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object per candidate")
	f.String("rag", "", "build each candidate around the next of these library blocks (comma-separated names, or all: every block that builds and runs forward; see `nngpt rag list`): llm asks for a Net around it, evolve inserts it into a corpus model")
	o.wf.add(cmd)
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
	cfg, err := config.Load(g.workspace, cmd.Flags())
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	ws, err := g.openWorkspace(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()

	dyn, err := newRunnerCheck(ctx, g, o, cfg)
	if err != nil {
		return err
	}
	var dc gate.DynamicCheck
	if dyn != nil {
		dc = dyn
	}
	gt, stats, err := gate.Open(ctx, ws.Store, gate.DefaultConfig(), dc)
	if err != nil {
		return err
	}
	gen, err := buildGenerator(ctx, cfg.Config, ws.Dir, ws.Store, gt)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if !o.asJSON {
		mode := "static gates and dedup only"
		if dyn != nil {
			mode = "static gates, dedup and the worker's build/forward"
			if dyn.train {
				mode = fmt.Sprintf("static gates, dedup and one training epoch on %s", dyn.data.Name)
			}
		}
		fmt.Fprintf(g.stderr, "generating %d with %s for %s/%s/%s; %s; dedup against %d corpus models and %d earlier candidates\n",
			o.n, gen.Name(), cfg.Task, cfg.Dataset, cfg.Metric, mode, stats.Corpus, stats.Candidates)
	}
	req := synth.Request{N: o.n, Task: cfg.Task, Dataset: cfg.Dataset, Metric: cfg.Metric, Shots: cfg.LLM.Shots, Seed: cfg.Seed}

	out := &generateOutput{g: g, o: o, ws: ws.Dir, dyn: dyn, start: time.Now()}
	jobs := make(chan indexed)
	var wg sync.WaitGroup
	var checkErr error
	var errOnce sync.Once
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := verdict(ctx, gt, dyn, j.c); err != nil {
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

// buildGenerator makes the configured generator over the workspace, with
// the library blocks of the rag setting.
func buildGenerator(ctx context.Context, cfg config.Config, dir string, st store.Store, gt *gate.Gate) (synth.Generator, error) {
	gen, err := baseGenerator(cfg, dir, st, gt)
	if err != nil {
		return nil, err
	}
	return useBlocks(ctx, st, cfg, gen)
}

func baseGenerator(cfg config.Config, dir string, st store.Store, gt *gate.Gate) (synth.Generator, error) {
	switch cfg.GeneratorName() {
	case "evolve":
		return &evolve.Generator{
			Source: evolve.SourceFunc(func(ctx context.Context, req synth.Request) ([]evolve.Parent, error) {
				models, err := corpus.Models(ctx, st, req.Task, req.Dataset, req.Metric)
				if err != nil {
					return nil, err
				}
				out := make([]evolve.Parent, len(models))
				for i, m := range models {
					tr, _ := m.Prm.String("transform")
					out[i] = evolve.Parent{Name: m.Name, Code: m.Code, Accuracy: m.Accuracy, HP: m.Prm.Without("transform"), Transform: tr}
				}
				return out, nil
			}),
			// Skip what the workspace already holds, so the tries go to new models.
			Seen: func(code string) bool {
				if gt.Index() == nil {
					return false
				}
				r, _ := gt.Index().Lookup(pyast.CodeIDs([]byte(code)))
				return r != gate.ReasonAccepted
			},
		}, nil
	case "llm":
		repairs := cfg.LLM.Repairs
		if repairs == 0 {
			repairs = -1 // llmgen reads 0 as its default; the setting's 0 means none
		}
		return llmgen.ForWorkspace(llmConfig(cfg), dir, st, llmgen.Options{
			Task:       prompt.Task{MaxParams: cfg.MaxParams},
			Selection:  cfg.LLM.Selection,
			MaxRepairs: repairs,
			// Static problems go back to the LLM as repair prompts.
			Check: func(ctx context.Context, c *synth.Candidate) (synth.Verdict, error) {
				return fromGate(gt.Static(gate.Candidate{Name: c.Name, Code: c.Code})), nil
			},
		})
	}
	return nil, fmt.Errorf("generator %q: want evolve or llm", cfg.GeneratorName())
}

// llmConfig is the client configuration of the llm settings.
func llmConfig(cfg config.Config) llm.Config {
	lc := llm.Config{BaseURL: cfg.LLM.URL, Model: cfg.LLM.Model, MaxTokens: cfg.LLM.MaxTokens, ContextLength: cfg.LLM.ContextLength,
		RequestTimeout: cfg.LLM.Timeout, MaxRetries: cfg.LLM.MaxRetries}
	t, p := cfg.LLM.Temperature, cfg.LLM.TopP
	lc.Temperature, lc.TopP = &t, &p
	return lc
}

// useBlocks applies the rag setting: the LLM generator gets the blocks for
// RAG prompts; evolve becomes evolve.BlockInserter, which inserts them into
// corpus models.
func useBlocks(ctx context.Context, st store.RAG, cfg config.Config, gen synth.Generator) (synth.Generator, error) {
	names, all := cfg.RAGBlocks()
	if len(names) == 0 && !all {
		return gen, nil
	}
	if all && len(names) > 0 {
		return nil, fmt.Errorf("rag = %q: all already holds every usable block; give names or all, not both", cfg.RAG)
	}
	var bs []store.RAGBlock
	if all {
		usable, err := rag.Usable(ctx, st)
		if err != nil {
			return nil, err
		}
		if len(usable) == 0 {
			return nil, fmt.Errorf("rag = all: no block in the library builds and runs forward (level 2); add some with `nngpt rag extract`")
		}
		bs = usable
	}
	for _, name := range names {
		b, err := usableBlock(ctx, st, name)
		if err != nil {
			return nil, fmt.Errorf("rag: %w", err)
		}
		bs = append(bs, b)
	}
	switch g := gen.(type) {
	case *llmgen.Generator:
		for _, b := range bs {
			g.Blocks = append(g.Blocks, prompt.Block{Name: b.Name, Code: b.Code, Input: b.Input})
		}
		return g, nil
	case *evolve.Generator:
		bi := &evolve.BlockInserter{Source: g.Source, Seen: g.Seen, MaxTries: g.MaxTries, Log: g.Log}
		for _, b := range bs {
			bi.Blocks = append(bi.Blocks, evolve.Block{Name: b.Name, Code: b.Code})
		}
		return bi, nil
	}
	return nil, fmt.Errorf("rag needs the llm or evolve generator, not %s", gen.Name())
}

// usableBlock is the named library block if it builds and runs forward
// (validation level 2): only those can be built around.
func usableBlock(ctx context.Context, st store.RAG, name string) (store.RAGBlock, error) {
	b, err := rag.Get(ctx, st, name)
	if err != nil {
		return b, err
	}
	if b.Level < 2 {
		return b, fmt.Errorf("block %s reached validation level %d, not 2 (it does not build and run forward: %s); pick another (`nngpt rag list`)", b.Name, b.Level, b.Error)
	}
	return b, nil
}

// verdict runs the gate (static, dedup, and the dynamic check when
// configured) and writes the outcome into c.Verdict.
func verdict(ctx context.Context, gt *gate.Gate, dyn *runnerCheck, c *synth.Candidate) error {
	if dyn != nil {
		dyn.register(c)
	}
	v, err := gt.Check(ctx, gate.Candidate{Name: c.Name, Code: c.Code})
	if err != nil {
		return err
	}
	sv := fromGate(v)
	if dyn != nil && (v.Accepted() || v.Reason >= gate.ReasonBuild) {
		if r := dyn.result(c.Name); r != nil {
			sv = dyn.verdict(r)
		}
	}
	c.Verdict = sv
	return nil
}

// fromGate turns a gate verdict into a candidate verdict.
func fromGate(v gate.Verdict) synth.Verdict {
	switch {
	case v.Accepted():
		return synth.Verdict{Status: synth.StatusAccepted, Stage: "static"}
	case v.Reason.Duplicate():
		sv := synth.Verdict{Status: synth.StatusDuplicate, Stage: v.Reason.Stage(), Reason: v.Reason.String(), Message: v.Detail}
		if v.Duplicate != nil {
			sv.DuplicateOf = v.Duplicate.Name
		}
		return sv
	}
	return synth.Reject(v.Reason.Stage(), v.Reason.String(), v.Detail)
}

// ---------------------------------------------------------------- output

type generateOutput struct {
	g     *globals
	o     *generateOpts
	ws    string
	dyn   *runnerCheck
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
	if out.dyn != nil && out.dyn.train && c.Verdict.Accuracy != nil {
		ch := out.dyn.data.Chance()
		chance = &ch
		if *c.Verdict.Accuracy > 1.2*ch {
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
			if r := out.dyn.result(c.Name); r != nil {
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
		name = "(no code) " + short(c.ID, 12)
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
	if out.dyn != nil && out.dyn.train {
		line += fmt.Sprintf("; trained above 1.2 x chance: %d", out.above)
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

// runnerCheck is the gate's dynamic check through the sandboxed worker:
// build and one forward pass (the run is cancelled once the parameter
// count passed), or one full training epoch. It keeps each run's result so
// the candidate's verdict can carry the failing stage or the accuracy.
type runnerCheck struct {
	ex    *runner.Local
	data  *runner.Dataset
	train bool
	batch int
	max   int64
	dev   string
	seed  int64

	mu      sync.Mutex
	results map[string]*runner.Result
	hp      map[string]*synth.Candidate
}

// newRunnerCheck sets up the worker, or returns nil when dynamic checks
// are off (or "auto" finds no python with torch).
func newRunnerCheck(ctx context.Context, g *globals, o *generateOpts, cfg *config.Loaded) (*runnerCheck, error) {
	if o.dynamic == "off" {
		return nil, nil
	}
	pyPath := o.wf.python
	if pyPath == "" {
		pyPath = cfg.Python
	}
	py, _, err := runner.FindPython(ctx, runner.PythonOptions{Path: pyPath, CacheDir: o.wf.cache()})
	if err != nil {
		if o.dynamic == "auto" {
			fmt.Fprintf(g.stderr, "nngpt: no python with torch (%v): static gates only; `nngpt doctor` says more\n", err)
			return nil, nil
		}
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("--dynamic %s needs python with torch: %w", o.dynamic, err)}
	}
	if err := py.CheckDevice(cfg.Device); err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	sb, err := runner.NewSandbox(ctx, runner.SandboxMode(o.wf.sandbox))
	if err != nil {
		return nil, err
	}
	spec := runner.DatasetSpec{Name: cfg.Dataset, NTrain: o.nTrain, NTest: o.nTest, DataDir: o.wf.dataDir, Download: o.wf.download}
	if o.dynamic != "train" && spec.Name == "shapes" {
		// Build and forward only look at the shape of a batch.
		spec.NTrain, spec.NTest = 256, 64
	}
	if spec.Name == "shapes" {
		spec.Size = cfg.Data.Size
		if spec.NTrain == 0 {
			spec.NTrain = cfg.Data.Train
		}
		if spec.NTest == 0 {
			spec.NTest = cfg.Data.Test
		}
	}
	data, err := runner.Datasets{CacheDir: o.wf.cache(), Sandbox: sb}.Prepare(ctx, py, spec)
	if err != nil {
		if o.dynamic == "auto" && ctx.Err() == nil {
			fmt.Fprintf(g.stderr, "nngpt: dataset %s is not available for the worker checks (%v): static gates only\n", spec.Name, err)
			return nil, nil
		}
		return nil, err
	}
	threads := 0
	if o.workers > 1 {
		threads = max(1, runtime.NumCPU()/o.workers)
	}
	ex, err := runner.NewLocal(ctx, runner.LocalConfig{Python: py, Sandbox: sb, Slots: o.workers, Threads: threads, CacheDir: o.wf.cache()})
	if err != nil {
		return nil, err
	}
	if sb.Isolation != runner.IsolationBwrap && !o.asJSON {
		fmt.Fprintf(g.stderr, "nngpt: WARNING: candidates run without bubblewrap isolation (%s)\n", sb.Reason)
	}
	return &runnerCheck{ex: ex, data: data, train: o.dynamic == "train", batch: o.batch, max: o.maxParams, dev: cfg.Device,
		seed: cfg.Seed, results: map[string]*runner.Result{}, hp: map[string]*synth.Candidate{}}, nil
}

// register remembers the candidate behind a gate name, for its hp.
func (r *runnerCheck) register(c *synth.Candidate) {
	r.mu.Lock()
	r.hp[c.Name] = c
	r.mu.Unlock()
}

func (r *runnerCheck) result(name string) *runner.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[name]
}

// CheckDynamic implements gate.DynamicCheck.
func (r *runnerCheck) CheckDynamic(ctx context.Context, c gate.Candidate, _ *pyast.Analysis) (*gate.Rejection, error) {
	r.mu.Lock()
	cand := r.hp[c.Name]
	r.mu.Unlock()
	job := runner.Job{Name: c.Name, Code: c.Code, Data: r.data, Epochs: 1, Device: r.dev, Seed: r.seed, MaxParams: r.max, Batch: r.batch}
	if cand != nil {
		job.Prm = cand.HP.Without("batch")
		if b, ok := cand.HP.Float("batch"); ok && b >= 1 {
			job.Batch = int(b)
		}
		job.Transform = cand.Transform
	}
	run, err := r.ex.Submit(ctx, job)
	if err != nil {
		// The job itself is bad (a transform the worker does not know, ...).
		return &gate.Rejection{Reason: gate.ReasonDynamic, Detail: err.Error()}, nil
	}
	if !r.train {
		for ev := range run.Events() {
			if ev.Type == runner.EventStage && ev.Stage == runner.StageParams {
				run.Cancel() // build, forward and the size check passed: enough
			}
		}
	}
	res, err := run.Wait(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.results[c.Name] = res
	r.mu.Unlock()
	if res.OK || (!r.train && res.Failure != nil && res.Failure.Kind == runner.FailCanceled && stageReached(res.Reached, runner.StageParams)) {
		return nil, nil
	}
	f := res.Failure
	if f == nil {
		return &gate.Rejection{Reason: gate.ReasonDynamic, Detail: "the run did not finish"}, nil
	}
	reason := gate.ReasonDynamic
	switch f.Kind {
	case runner.FailSyntax, runner.FailImport, runner.FailContract, runner.FailPrm, runner.FailBuild:
		reason = gate.ReasonBuild
	case runner.FailForward, runner.FailShape:
		reason = gate.ReasonForward
	case runner.FailTooBig:
		reason = gate.ReasonTooManyParameters
	}
	return &gate.Rejection{Reason: reason, Detail: f.Error()}, nil
}

var stageOrder = []runner.Stage{runner.StageStart, runner.StageParse, runner.StageContract, runner.StageBuild, runner.StageForward,
	runner.StageParams, runner.StageTrain, runner.StageEval, runner.StageDone}

func stageReached(got, want runner.Stage) bool {
	gi, wi := -1, -1
	for i, s := range stageOrder {
		if s == got {
			gi = i
		}
		if s == want {
			wi = i
		}
	}
	return gi >= 0 && gi >= wi
}

// verdict turns a run into the candidate's verdict: the worker's stage and
// failure kind, or the accuracy after training.
func (r *runnerCheck) verdict(res *runner.Result) synth.Verdict {
	if res.OK {
		acc := res.Best()
		return synth.Verdict{Status: synth.StatusAccepted, Stage: string(runner.StageTrain), Accuracy: &acc,
			Message: fmt.Sprintf("%d params", res.Params)}
	}
	f := res.Failure
	if !r.train && f != nil && f.Kind == runner.FailCanceled && stageReached(res.Reached, runner.StageParams) {
		return synth.Verdict{Status: synth.StatusAccepted, Stage: string(runner.StageForward), Message: fmt.Sprintf("%d params", res.Params)}
	}
	if f == nil {
		return synth.Reject("dynamic", "dynamic", "the run did not finish")
	}
	msg := f.Message
	if tb := lastLines(f.Traceback, 2); tb != "" && !strings.Contains(msg, tb) {
		msg += " | " + tb
	}
	return synth.Reject(string(f.Stage), string(f.Kind), msg)
}
