package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/app"
	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/workspace"
)

type hpoFlags struct {
	dataset, sampler, study, pruner, transforms  string
	objectives                                   string
	llmURL, llmModel                             string
	space                                        []string
	trials, epochs, workers, warm, nTrain, nTest int
	seed                                         uint64
	maxParams                                    int64
	target                                       float64
	asJSON                                       bool
}

func newHPOCmd(g *globals) *cobra.Command {
	var f hpoFlags
	cmd := &cobra.Command{
		Use:   "hpo MODEL.py",
		Short: "Tune a model's hyperparameters: TPE, random search or a one-shot recommendation, trained for real",
		Long: `Search the hyperparameters of one LEMUR-contract model file by training it
in the sandboxed worker, trial after trial, and print the best configuration.

The search space is the model's supported_hyperparameters() plus batch and
transform, with LEMUR's ranges: lr log-uniform in [1e-5, 1], momentum and
other keys in [0, 1], dropout in [0, 0.5], batch a power of two in [1, 4096],
transform one of --transforms. --space NAME=KIND:ARGS replaces or adds a
parameter (kinds: float, log, int, logint, pow2, cat), e.g.
  --space batch=pow2:16:256 --space lr=log:1e-4:0.1 --space transform=cat:norm,echo

Samplers: tpe (multivariate Tree-structured Parzen Estimator: one joint
density over the parameters, 10 random start-up trials, 24
expected-improvement candidates), tpe-univariate (Optuna's classic TPE,
each parameter on its own), random, oneshot (the
learned recommender proposes --warm configurations from what worked for
similar models in the workspace corpus, then TPE continues from them) and
llm (the HPGPT prompt to the LLM at --llm; its proposal opens, TPE follows).

Trials are recorded in the workspace: the study (its space, seed and every
trial) survives restarts and several 'nngpt hpo' processes can work on the
same --study at once; each finished epoch is also a LEMUR stat row of the
corpus. --trials counts the trials this invocation runs. --pruner median stops
a trial whose accuracy after an epoch is below the median of earlier trials at
that epoch; --pruner predictor asks the workspace's accuracy predictor
('nngpt predict train') whether the trial can still reach the top decile;
--pruner asha is asynchronous successive halving (rungs at epochs 1, 3, 9,
...: a trial continues past a rung only in the top third there).

--workers N trains N trials at once; TPE samples each new trial with the
running ones counted as bad (the constant liar), so workers spread out.
--objectives acc,params (or acc,time, acc,params,time) maximises accuracy
while minimising the model's parameter count and/or training time: TPE
splits the trials by Pareto dominance (MOTPE) and 'hpo show' prints the
Pareto front. A study records its data (the full set, or the subset's size
and seed) and refuses to resume on other data.

'nngpt hpo studies' lists the workspace's studies; 'nngpt hpo show STUDY'
prints one with every trial (and a multi-objective study's Pareto front);
'nngpt hpo report STUDY' plots it.`,
		Example: `  nngpt hpo mynet.py --dataset shapes --trials 20
  nngpt hpo mynet.py --sampler oneshot --trials 8 --epochs 2 --study mynet-tune
  nngpt hpo mynet.py --sampler llm --llm http://localhost:11434/v1 --model qwen2.5-coder:7b
  nngpt hpo studies
  nngpt hpo show mynet-tune`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHPO(cmd.Context(), g, cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataset, "dataset", "shapes", "dataset: shapes, cifar-10, cifar-100, mnist, fashion-mnist, svhn")
	fl.IntVar(&f.trials, "trials", 20, "trials to run in this invocation")
	fl.StringVar(&f.sampler, "sampler", "tpe", "tpe (multivariate), tpe-univariate, random, oneshot or llm")
	fl.StringVar(&f.objectives, "objectives", "acc", "what to optimise: acc, or acc with params and/or time (e.g. acc,params): a multi-objective study with a Pareto front")
	fl.IntVar(&f.epochs, "epochs", 1, "training epochs per trial")
	fl.StringVar(&f.study, "study", "", "study name (default hpo-<model>-<dataset>); an existing study is resumed")
	fl.StringVar(&f.pruner, "pruner", "median", "median, asha, predictor or none")
	fl.StringArrayVar(&f.space, "space", nil, "override a parameter: NAME=KIND:ARGS (repeatable)")
	fl.StringVar(&f.transforms, "transforms", strings.Join(hpo.DefaultTransforms, ","), "transforms to search (comma-separated LEMUR names)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of a new study (0: pick one and record it)")
	fl.IntVar(&f.workers, "workers", 1, "trials trained at once (each sampled with the running ones taken into account)")
	fl.IntVar(&f.warm, "warm", 3, "one-shot proposals that open an oneshot or llm study")
	fl.Float64Var(&f.target, "target-accuracy", 0, "accuracy the HPGPT prompt asks for (llm sampler; 0: the highest)")
	fl.IntVar(&f.nTrain, "n-train", 0, "training images (shapes: generated count, default 5000; others: a seeded subset, 0: all)")
	fl.IntVar(&f.nTest, "n-test", 0, "test images (shapes default 1000; others: a seeded subset, 0: all)")
	fl.Int64Var(&f.maxParams, "max-params", lemur.DefaultMaxParams, "parameter limit of the model")
	addMachineFlags(cmd)
	fl.StringVar(&f.llmURL, "llm", os.Getenv("NNGPT_LLM_URL"), "OpenAI-compatible endpoint for --sampler llm (env NNGPT_LLM_URL)")
	fl.StringVar(&f.llmModel, "model", os.Getenv("NNGPT_LLM_MODEL"), "the LLM's model name (env NNGPT_LLM_MODEL)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object per event and the result as JSON")
	cmd.AddCommand(newHPOStudiesCmd(g), newHPOShowCmd(g), newHPOReportCmd(g))
	return cmd
}

// hpoModel is the model file being tuned.
type hpoModel struct {
	name, code string
	supported  []string
}

func readHPOModel(path string) (*hpoModel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the model: %w", err)
	}
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	// LEMUR model names hold no '_' (it separates the parts of a stat folder).
	name := strings.ReplaceAll(stem, "_", "-")
	if name == "" {
		return nil, fmt.Errorf("%s: the file name gives no model name", path)
	}
	a := pyast.Analyze(b)
	if len(a.Syntax) > 0 {
		return nil, fmt.Errorf("%s: line %d: %s: fix the syntax first", path, a.Syntax[0].Line, a.Syntax[0].Msg)
	}
	c := a.Contract
	if c.NetLine == 0 {
		return nil, fmt.Errorf("%s has no class Net: not a LEMUR-contract model (see nngpt check)", path)
	}
	if c.SupportedLine == 0 {
		return nil, fmt.Errorf("%s has no supported_hyperparameters(): add one returning the keys the model reads, e.g. {'lr', 'momentum'}", path)
	}
	if c.Supported == nil {
		return nil, fmt.Errorf("%s: supported_hyperparameters() does not return a literal set, so its keys are unknown: return a literal such as {'lr', 'momentum'}", path)
	}
	return &hpoModel{name: name, code: string(b), supported: c.Supported}, nil
}

