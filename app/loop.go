package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/finetune"
	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/predict"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/evolve"
	"github.com/nngpt/nngpt/workspace"
)

// Loop is a closed loop ready to run: the plan (which loop, with which
// settings) and the engine built from exactly those settings.
type Loop struct {
	Plan   loop.Plan
	Engine *loop.Engine
	Worker *Worker
	Data   *runner.Dataset
}

// Bar is the accuracy a candidate must beat to join the corpus.
func (l *Loop) Bar() float64 { return l.Plan.Settings.Admit * l.Data.Chance() }

// OpenLoop resolves the loop to run before it builds anything, then builds
// every part from that loop's settings: a resumed loop from the settings it
// was started with (a value the user gave that contradicts them is
// refused), a new one from cfg. notice receives warnings and what the hooks
// report.
func OpenLoop(ctx context.Context, ws *workspace.Workspace, cfg *config.Loaded, sel loop.Selection, notice io.Writer) (*Loop, error) {
	plan, err := loop.Resolve(ctx, ws.Store, sel, cfg.Settings)
	if err != nil {
		return nil, err
	}
	if plan.Resumed {
		if plan.Settings, err = cfg.ForLoop(plan.Loop.ID, plan.Settings); err != nil {
			return nil, err
		}
	}
	s := plan.Settings
	w, err := NewWorker(ctx, cfg, notice)
	if err != nil {
		return nil, err
	}
	data, err := w.Dataset(ctx, LoopDataset(s))
	if err != nil {
		return nil, err
	}
	exec, err := w.Executor(ctx, ExecOptions{Slots: cfg.Workers})
	if err != nil {
		return nil, err
	}
	gt, _, err := OpenGate(ctx, ws.Store, s, nil)
	if err != nil {
		return nil, err
	}
	gen, err := Generator(ctx, ws, s, gt)
	if err != nil {
		return nil, err
	}
	eng := &loop.Engine{
		Store: ws.Store, Exec: exec, Data: data, Device: w.Device,
		Gate:  gate.SynthChecker{Gate: gt},
		Repro: w.Repro(data),
	}
	if eng.HP, err = hpSource(ws.Store, s); err != nil {
		return nil, err
	}
	// The pruner and the screener rank against one board of the corpus's
	// runs, read once and only when a predictor needs it.
	board := sync.OnceValues(func() (*predict.Board, error) { return predict.OpenBoard(ctx, ws.Store) })
	if eng.Pruner, err = loopPruner(ws, s, data, board, notice); err != nil {
		return nil, err
	}
	if eng.Screener, err = loopScreener(ws, s, data, board, plan.Loop.Seed); err != nil {
		return nil, err
	}
	if ev, ok := gen.(*evolve.Generator); ok && s.Evolve.Learn {
		eng.Hooks = append(eng.Hooks, evolve.Learner{Gen: ev, Journal: ws.Store})
	}
	if s.Finetune.Export || s.Finetune.Command != "" {
		sw := &modelSwitch{gen: gen}
		eng.Hooks = append(eng.Hooks, fineTuning(ws, s, gt, sw, notice))
		gen = sw
	}
	eng.Generator = gen
	return &Loop{Plan: plan, Engine: eng, Worker: w, Data: data}, nil
}

// hpSource is the recommender chain of the recommender setting.
func hpSource(st store.Store, s loop.Settings) (loop.HPSource, error) {
	src := &hpo.CorpusSource{Store: st, Task: s.Task, Dataset: s.Dataset, Metric: s.Metric, Epochs: s.Epochs}
	if s.Recommender == "llm" {
		c, err := llm.New(LLMConfig(s))
		if err != nil {
			return nil, err
		}
		src.First = &hpo.LLMRecommender{Client: c}
	}
	return src, nil
}

// loopPruner is the early stopping of the workspace's predictor, or nil
// when early stopping is off, cannot act (too few epochs) or has no
// predictor yet.
func loopPruner(ws *workspace.Workspace, s loop.Settings, data *runner.Dataset, board func() (*predict.Board, error), notice io.Writer) (loop.Pruner, error) {
	if !s.EarlyStop.Enabled || s.Epochs <= s.EarlyStop.AfterEpoch {
		return nil, nil
	}
	pol := predict.DefaultPolicy()
	pol.After = s.EarlyStop.AfterEpoch
	pol.Admission = s.Admit * data.Chance()
	p, err := predict.LoadPruner(ws.Dir, pol, board)
	if errors.Is(err, predict.ErrNoPredictor) {
		fmt.Fprintln(notice, "nngpt: early stopping is off: no predictor in this workspace (`nngpt predict train` fits one)")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return predict.NewLoopPruner(p, s.Epochs), nil
}

// loopScreener is the screening of the workspace's zero-shot predictor, or
// nil when screening is off or no such predictor was fitted.
func loopScreener(ws *workspace.Workspace, s loop.Settings, data *runner.Dataset, board func() (*predict.Board, error), seed int64) (loop.Screener, error) {
	if !s.Screen.Enabled {
		return nil, nil
	}
	pol := predict.DefaultScreenPolicy()
	pol.Admission, pol.Explore, pol.Seed = s.Admit*data.Chance(), s.Screen.Explore, uint64(seed)
	sc, err := predict.LoadScreener(ws.Dir, pol, board)
	if errors.Is(err, predict.ErrNoZeroShot) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return predict.NewLoopScreener(sc, s.Epochs), nil
}

// fineTuning is the fine-tune hook; the model its command names generates
// next (through sw), when the generator is an LLM.
func fineTuning(ws *workspace.Workspace, s loop.Settings, gt *gate.Gate, sw *modelSwitch, notice io.Writer) *finetune.Hook {
	h := &finetune.Hook{
		Corpus: ws.Store,
		Config: func(l store.Loop) finetune.Config {
			return finetune.Config{Command: s.Finetune.Command, Dir: ws.Path("finetune", l.ID),
				Export: finetune.Options{Task: s.Task, Dataset: s.Dataset, Metric: s.Metric, Seed: l.Seed,
					Shots: s.LLM.Shots, MaxParams: s.MaxParams}}
		},
		Model:  s.LLM.Model,
		Notify: func(msg string) { fmt.Fprintln(notice, "nngpt:", msg) },
	}
	if s.GeneratorName() == "llm" {
		sw.build = func(model string) (synth.Generator, error) {
			next := s
			next.LLM.Model = model
			return Generator(context.Background(), ws, next, gt)
		}
		h.Use = func(model string, from int) error {
			if err := sw.use(model); err != nil {
				return err
			}
			fmt.Fprintf(notice, "nngpt: generating with %s from cycle %d on\n", model, from)
			return nil
		}
	}
	return h
}
