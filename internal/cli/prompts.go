package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/app"
	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/prompt"
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
		kind, block string
		asJSON      bool
	)
	show := &cobra.Command{
		Use:   "show",
		Short: "Render the prompt the llm generator would send now (workspace templates and corpus), fitted to the context",
		Long: `Render the first prompt 'nngpt run' and 'nngpt generate' would send with
the same settings (nngpt.yaml, NNGPT_* and these flags): built by the same
code, so the task line (dataset, classes, input shape, epochs, parameter
limit), the n-shot examples and the fitting to the context are what the
LLM gets. Nothing is sent.`,
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
			cfg, err := config.Load(ws.Dir, cmd.Flags())
			if err != nil {
				return err
			}
			var prev *prompt.Previous
			if prompt.Kind(kind) == prompt.Repair {
				prev = &prompt.Previous{Code: exampleBrokenModel, HP: `{"lr": 0.01, "momentum": 0.9}`, Transform: "norm_32",
					Stage: "parse", Reason: "syntax_error", Error: "line 10 col 35: invalid syntax near \"(\" (example error)", Try: 1}
			}
			p, err := app.PromptPreview(ctx, ws, cfg.Settings, prompt.Kind(kind), block, prev)
			if errors.Is(err, prompt.ErrNoExamples) {
				return fmt.Errorf("%w, or use --kind zeroshot", err)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g, p)
			}
			fmt.Fprint(g.stdout, p.Text())
			ctxLen, maxTok := cfg.LLM.ContextLength, cfg.LLM.MaxTokens
			fmt.Fprintf(g.stderr, "\n%s prompt: %d supporting models (%d dropped to fit), ~%d tokens estimated of %d available (context %d - reply %d)\nhash %s, templates %s",
				p.Kind, p.Shots, p.Dropped, p.Tokens, ctxLen-maxTok, ctxLen, maxTok, p.Hash[:16], p.TemplateHash[:16])
			if set, err := prompt.LoadWorkspace(ws.Dir); err == nil && len(set.Overridden) > 0 {
				fmt.Fprintf(g.stderr, " (overridden: %v)", set.Overridden)
			}
			fmt.Fprintln(g.stderr)
			return nil
		},
	}
	d := config.Default()
	f := show.Flags()
	f.StringVar(&kind, "kind", "nshot", "prompt kind: zeroshot, nshot, repair (shows an example failure) or rag (a Net around a library block)")
	f.StringVar(&block, "block", "", "rag: the library block (default: the first that builds and runs forward; see `nngpt rag list`)")
	f.String("select", d.LLM.Selection, "n-shot example selection: best, random or diverse (llm.selection)")
	f.String("dataset", d.Dataset, "dataset: "+strings.Join(lemur.TrainableDatasets(), ", "))
	f.Int("epochs", d.Epochs, "epochs the candidates will train for")
	f.Int64("max-params", d.MaxParams, "parameter limit per model")
	f.Int("shots", d.LLM.Shots, "supporting models in an n-shot prompt (llm.shots)")
	f.Int("context-length", d.LLM.ContextLength, "the model's context in tokens (llm.context_length)")
	f.Int("max-tokens", d.LLM.MaxTokens, "tokens reserved for the reply (llm.max_tokens)")
	f.BoolVar(&asJSON, "json", false, "print the prompt as JSON (messages, hashes, counts)")
	cmd.AddCommand(export, show)
	return cmd
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