// hpoEvent is one line of --json output.
type hpoEvent struct {
	Event    string         `json:"event"` // trial, epoch, done
	Trial    int            `json:"trial"`
	Source   string         `json:"source,omitempty"`
	Params   map[string]any `json:"params,omitempty"`
	Epoch    int            `json:"epoch,omitempty"`
	Accuracy *float64       `json:"accuracy,omitempty"`
	State    string         `json:"state,omitempty"`
	Value    *float64       `json:"value,omitempty"`
	Values   []float64      `json:"values,omitempty"`
	Note     string         `json:"note,omitempty"`
}

func dictMap(d lemur.Dict) map[string]any {
	m := make(map[string]any, len(d))
	for _, it := range d {
		m[it.Key] = it.Value
	}
	return m
}

// hpoEnv is what trains a study's trials: the interpreter, the sandbox,
// the prepared dataset and the executor.
type hpoEnv struct {
	py     *runner.Python
	device string
	data   *runner.Dataset
	exec   runner.Executor
}

// newHPOEnv builds the training side of `nngpt hpo` from its flags (the
// composition package will build it from settings instead). An
// interpreter that cannot train on the device fails before a study exists
// to record the failure.
func newHPOEnv(ctx context.Context, g *globals, cmd *cobra.Command, f hpoFlags, ws *workspace.Workspace) (*hpoEnv, error) {
	cfg, err := config.Load(ws.Dir, cmd.Flags())
	if err != nil {
		return nil, err
	}
	w, err := app.NewWorker(ctx, cfg, g.stderr)
	if err != nil {
		return nil, err
	}
	data, err := w.Dataset(ctx, runner.DatasetSpec{Name: f.dataset, DataDir: cfg.Data.Dir, Download: cfg.Data.Download, Seed: hpoDataSeed, NTrain: f.nTrain, NTest: f.nTest})
	if err != nil {
		return nil, err
	}
	exec, err := w.Executor(ctx, app.ExecOptions{Slots: f.workers})
	if err != nil {
		return nil, err
	}
	return &hpoEnv{py: w.Python, device: w.Device, data: data, exec: exec}, nil
}

