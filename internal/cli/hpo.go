package cli

import (
	"cmp"
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
	"sync/atomic"
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
	device, llmURL, llmModel                     string
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

Samplers: tpe (Tree-structured Parzen Estimator, Optuna's defaults: 10 random
start-up trials, 24 expected-improvement candidates), random, oneshot (the
learned recommender proposes --warm configurations from what worked for
similar models in the workspace corpus, then TPE continues from them) and
llm (the HPGPT prompt to the LLM at --llm; its proposal opens, TPE follows).

Trials are recorded in the workspace: the study (its space, seed and every
trial) survives restarts and several 'nngpt hpo' processes can work on the
same --study at once; each finished epoch is also a LEMUR stat row of the
corpus. --trials counts the trials this invocation runs. --pruner median stops
a trial whose accuracy after an epoch is below the median of earlier trials at
that epoch; --pruner predictor asks the workspace's accuracy predictor
('nngpt predict train') whether the trial can still reach the top decile.

'nngpt hpo studies' lists the workspace's studies; 'nngpt hpo show STUDY'
prints one with every trial.`,
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
	fl.StringVar(&f.sampler, "sampler", "tpe", "tpe, random, oneshot or llm")
	fl.IntVar(&f.epochs, "epochs", 1, "training epochs per trial")
	fl.StringVar(&f.study, "study", "", "study name (default hpo-<model>-<dataset>); an existing study is resumed")
	fl.StringVar(&f.pruner, "pruner", "median", "median, predictor or none")
	fl.StringArrayVar(&f.space, "space", nil, "override a parameter: NAME=KIND:ARGS (repeatable)")
	fl.StringVar(&f.transforms, "transforms", strings.Join(hpo.DefaultTransforms, ","), "transforms to search (comma-separated LEMUR names)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of a new study (0: pick one and record it)")
	fl.IntVar(&f.workers, "workers", 1, "trials trained at once")
	fl.IntVar(&f.warm, "warm", 3, "one-shot proposals that open an oneshot or llm study")
	fl.Float64Var(&f.target, "target-accuracy", 0, "accuracy the HPGPT prompt asks for (llm sampler; 0: the highest)")
	fl.IntVar(&f.nTrain, "n-train", 0, "training images (shapes: generated count, default 5000; others: a seeded subset, 0: all)")
	fl.IntVar(&f.nTest, "n-test", 0, "test images (shapes default 1000; others: a seeded subset, 0: all)")
	fl.Int64Var(&f.maxParams, "max-params", lemur.DefaultMaxParams, "parameter limit of the model")
	addMachineFlags(cmd)
	fl.StringVar(&f.llmURL, "llm", os.Getenv("NNGPT_LLM_URL"), "OpenAI-compatible endpoint for --sampler llm (env NNGPT_LLM_URL)")
	fl.StringVar(&f.llmModel, "model", os.Getenv("NNGPT_LLM_MODEL"), "the LLM's model name (env NNGPT_LLM_MODEL)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object per event and the result as JSON")
	cmd.AddCommand(newHPOStudiesCmd(g), newHPOShowCmd(g))
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
	Note     string         `json:"note,omitempty"`
}

func dictMap(d lemur.Dict) map[string]any {
	m := make(map[string]any, len(d))
	for _, it := range d {
		m[it.Key] = it.Value
	}
	return m
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
	case "tpe", "random", "oneshot", "llm":
	default:
		return fmt.Errorf("--sampler %q: want tpe, random, oneshot or llm", f.sampler)
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

	// An interpreter that cannot train on the device fails before a study
	// exists to record the failure.
	cfg, err := config.Load(ws.Dir, cmd.Flags())
	if err != nil {
		return err
	}
	w, err := app.NewWorker(ctx, cfg, g.stderr)
	if err != nil {
		return err
	}
	f.device = w.Device
	studyName := f.study
	if studyName == "" {
		studyName = "hpo-" + m.name + "-" + f.dataset
	}
	seed := f.seed
	if seed == 0 {
		seed = rand.Uint64() >> 1
	}
	st, err := hpo.OpenStudy(ctx, hpo.StoreStorage{S: ws.Store}, hpo.StudyInfo{
		Name: studyName, Space: sp, Sampler: f.sampler, Seed: seed,
		Attrs: map[string]string{"model": m.name, "code_id": lemur.CodeID(m.code), "dataset": f.dataset, "epochs": fmt.Sprint(f.epochs)},
	})
	if err != nil {
		return err
	}
	if st.Info.Attrs["code_id"] != "" && st.Info.Attrs["code_id"] != lemur.CodeID(m.code) {
		return fmt.Errorf("study %s tuned other code (id %s); the file now has id %s: use another --study", studyName, st.Info.Attrs["code_id"], lemur.CodeID(m.code))
	}
	existing, err := st.Trials(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 && !f.asJSON {
		fmt.Fprintf(g.stderr, "resuming study %s: %d trials so far (sampler %s, seed %d)\n", studyName, len(existing), st.Info.Sampler, st.Info.Seed)
	}

	// Everything else that can fail fast does so before the worker starts.
	data, err := w.Dataset(ctx, runner.DatasetSpec{Name: f.dataset, DataDir: cfg.Data.Dir, Download: cfg.Data.Download, Seed: 1, NTrain: f.nTrain, NTest: f.nTest})
	if err != nil {
		return err
	}
	pipe := data.Pipeline(m.name)
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
	exec, err := w.Executor(ctx, app.ExecOptions{Slots: f.workers})
	if err != nil {
		return err
	}

	out := &hpoOutput{g: g, json: f.asJSON, epochs: f.epochs, total: f.trials}
	var left atomic.Int64
	left.Store(int64(f.trials))
	var wg sync.WaitGroup
	errs := make(chan error, f.workers)
	for range f.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if ctx.Err() != nil {
					return
				}
				if err := runHPOTrial(ctx, st, exec, pruner, data, pipe, m, f, ws.Store, out); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if ctx.Err() != nil {
		return &ExitError{Code: 130, Err: fmt.Errorf("interrupted; `nngpt hpo %s --study %s` resumes the study", path, studyName)}
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
		l, err := hpo.FitLearned(recs, hpo.LearnedOptions{})
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

func runHPOTrial(ctx context.Context, st *hpo.Study, exec runner.Executor, pruner hpo.Pruner, data *runner.Dataset,
	pipe lemur.Pipeline, m *hpoModel, f hpoFlags, s store.Store, out *hpoOutput) error {
	tr, err := st.Ask(ctx)
	if err != nil {
		return err
	}
	out.trial(tr)
	prm, batch, transform := lemur.SplitPrm(tr.Params)
	batch = cmp.Or(batch, 64)
	var mu sync.Mutex
	var pruneNote string
	job := runner.Job{
		Name: pipe.NN, Code: m.code, Data: data, Prm: prm, Batch: batch, Transform: transform, Epochs: f.epochs,
		Device: f.device, Seed: int64(st.Info.Seed%1_000_000) + int64(tr.Number), MaxParams: f.maxParams,
		OnEpoch: func(e runner.EpochResult) runner.Decision {
			mu.Lock()
			defer mu.Unlock()
			if err := st.Report(ctx, &tr, e.Epoch, e.Accuracy); err != nil {
				return runner.Continue
			}
			others, err := st.Trials(ctx)
			if err != nil {
				return runner.Continue
			}
			if stop, why := pruner.Prune(tr, others, st.Info.Direction); stop {
				pruneNote = pruner.Name() + ": " + why
				return runner.Stop
			}
			return runner.Continue
		},
	}
	run, err := exec.Submit(ctx, job)
	if err != nil {
		return st.Tell(context.WithoutCancel(ctx), &tr, hpo.Failed, math.NaN(), err.Error())
	}
	for ev := range run.Events() {
		if ev.Type == runner.EventEpoch && ev.Epoch != nil {
			out.epoch(tr.Number, ev.Epoch)
		}
	}
	res, err := run.Wait(ctx)
	// Finish the trial's bookkeeping even when ctx was canceled, so the
	// study does not keep a trial running forever.
	bg := context.WithoutCancel(ctx)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		tell := st.Tell(bg, &tr, hpo.Failed, math.NaN(), "not judged: "+err.Error())
		if ctx.Err() != nil {
			return nil
		}
		return errors.Join(err, tell)
	}
	tr.Intermediate = tr.Intermediate[:0]
	for _, e := range res.Epochs {
		tr.Intermediate = append(tr.Intermediate, hpo.Step{Step: e.Epoch, Value: e.Accuracy})
	}
	switch {
	case res.Failure != nil:
		err = st.Tell(bg, &tr, hpo.Failed, math.NaN(), res.Failure.Error())
	case res.Stopped && pruneNote != "":
		err = st.Tell(bg, &tr, hpo.Pruned, math.NaN(), pruneNote)
	default:
		err = st.Tell(bg, &tr, hpo.Complete, res.Best(), "")
	}
	if err != nil {
		return err
	}
	if err := corpus.Record(bg, s, "hpo", m.code, pipe, res); err != nil {
		return fmt.Errorf("record trial %d: %w", tr.Number, err)
	}
	out.done(tr)
	return nil
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
		}
		r := row{Study: st.Info.Name, Trials: len(ts), States: map[string]int{}}
		for s, n := range counts {
			r.States[string(s)] = n
		}
		if ok {
			v, n := best.Value, best.Number
			r.Best, r.Value, r.Number = dictMap(best.Params), &v, &n
		}
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
