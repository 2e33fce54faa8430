package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/rag"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth/llmgen"
)

func newPromptsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prompts",
		Short: "Show the LLM prompts, or copy their templates into the workspace to edit them",
		Long: `The llm generator's prompts are text/template files built into nngpt:
system.tmpl (the system message), zeroshot.tmpl, nshot.tmpl, repair.tmpl,
rag.tmpl (the user messages) and common.tmpl (the blocks they share: task, contract,
format, example). A file of the same name in the workspace's prompts/ folder
replaces the built-in one; every prompt's hash and its template set's hash
are recorded with each candidate.`,
	}
	var force bool
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the built-in templates into <workspace>/prompts/ (existing files are kept unless --force)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := filepath.Join(g.workspace, prompt.Dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			names, err := prompt.Names()
			if err != nil {
				return err
			}
			for _, n := range names {
				p := filepath.Join(dir, n)
				if _, err := os.Stat(p); err == nil && !force {
					fmt.Fprintf(g.stdout, "kept     %s (exists; --force overwrites)\n", p)
					continue
				} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				src, err := prompt.Source(n)
				if err != nil {
					return err
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "wrote    %s\n", p)
			}
			fmt.Fprintln(g.stdout, "Delete the files you do not change: the built-in version then stays in use.")
			return nil
		},
	}
	export.Flags().BoolVar(&force, "force", false, "overwrite existing files")

	var (
		kind, selection, dataset, block string
		shots, ctxLen, maxTok           int
		asJSON                          bool
	)
	show := &cobra.Command{
		Use:   "show",
		Short: "Render the prompt the llm generator would send now (workspace templates and corpus), fitted to the context",
		Example: `  nngpt prompts show --kind nshot --shots 3 --select diverse
  nngpt prompts show --kind repair --json
  nngpt prompts show --kind rag --block torchvision.models.resnet.BasicBlock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			cfg, err := config.Load(ws.Dir, nil)
			if err != nil {
				return err
			}
			set, err := prompt.LoadWorkspace(ws.Dir)
			if err != nil {
				return err
			}
			if dataset == "" {
				dataset = cfg.Dataset
			}
			if !cmd.Flags().Changed("shots") {
				shots = cfg.LLM.Shots
			}
			if ctxLen == 0 {
				ctxLen = cfg.LLM.ContextLength
			}
			if maxTok == 0 {
				maxTok = cfg.LLM.MaxTokens
			}
			k, ok := llmgen.KnownDatasets[dataset]
			if !ok {
				return fmt.Errorf("dataset %q is unknown to the prompt (known: %s)", dataset, knownDatasets())
			}
			task := prompt.Task{Task: cfg.Task, Dataset: dataset, Metric: cfg.Metric, Classes: k.Classes,
				InShape: [4]int{cfg.Batch, k.Shape[0], k.Shape[1], k.Shape[2]}, Epochs: cfg.Epochs, MaxParams: cfg.MaxParams}
			d := prompt.Data{Task: task}
			switch prompt.Kind(kind) {
			case prompt.ZeroShot:
			case prompt.NShot:
				strategy, err := prompt.ParseStrategy(selection)
				if err != nil {
					return err
				}
				pool, err := prompt.FromCorpus(ctx, ws.Store, task.Task, task.Dataset, task.Metric)
				if err != nil {
					return err
				}
				main, sup, err := prompt.Selector{Strategy: strategy}.Select(pool, shots)
				if err != nil {
					return fmt.Errorf("n-shot prompt: %w (train or import models on %s first, or use --kind zeroshot)", err, dataset)
				}
				d.Main, d.Supporting = &main, sup
			case prompt.Repair:
				d.Previous = &prompt.Previous{Code: exampleBrokenModel, HP: `{"lr": 0.01, "momentum": 0.9}`, Transform: "norm_32",
					Stage: "parse", Reason: "syntax_error", Error: "line 10 col 35: invalid syntax near \"(\" (example error)", Try: 1}
			case prompt.RAG:
				b, err := promptBlock(ctx, ws.Store, block)
				if err != nil {
					return err
				}
				d.Block = &prompt.Block{Name: b.Name, Code: b.Code, Input: b.Input}
			default:
				return fmt.Errorf("--kind %q: want zeroshot, nshot, repair or rag", kind)
			}
			budget := llm.Budget{ContextLength: ctxLen, ReplyTokens: maxTok, Counter: llm.Estimator{}}
			p, err := set.Fit(ctx, budget, prompt.Kind(kind), d)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g, p)
			}
			fmt.Fprint(g.stdout, p.Text())
			fmt.Fprintf(g.stderr, "\n%s prompt: %d supporting models (%d dropped to fit), ~%d tokens estimated of %d available (context %d - reply %d)\nhash %s, templates %s",
				p.Kind, p.Shots, p.Dropped, p.Tokens, ctxLen-maxTok, ctxLen, maxTok, p.Hash[:16], p.TemplateHash[:16])
			if len(set.Overridden) > 0 {
				fmt.Fprintf(g.stderr, " (overridden: %v)", set.Overridden)
			}
			fmt.Fprintln(g.stderr)
			return nil
		},
	}
	f := show.Flags()
	f.StringVar(&kind, "kind", "nshot", "prompt kind: zeroshot, nshot, repair (shows an example failure) or rag (a Net around a library block)")
	f.StringVar(&block, "block", "", "rag: the library block (default: the first that builds and runs forward; see `nngpt rag list`)")
	f.StringVar(&selection, "select", "best", "n-shot example selection: best, random or diverse")
	f.StringVar(&dataset, "dataset", "", "dataset (default: the workspace's)")
	f.IntVar(&shots, "shots", 3, "supporting models in an n-shot prompt (default: llm.shots)")
	f.IntVar(&ctxLen, "context-length", 0, "the model's context in tokens (default: llm.context_length)")
	f.IntVar(&maxTok, "max-tokens", 0, "tokens reserved for the reply (default: llm.max_tokens)")
	f.BoolVar(&asJSON, "json", false, "print the prompt as JSON (messages, hashes, counts)")
	cmd.AddCommand(export, show)
	return cmd
}

// promptBlock is the library block a RAG prompt shows: the named one, or
// the first usable one.
func promptBlock(ctx context.Context, st store.RAG, name string) (store.RAGBlock, error) {
	if name != "" {
		return usableBlock(ctx, st, name)
	}
	usable, err := rag.Usable(ctx, st)
	if err != nil {
		return store.RAGBlock{}, err
	}
	if len(usable) == 0 {
		return store.RAGBlock{}, errors.New("--kind rag: no block in the library builds and runs forward; add some with `nngpt rag extract`, or name one with --block")
	}
	return usable[0], nil
}

func knownDatasets() string {
	var names []string
	for n := range llmgen.KnownDatasets {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

// exampleBrokenModel is the previous attempt `prompts show --kind repair`
// feeds back.
const exampleBrokenModel = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device:
        super().__init__()
        self.device = device
        self.body = nn.Sequential(nn.Conv2d(in_shape[1], 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(16, out_shape[0])
`