// hpoDataSeed seeds shapes' generator and the subset of a real dataset.
const hpoDataSeed = 1

// hpoDataAttr describes the data a study trains on; a study refuses to
// resume on other data (hpo.PinnedAttrs).
func hpoDataAttr(f hpoFlags, d *runner.Dataset) string {
	kind := "subset"
	if f.dataset != "shapes" && f.nTrain == 0 && f.nTest == 0 {
		kind = "full set"
	}
	return fmt.Sprintf("%s: %d train + %d test images, seed %d", kind, d.NTrain, d.NTest, hpoDataSeed)
}

// hpoObjectives parses --objectives: acc alone is the single accuracy
// objective; more make the study multi-objective.
func hpoObjectives(s string) ([]hpo.Objective, error) {
	var out []hpo.Objective
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		var dir hpo.Direction
		switch name {
		case "acc":
			dir = hpo.Maximize
		case "params", "time":
			dir = hpo.Minimize
		default:
			return nil, fmt.Errorf("--objectives %q: %q is not an objective (want acc, params or time, comma-separated, acc first)", s, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("--objectives %q: %s is listed twice", s, name)
		}
		seen[name] = true
		out = append(out, hpo.Objective{Name: name, Direction: dir})
	}
	if out[0].Name != "acc" {
		return nil, fmt.Errorf("--objectives %q: acc comes first (the pruners and one-shot recommenders work on accuracy)", s)
	}
	if len(out) == 1 {
		return nil, nil
	}
	return out, nil
}

