package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/finetune"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/prompt"
)

func newFinetuneCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "finetune",
		Short: "Export NNGPT's fine-tuning set and try a fine-tuning command",
		Long: `NNGPT fine-tunes its generator on pairs of a baseline model and a better
model on the same task, dataset and epoch. 'finetune export' writes those
pairs as chat-format JSONL (HF TRL, Unsloth, axolotl); 'finetune hook' runs a
fine-tuning command the way 'nngpt run --finetune-cmd' runs it after each
cycle, so it can be tried by hand first.`,
	}
	cmd.AddCommand(newFinetuneExportCmd(g), newFinetuneHookCmd(g))
	return cmd
}

func newFinetuneExportCmd(g *globals) *cobra.Command {
	var (
		opt      finetune.Options
		tmplFile string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "export OUT.jsonl",
		Short: "Write baseline/better model pairs from the corpus as chat-format JSONL",
		Long: `Write NNGPT's fine-tuning set: for each (task, dataset, metric, epoch) of the
corpus, every model with code in the nn table takes its best run at that
epoch; each baseline is paired with a model drawn at random among those at
least --margin more accurate (different code), baselines visited in a seeded
random order and repeated only when all have been used, up to --per-group
pairs per group.

Each line is {"messages": [system, user, assistant]}: the system and user
turns are the LLM generator's own n-shot improvement prompt (the workspace's
prompts/ overrides included) with the baseline as its main model and --shots
supporting models from the same group; the assistant turn is
<hp>JSON</hp><tr>transform</tr><nn>code</nn> of the better model. TRL's
SFTTrainer, Unsloth and axolotl (type: chat_template) read it as it is.

  nngpt finetune export ft.jsonl --dataset cifar-10 --epoch 1 --margin 0.02`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tmplFile != "" {
				b, err := os.ReadFile(tmplFile)
				if err != nil {
					return &ExitError{Code: 2, Err: fmt.Errorf("--template: %w", err)}
				}
				opt.Template = string(b)
			}
			ws, err := g.openWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			defer ws.Close()
			if opt.Prompts, err = prompt.LoadWorkspace(ws.Dir); err != nil {
				return err
			}
			st, err := finetune.ExportFile(cmd.Context(), ws.Store, args[0], opt)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(struct {
					Path string `json:"path"`
					finetune.Stats
				}{args[0], st})
			}
			fmt.Fprintf(g.stdout, "%d pairs from %d groups (%d models with code; %d without code in the nn table, %d longer than the code limit, %d baselines nothing beat) -> %s\n",
				st.Pairs, st.Groups, st.Models, st.NoCode, st.TooLong, st.NoImprover, args[0])
			if st.UnknownDataset > 0 {
				fmt.Fprintf(g.stderr, "%d stat rows left out: their dataset's classes and input shape are unknown to the prompt (a --template needs neither)\n", st.UnknownDataset)
			}
			if st.Pairs == 0 {
				fmt.Fprintln(g.stderr, "no pairs: the corpus needs at least two models with code on the same task, dataset and epoch whose accuracies differ by --margin (import LEMUR with 'nngpt lemur import' or run 'nngpt run')")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.Task, "task", "", "only this task (default: all)")
	f.StringVar(&opt.Dataset, "dataset", "", "only this dataset (default: all)")
	f.StringVar(&opt.Metric, "metric", "", "only this metric (default: all)")
	f.IntVar(&opt.Epoch, "epoch", 0, "only this epoch (default: every epoch)")
	f.Float64Var(&opt.Margin, "margin", finetune.DefaultMargin, "least accuracy gain of the better model (negative: any gain)")
	f.IntVar(&opt.PerGroup, "per-group", finetune.DefaultPerGroup, "most pairs per task, dataset, metric and epoch (negative: no cap)")
	f.Int64Var(&opt.Seed, "seed", 0, "seed of the pair choice")
	f.IntVar(&opt.MaxCodeBytes, "max-code-bytes", finetune.DefaultMaxCodeBytes, "skip models with longer code (negative: no limit)")
	f.IntVar(&opt.Shots, "shots", 0, "supporting models per prompt, drawn from the same group")
	f.Int64Var(&opt.MaxParams, "max-params", lemur.DefaultMaxParams, "parameter limit the prompt states")
	f.StringVar(&tmplFile, "template", "", "file with a text/template over finetune.Pair for the user turn (default: the generator's n-shot prompt)")
	f.StringVar(&opt.System, "system", "", "system message (default: the generator's)")
	f.BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return cmd
}

func newFinetuneHookCmd(g *globals) *cobra.Command {
	var (
		v       finetune.Vars
		command string
	)
	cmd := &cobra.Command{
		Use:   "hook --cmd COMMAND --data FILE [--model NAME] [--cycle N]",
		Short: "Run a fine-tuning command once, as the loop runs it after a cycle",
		Long: `Render COMMAND (a Go template over {{.Data}} {{.Cycle}} {{.Model}} {{.Pairs}};
paths and names are shell-quoted when needed, so write them bare) and run it
with sh -c. Its output streams to stderr; the last non-empty line it prints
on stdout is the model to use next, printed on stdout. The environment also
holds NNGPT_FT_DATA, NNGPT_FT_CYCLE, NNGPT_FT_MODEL and NNGPT_FT_PAIRS.

  nngpt finetune hook --data ft.jsonl --model Qwen/Qwen2.5-Coder-1.5B \
      --cmd 'python train_lora.py --data {{.Data}} --base {{.Model}} --out runs/c{{.Cycle}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if command == "" || v.Data == "" {
				return &ExitError{Code: 2, Err: errors.New("finetune hook needs --cmd and --data")}
			}
			model, err := finetune.RunHook(cmd.Context(), command, v, g.stderr)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, model)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&command, "cmd", "", "the command template")
	f.StringVar(&v.Data, "data", "", "the JSONL file ({{.Data}})")
	f.StringVar(&v.Model, "model", "", "the current model ({{.Model}})")
	f.IntVar(&v.Cycle, "cycle", 0, "the cycle number ({{.Cycle}})")
	f.IntVar(&v.Pairs, "pairs", 0, "the number of pairs ({{.Pairs}})")
	return cmd
}
