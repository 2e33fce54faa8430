package app

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/rag"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/evolve"
	"github.com/nngpt/nngpt/synth/llmgen"
	"github.com/nngpt/nngpt/workspace"
)

// OpenGate is the gate over the workspace's dedup index with the loop's
// parameter limit; dynamic runs the worker's checks (nil: static only).
func OpenGate(ctx context.Context, st store.Store, s loop.Settings, dynamic gate.DynamicCheck) (*gate.Gate, gate.LoadStats, error) {
	cfg := gate.DefaultConfig()
	cfg.MaxParams = float64(s.MaxParams)
	return gate.Open(ctx, st, cfg, dynamic)
}

// Generator makes the configured generator over the workspace, with the
// library blocks of the rag setting.
func Generator(ctx context.Context, ws *workspace.Workspace, s loop.Settings, gt *gate.Gate) (synth.Generator, error) {
	var gen synth.Generator
	switch s.GeneratorName() {
	case "evolve":
		gen = evolveGenerator(ws.Store, gt)
	case "llm":
		client, err := llm.New(LLMConfig(s))
		if err != nil {
			return nil, err
		}
		if gen, err = llmGenerator(ws, s, client, gt); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("generator %q: want evolve or llm", s.GeneratorName())
	}
	return useBlocks(ctx, ws.Store, s, gen)
}

func evolveGenerator(st store.Store, gt *gate.Gate) *evolve.Generator {
	return &evolve.Generator{
		Source: evolve.SourceFunc(func(ctx context.Context, req synth.Request) ([]evolve.Parent, error) {
			models, err := corpus.Models(ctx, st, req.Task, req.Dataset, req.Metric)
			if err != nil {
				return nil, err
			}
			out := make([]evolve.Parent, len(models))
			for i, m := range models {
				hp, batch, tr := lemur.SplitPrm(m.Prm)
				out[i] = evolve.Parent{Name: m.Name, Code: m.Code, Accuracy: m.Accuracy, HP: lemur.JoinPrm(hp, batch, ""), Transform: tr}
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
	}
}

// llmGenerator is the LLM generator over the workspace's prompts and corpus;
// client may be nil for a prompt preview.
func llmGenerator(ws *workspace.Workspace, s loop.Settings, client llm.Client, gt *gate.Gate) (*llmgen.Generator, error) {
	set, err := prompt.LoadWorkspace(ws.Dir)
	if err != nil {
		return nil, err
	}
	sel, err := prompt.ParseStrategy(s.LLM.Selection)
	if err != nil {
		return nil, fmt.Errorf("llm.selection: %w", err)
	}
	repairs := s.LLM.Repairs
	if repairs == 0 {
		repairs = -1 // llmgen reads 0 as its default; the setting's 0 means none
	}
	g := &llmgen.Generator{
		Client: client, Prompts: set, Selection: sel, MaxRepairs: repairs,
		Task: prompt.Task{MaxParams: s.MaxParams},
		Examples: llmgen.CorpusExamples(func(ctx context.Context, task, dataset, metric string) ([]prompt.Model, error) {
			return prompt.FromCorpus(ctx, ws.Store, task, dataset, metric)
		}),
	}
	if gt != nil {
		// Static problems go back to the LLM as repair prompts.
		g.Check = gate.SynthChecker{Gate: gt}.Static
	}
	return g, nil
}

// LLMConfig is the client configuration of the llm settings.
func LLMConfig(s loop.Settings) llm.Config {
	lc := llm.Config{BaseURL: s.LLM.URL, Model: s.LLM.Model, MaxTokens: s.LLM.MaxTokens, ContextLength: s.LLM.ContextLength,
		RequestTimeout: s.LLM.Timeout, MaxRetries: s.LLM.MaxRetries}
	t, p := s.LLM.Temperature, s.LLM.TopP
	lc.Temperature, lc.TopP = &t, &p
	return lc
}

// useBlocks applies the rag setting: the LLM generator gets the blocks for
// RAG prompts; evolve becomes evolve.BlockInserter, which inserts them into
// corpus models.
func useBlocks(ctx context.Context, st store.RAG, s loop.Settings, gen synth.Generator) (synth.Generator, error) {
	names, all := s.RAGBlocks()
	if len(names) == 0 && !all {
		return gen, nil
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
		b, err := UsableBlock(ctx, st, name)
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

// UsableBlock is the named library block if it builds and runs forward
// (validation level 2): only those can be built around.
func UsableBlock(ctx context.Context, st store.RAG, name string) (store.RAGBlock, error) {
	b, err := rag.Get(ctx, st, name)
	if err != nil {
		return b, err
	}
	if b.Level < 2 {
		return b, fmt.Errorf("block %s reached validation level %d, not 2 (it does not build and run forward: %s); pick another (`nngpt rag list`)", b.Name, b.Level, b.Error)
	}
	return b, nil
}

// PromptPreview renders the prompt the llm generator of the settings would
// send first, of the given kind, through the same code that builds the
// real one (templates, corpus examples, task line with the configured
// epochs and parameter limit); nothing is sent. block names the library
// block of a RAG prompt ("": the first usable one); previous is the attempt
// a repair prompt repairs.
func PromptPreview(ctx context.Context, ws *workspace.Workspace, s loop.Settings, kind prompt.Kind, block string, previous *prompt.Previous) (*prompt.Prompt, error) {
	if kind == prompt.RAG {
		if block == "" {
			usable, err := rag.Usable(ctx, ws.Store)
			if err != nil {
				return nil, err
			}
			if len(usable) == 0 {
				return nil, fmt.Errorf("a rag prompt needs a block that builds and runs forward; add some with `nngpt rag extract`, or name one with --block")
			}
			block = usable[0].Name
		}
		s.RAG = block
	} else {
		s.RAG = ""
	}
	g, err := llmGenerator(ws, s, nil, nil)
	if err != nil {
		return nil, err
	}
	gen, err := useBlocks(ctx, ws.Store, s, g)
	if err != nil {
		return nil, err
	}
	budget := llm.Budget{ContextLength: s.LLM.ContextLength, ReplyTokens: s.LLM.MaxTokens, Counter: llm.Estimator{}}
	return gen.(*llmgen.Generator).Preview(ctx, s.Request(1, s.Seed), kind, budget, previous)
}

// modelSwitch is the loop's generator when a fine-tune step may name the
// next LLM to generate with: it rebuilds the LLM generator for that model.
type modelSwitch struct {
	mu    sync.Mutex
	gen   synth.Generator
	build func(model string) (synth.Generator, error)
}

func (m *modelSwitch) current() synth.Generator {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

func (m *modelSwitch) Name() string { return m.current().Name() }

func (m *modelSwitch) Generate(ctx context.Context, req synth.Request) iter.Seq2[*synth.Candidate, error] {
	return m.current().Generate(ctx, req)
}

// use switches to model.
func (m *modelSwitch) use(model string) error {
	g, err := m.build(model)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.gen = g
	m.mu.Unlock()
	return nil
}