func runHPO(ctx context.Context, g *globals, cmd *cobra.Command, path string, f hpoFlags) error {
	if f.trials < 1 {
		return fmt.Errorf("--trials %d: want at least 1", f.trials)
	}
	if f.epochs < 1 {
		return fmt.Errorf("--epochs %d: want at least 1", f.epochs)
	}
	if f.workers < 1 {
		return fmt.Errorf("--workers %d: want at least 1", f.workers)
	}
	switch f.sampler {
	case "tpe", "tpe-univariate", "random", "oneshot", "llm":
	default:
		return fmt.Errorf("--sampler %q: want tpe, tpe-univariate, random, oneshot or llm", f.sampler)
	}
	objectives, err := hpoObjectives(f.objectives)
	if err != nil {
		return err
	}
	m, err := readHPOModel(path)
	if err != nil {
		return err
	}
	var overrides []hpo.Param
	for _, s := range f.space {
		p, err := hpo.ParseParam(s)
		if err != nil {
			return fmt.Errorf("--space: %w", err)
		}
		overrides = append(overrides, p)
	}
	var transforms []string
	for _, t := range strings.Split(f.transforms, ",") {
		if t = strings.TrimSpace(t); t != "" {
			transforms = append(transforms, t)
		}
	}
	sp, err := hpo.LEMURSpace(m.supported, transforms, overrides...)
	if err != nil {
		return fmt.Errorf("search space: %w", err)
	}
	ws, err := g.openWorkspace(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	// Everything that can fail fast does so before the study is recorded.
	env, err := newHPOEnv(ctx, g, cmd, f, ws)
	if err != nil {
		return err
	}
	studyName := f.study
	if studyName == "" {
		studyName = "hpo-" + m.name + "-" + f.dataset
	}
	seed := f.seed
	if seed == 0 {
		seed = rand.Uint64() >> 1
	}
	st, err := hpo.OpenStudy(ctx, hpo.StoreStorage{S: ws.Store}, hpo.StudyInfo{
		Name: studyName, Space: sp, Sampler: f.sampler, Seed: seed, Objectives: objectives,
		Attrs: map[string]string{"model": m.name, "code_id": lemur.CodeID(m.code), "dataset": f.dataset, "epochs": fmt.Sprint(f.epochs),
			"data": hpoDataAttr(f, env.data)},
	})
	if err != nil {
		return err
	}
	existing, err := st.Trials(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 && !f.asJSON {
		fmt.Fprintf(g.stderr, "resuming study %s: %d trials so far (sampler %s, seed %d)\n", studyName, len(existing), st.Info.Sampler, st.Info.Seed)
	}
	pipe := env.data.Pipeline(m.name)
	name, err := hpoModelName(ctx, ws.Store, m)
	if err != nil {
		return err
	}
	pipe.NN = name
	pruner, err := newHPOPruner(ctx, g, cmd, f.pruner, ws, pipe, f.epochs)
	if err != nil {
		return err
	}
	if len(existing) == 0 && (f.sampler == "oneshot" || f.sampler == "llm") {
		if err := enqueueOneShot(ctx, g, f, st, ws.Store, pipe, m); err != nil {
			return err
		}
	}
	out := &hpoOutput{g: g, json: f.asJSON, epochs: f.epochs, total: f.trials}
	tr := &hpoTrainer{exec: env.exec, data: env.data, device: env.device, pipe: pipe, code: m.code, f: f, seed: st.Info.Seed, objectives: st.Info.Objectives, out: out}
	err = st.Optimize(ctx, tr, hpo.OptimizeOptions{
		Trials: f.trials, Workers: f.workers, Pruner: pruner, OnStart: out.trial, OnFinish: out.done,
		AfterTrial: func(ctx context.Context, t hpo.Trial, r hpo.TrialResult) error {
			res := tr.result(t.Number)
			if res == nil {
				return nil
			}
			return corpus.Record(ctx, ws.Store, "hpo", m.code, pipe, res)
		},
	})
	if ctx.Err() != nil {
		return &ExitError{Code: 130, Err: fmt.Errorf("interrupted; `nngpt hpo %s --study %s` resumes the study", path, studyName)}
	}
	if err != nil {
		return err
	}
	return printHPOResult(ctx, g, st, f.asJSON)
}

// hpoModelName is the corpus name of the tuned model: its file stem, or,
// when another model already holds that name, <stem>-<code md5> as LEMUR
// names generated models (corpus.Record stores the code under it).
func hpoModelName(ctx context.Context, s store.Store, m *hpoModel) (string, error) {
	old, ok, err := s.Code(ctx, store.KindNN, m.name)
	if err != nil {
		return "", err
	}
	if ok && old.Code != m.code {
		return lemur.ModelName(m.name, m.code), nil
	}
	return m.name, nil
}

func enqueueOneShot(ctx context.Context, g *globals, f hpoFlags, st *hpo.Study, s store.Store, pipe lemur.Pipeline, m *hpoModel) error {
	q := hpo.Query{Task: pipe.Task, Dataset: pipe.Dataset, Metric: pipe.Metric, Model: m.name, Code: m.code, Epochs: f.epochs, TargetAccuracy: f.target}
	var rec hpo.Recommender
	k := max(1, min(f.warm, f.trials))
	switch f.sampler {
	case "oneshot":
		var recs []lemur.Record
		for r, err := range s.Stats(ctx, store.Filter{}) {
			if err != nil {
				return fmt.Errorf("read the corpus: %w", err)
			}
			recs = append(recs, r)
		}
		// The corpus's model code makes the recommender code-aware.
		codes := map[string]string{}
		for c, err := range s.Codes(ctx, store.KindNN, "") {
			if err != nil {
				return fmt.Errorf("read the corpus's model code: %w", err)
			}
			codes[c.Name] = c.Code
		}
		l, err := hpo.FitLearned(recs, hpo.LearnedOptions{Codes: codes})
		if err != nil {
			return fmt.Errorf("learned recommender: %w (import LEMUR statistics first: nngpt lemur import PATH)", err)
		}
		rec = l
	case "llm":
		if f.llmURL == "" || f.llmModel == "" {
			return errors.New("--sampler llm needs --llm URL and --model NAME (or NNGPT_LLM_URL and NNGPT_LLM_MODEL)")
		}
		cfg := llm.DefaultConfig()
		cfg.BaseURL, cfg.Model = f.llmURL, f.llmModel
		c, err := llm.New(cfg)
		if err != nil {
			return err
		}
		rec = &hpo.LLMRecommender{Client: c}
	}
	cfgs, err := rec.Recommend(ctx, q, st.Info.Space, k)
	if err != nil {
		return fmt.Errorf("%s recommender: %w", rec.Name(), err)
	}
	for _, c := range cfgs {
		if _, err := st.Enqueue(ctx, c, rec.Name()); err != nil {
			return err
		}
		if !f.asJSON {
			fmt.Fprintf(g.stderr, "%s proposes %s\n", rec.Name(), lemur.Repr(c))
		}
	}
	return nil
}

// predictorPruner adapts the accuracy predictor's pruner to hpo.Pruner.
type predictorPruner struct {
	ctx    context.Context
	p      *predict.Pruner
	pipe   lemur.Pipeline
	epochs int
}

func (p *predictorPruner) Name() string { return "predictor" }

func (p *predictorPruner) Prune(t hpo.Trial, _ []hpo.Trial, _ hpo.Direction) (bool, string) {
	acc := make([]float64, len(t.Intermediate))
	for i, s := range t.Intermediate {
		acc[i] = s.Value
	}
	d, err := p.p.Decide(p.ctx, predict.RunState{Task: p.pipe.Task, Dataset: p.pipe.Dataset, Metric: p.pipe.Metric, NN: p.pipe.NN,
		Prm: t.Params, Acc: acc, MaxEpoch: p.epochs})
	if err != nil {
		return false, ""
	}
	return d.Stop, d.Reason
}

func newHPOPruner(ctx context.Context, g *globals, cmd *cobra.Command, name string, ws *workspace.Workspace, pipe lemur.Pipeline, epochs int) (hpo.Pruner, error) {
	if name != "predictor" {
		return hpo.NewPruner(name)
	}
	m, _, err := loadPredictor(g, cmd, "")
	if err != nil {
		return nil, fmt.Errorf("--pruner predictor: %w", err)
	}
	board, err := predict.BoardFromRecords(ws.Store.Stats(ctx, store.Filter{Task: pipe.Task, Dataset: pipe.Dataset}))
	if err != nil {
		return nil, err
	}
	p, err := predict.NewPruner(m, predict.DefaultPolicy(), board)
	if err != nil {
		return nil, err
	}
	return &predictorPruner{ctx: ctx, p: p, pipe: pipe, epochs: epochs}, nil
}

// hpoTrainer is the CLI's hpo.TrialRunner: one trial is one training
// run of the model in the sandboxed worker through the executor.
type hpoTrainer struct {
	exec       runner.Executor
	data       *runner.Dataset
	device     string
	pipe       lemur.Pipeline
	code       string
	f          hpoFlags
	seed       uint64
	objectives []hpo.Objective
	out        *hpoOutput

	mu      sync.Mutex
	results map[int]*runner.Result // for AfterTrial to record
}

// result hands over (and forgets) a trial's training result.
func (h *hpoTrainer) result(n int) *runner.Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.results[n]
	delete(h.results, n)
	return r
}

// RunTrial implements hpo.TrialRunner.
func (h *hpoTrainer) RunTrial(ctx context.Context, t hpo.Trial, report func(step int, value float64) bool) (hpo.TrialResult, error) {
	prm := t.Params.Without("batch", "transform")
	batch := 64
	if v, ok := t.Params.Float("batch"); ok {
		batch = int(v)
	}
	transform, _ := t.Params.String("transform")
	job := runner.Job{
		Name: h.pipe.NN, Code: h.code, Data: h.data, Prm: prm, Batch: batch, Transform: transform, Epochs: h.f.epochs,
		Device: h.device, Seed: int64(h.seed%1_000_000) + int64(t.Number), MaxParams: h.f.maxParams,
		OnEpoch: func(e runner.EpochResult) runner.Decision {
			if report(e.Epoch, e.Accuracy) {
				return runner.Stop
			}
			return runner.Continue
		},
	}
	run, err := h.exec.Submit(ctx, job)
	if err != nil {
		return hpo.TrialResult{Failure: err.Error()}, nil
	}
	for ev := range run.Events() {
		if ev.Type == runner.EventEpoch && ev.Epoch != nil {
			h.out.epoch(t.Number, ev.Epoch)
		}
	}
	res, err := run.Wait(ctx)
	if err != nil {
		return hpo.TrialResult{}, err
	}
	h.mu.Lock()
	if h.results == nil {
		h.results = map[int]*runner.Result{}
	}
	h.results[t.Number] = res
	h.mu.Unlock()
	out := hpo.TrialResult{Steps: []hpo.Step{}, Stopped: res.Stopped, Value: res.Best()}
	for _, e := range res.Epochs {
		out.Steps = append(out.Steps, hpo.Step{Step: e.Epoch, Value: e.Accuracy})
	}
	if res.Failure != nil {
		out.Failure = res.Failure.Error()
		return out, nil
	}
	if len(h.objectives) > 1 {
		out.Values = trialObjectives(h.objectives, res)
	}
	return out, nil
}

// trialObjectives are a run's values of --objectives: acc is the best
// epoch's accuracy, params the model's parameter count, time the seconds
// of training and evaluation.
func trialObjectives(objs []hpo.Objective, res *runner.Result) []float64 {
	out := make([]float64, len(objs))
	for i, o := range objs {
		switch o.Name {
		case "acc":
			out[i] = res.Best()
		case "params":
			out[i] = float64(res.Params)
		case "time":
			if n := len(res.Epochs); n > 0 {
				out[i] = float64(res.Epochs[n-1].Duration) / 1e9
			}
		}
	}
	return out
}

// hpoOutput prints live progress: a line per trial start, epoch and end,
// or one JSON object per event.
type hpoOutput struct {
	g      *globals
	json   bool
	epochs int
	total  int
	mu     sync.Mutex
	n      int
}

func (o *hpoOutput) emit(ev hpoEvent) {
	b, _ := json.Marshal(ev)
	fmt.Fprintln(o.g.stdout, string(b))
}

func (o *hpoOutput) trial(t hpo.Trial) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	if o.json {
		o.emit(hpoEvent{Event: "trial", Trial: t.Number, Source: t.Source, Params: dictMap(t.Params)})
		return
	}
	fmt.Fprintf(o.g.stderr, "[%d/%d] trial %d (%s): %s\n", o.n, o.total, t.Number, t.Source, fmtParams(t.Params))
}

