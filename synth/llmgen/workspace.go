package llmgen

import (
	"context"
	"fmt"

	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/store"
)

// Options are what ForWorkspace needs beyond the LLM configuration.
type Options struct {
	// Selection of n-shot examples: best, random or diverse ("": best).
	Selection string
	// Task: classes, input shape, epochs and parameter limit for the
	// prompt (zero fields: from lemur.Dataset, the request and the defaults).
	Task prompt.Task
	// Blocks, Check, MaxRepairs, OnProgress and NoStream as in Generator.
	Blocks     []prompt.Block
	Check      Check
	MaxRepairs int
	OnProgress func(candidate int, p llm.Progress)
	NoStream   bool
}

// ForWorkspace builds the generator a workspace uses: the OpenAI-compatible
// client from cfg, the prompt templates with the workspace's prompts/
// overrides, and n-shot examples from the workspace's corpus.
func ForWorkspace(cfg llm.Config, dir string, st store.Store, o Options) (*Generator, error) {
	client, err := llm.New(cfg)
	if err != nil {
		return nil, err
	}
	set, err := prompt.LoadWorkspace(dir)
	if err != nil {
		return nil, err
	}
	sel, err := prompt.ParseStrategy(o.Selection)
	if err != nil {
		return nil, fmt.Errorf("llmgen: %w", err)
	}
	return &Generator{
		Client:    client,
		Prompts:   set,
		Selection: sel,
		Task:      o.Task,
		Examples: CorpusExamples(func(ctx context.Context, task, dataset, metric string) ([]prompt.Model, error) {
			return prompt.FromCorpus(ctx, st, task, dataset, metric)
		}),
		Blocks:     o.Blocks,
		Check:      o.Check,
		MaxRepairs: o.MaxRepairs,
		OnProgress: o.OnProgress,
		NoStream:   o.NoStream,
	}, nil
}