func (o *hpoOutput) epoch(n int, e *runner.EpochResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.json {
		acc := e.Accuracy
		o.emit(hpoEvent{Event: "epoch", Trial: n, Epoch: e.Epoch, Accuracy: &acc})
		return
	}
	fmt.Fprintf(o.g.stderr, "        trial %d epoch %d/%d: accuracy %.4f (%.1fs)\n", n, e.Epoch, o.epochs, e.Accuracy, float64(e.Duration)/1e9)
}

func (o *hpoOutput) done(t hpo.Trial) {
	if len(t.Values) > 1 && t.State == hpo.Complete {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.json {
			o.emit(hpoEvent{Event: "done", Trial: t.Number, State: string(t.State), Value: &t.Value, Values: t.Values})
			return
		}
		fmt.Fprintf(o.g.stderr, "        trial %d complete: objectives %s\n", t.Number, fmtValues(t.Values))
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var v *float64
	if !math.IsNaN(t.Value) && t.State != hpo.Failed {
		x := t.Value
		v = &x
	}
	if o.json {
		o.emit(hpoEvent{Event: "done", Trial: t.Number, State: string(t.State), Value: v, Note: t.Note})
		return
	}
	switch t.State {
	case hpo.Complete:
		fmt.Fprintf(o.g.stderr, "        trial %d complete: accuracy %.4f\n", t.Number, t.Value)
	default:
		fmt.Fprintf(o.g.stderr, "        trial %d %s: %s\n", t.Number, t.State, t.Note)
	}
}

func fmtValues(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.4g", v)
	}
	return strings.Join(parts, ", ")
}

func fmtParams(d lemur.Dict) string {
	parts := make([]string, 0, len(d))
	for _, it := range d {
		v := lemur.Repr(it.Value)
		if f, ok := it.Value.(float64); ok {
			v = fmt.Sprintf("%.4g", f)
		}
		if s, ok := it.Value.(string); ok {
			v = s
		}
		parts = append(parts, it.Key+"="+v)
	}
	return strings.Join(parts, " ")
}

func printHPOResult(ctx context.Context, g *globals, st *hpo.Study, asJSON bool) error {
	ts, err := st.Trials(ctx)
	if err != nil {
		return err
	}
	best, ok, _ := hpo.BestOf(ts, st.Info.Direction)
	counts := map[hpo.State]int{}
	for _, t := range ts {
		counts[t.State]++
	}
	if asJSON {
		type row struct {
			Study  string         `json:"study"`
			Trials int            `json:"trials"`
			States map[string]int `json:"states"`
			Best   map[string]any `json:"best_params,omitempty"`
			Value  *float64       `json:"best_accuracy,omitempty"`
			Number *int           `json:"best_trial,omitempty"`
			Pareto []paretoRow    `json:"pareto,omitempty"`
		}
		r := row{Study: st.Info.Name, Trials: len(ts), States: map[string]int{}}
		for s, n := range counts {
			r.States[string(s)] = n
		}
		if ok {
			v, n := best.Value, best.Number
			r.Best, r.Value, r.Number = dictMap(best.Params), &v, &n
		}
		r.Pareto = paretoRows(st.Info, ts)
		b, _ := json.Marshal(map[string]any{"event": "result", "result": r})
		fmt.Fprintln(g.stdout, string(b))
	} else {
		w := g.stdout
		fmt.Fprintf(w, "study %s: %d trials (%d complete, %d pruned, %d failed)\n", st.Info.Name, len(ts), counts[hpo.Complete], counts[hpo.Pruned], counts[hpo.Failed])
		top := make([]hpo.Trial, 0, len(ts))
		for _, t := range ts {
			if t.State == hpo.Complete {
				top = append(top, t)
			}
		}
		sort.SliceStable(top, func(i, j int) bool { return top[i].Value > top[j].Value })
		if len(top) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "trial\taccuracy\tsource\tparams")
			for _, t := range top[:min(5, len(top))] {
				fmt.Fprintf(tw, "%d\t%.4f\t%s\t%s\n", t.Number, t.Value, t.Source, fmtParams(t.Params))
			}
			tw.Flush()
		}
		writePareto(w, st.Info, ts)
		if ok {
			j, _ := lemur.EncodeJSON(best.Params, 0, false)
			fmt.Fprintf(w, "best: trial %d, accuracy %.4f\n%s\n", best.Number, best.Value, j)
		}
	}
	if !ok {
		reason := "no trial completed"
		for i := len(ts) - 1; i >= 0; i-- {
			if ts[i].State == hpo.Failed && ts[i].Note != "" {
				reason += "; the last failure: " + ts[i].Note
				break
			}
		}
		return errors.New(reason)
	}
	return nil
}
