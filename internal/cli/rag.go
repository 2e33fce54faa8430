package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/app"
	"github.com/nngpt/nngpt/rag"
	"github.com/nngpt/nngpt/store"
)

func newRAGCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rag",
		Short: "NN-RAG: extract nn.Module classes from repositories into a block library",
		Long: `NN-RAG extracts a named nn.Module class from a Python repository with
everything it needs at runtime (base classes, helpers, constants, decorators,
defaults, names used in its methods, across modules) into one self-contained
file, validates it in the sandboxed worker and stores it in the workspace's
block library:

  level 1  the file executes as a module in a fresh interpreter
  level 2  the class builds and an input runs through forward: first the
           way the repository builds it (its factories, partials,
           registries, test and __main__ blocks, README examples, call
           sites with literal arguments, parent networks that build it as
           a unit, whose forward gives it its real inputs), then with
           arguments inferred from its signature, offered the module's own
           block classes and constants; the block records the builder, the
           constructor and the input (see rag show)`,
	}
	cmd.AddCommand(newRAGExtractCmd(g), newRAGListCmd(g), newRAGShowCmd(g))
	return cmd
}

// ragValidation are the flags of commands that validate blocks.
type ragValidation struct {
	level, jobs int
	timeout     time.Duration
}

func (v *ragValidation) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&v.level, "level", 2, "validate up to this level: 0 (do not validate), 1 or 2")
	f.IntVar(&v.jobs, "jobs", 1, "blocks validated at once")
	f.DurationVar(&v.timeout, "timeout", 2*time.Minute, "validation time limit per block")
	addMachineFlags(cmd)
}

// validator builds the sandboxed validator, nil when --level is 0.
func (v *ragValidation) validator(g *globals, cmd *cobra.Command) (rag.Validator, error) {
	if v.level == 0 {
		return nil, nil
	}
	if v.level < 0 || v.level > 2 {
		return nil, fmt.Errorf("--level %d: want 0, 1 or 2", v.level)
	}
	cfg, err := loadConfig(g, cmd)
	if err != nil {
		return nil, err
	}
	w, err := app.NewWorker(cmd.Context(), cfg, g.stderr)
	if err != nil {
		return nil, fmt.Errorf("%w (or pass --level 0 to extract without validating)", err)
	}
	// A probe is small: one thread each, so several run side by side.
	ex, err := w.Local(cmd.Context(), app.ExecOptions{Slots: max(1, v.jobs), Threads: 1})
	if err != nil {
		return nil, err
	}
	return rag.SandboxValidator{Exec: ex, Timeout: v.timeout}, nil
}

// openRepoIndex indexes a repository with the index cache in cacheDir.
func openRepoIndex(ctx context.Context, repo, cacheDir string) (*rag.Index, error) {
	if repo == "" {
		return nil, fmt.Errorf("--repo is required: the folder of the Python repository (or package) to extract from")
	}
	return rag.Open(ctx, repo, rag.Options{CacheDir: cacheDir})
}

func newRAGExtractCmd(g *globals) *cobra.Command {
	var repo string
	var blocks []string
	var all, asJSON bool
	var val ragValidation
	cmd := &cobra.Command{
		Use:   "extract --repo DIR (--block NAME ... | --all)",
		Short: "Extract classes from a repository, validate them and store them",
		Long: `Extract classes from the repository DIR into the block library. --block takes
a class name (Name, or package.module.Name when several modules define it)
and may repeat; --all takes every top-level class that derives from
nn.Module. Each block is validated in the sandboxed worker (see --level)
and stored with its sources and the level it reached, replacing an older
block of the same name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if all == (len(blocks) > 0) {
				return &ExitError{Code: 2, Err: fmt.Errorf("give either --block NAME (repeatable) or --all")}
			}
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			idx, err := openRepoIndex(ctx, repo, ws.Path("cache", "rag"))
			if err != nil {
				return err
			}
			targets := blocks
			if all {
				targets = nil
				for _, c := range idx.Classes(true) {
					targets = append(targets, c.Qualified())
				}
				if len(targets) == 0 {
					return fmt.Errorf("no nn.Module classes found in %s", idx.Root)
				}
			}
			v, err := val.validator(g, cmd)
			if err != nil {
				return err
			}
			var stored, seen int
			var putErr error
			outs, err := rag.Process(ctx, idx, targets, v, max(val.level, 1), val.jobs, func(o rag.Outcome) {
				seen++
				if v != nil && !asJSON {
					fmt.Fprintf(g.stderr, "[%d/%d] %s: level %d\n", seen, len(targets), o.Target, max(o.Level(), 0))
				}
				if o.Block == nil || putErr != nil {
					return
				}
				if putErr = ws.Store.PutBlock(ctx, rag.Record(o.Block, o.Validation)); putErr == nil {
					stored++
				}
			})
			if putErr != nil {
				return putErr
			}
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(extractJSON(outs))
			}
			printOutcomes(g.stdout, outs)
			fmt.Fprintf(g.stdout, "%d of %d stored in %s\n", stored, len(outs), ws.Dir)
			failed := 0
			for _, o := range outs {
				if o.Block == nil {
					failed++
				}
			}
			if failed == len(outs) {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository folder (a checkout, or an installed package's folder)")
	cmd.Flags().StringArrayVar(&blocks, "block", nil, "class to extract: Name or package.module.Name (repeatable)")
	cmd.Flags().BoolVar(&all, "all", false, "extract every nn.Module class of the repository")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	val.add(cmd)
	return cmd
}

type extractRow struct {
	rag.Outcome
	Name       string           `json:"name,omitempty"`
	Level      int              `json:"level"`
	Sources    []rag.Source     `json:"sources,omitempty"`
	Unresolved []rag.Unresolved `json:"unresolved,omitempty"`
	Lines      int              `json:"lines,omitempty"`
}

func extractJSON(outs []rag.Outcome) map[string]any {
	rows := make([]extractRow, 0, len(outs))
	for _, o := range outs {
		r := extractRow{Outcome: o, Level: o.Level()}
		if o.Block != nil {
			r.Name = o.Block.Module + "." + o.Block.Name
			r.Sources, r.Unresolved = o.Block.Sources, o.Block.Unresolved
			r.Lines = strings.Count(o.Block.Code, "\n")
		}
		rows = append(rows, r)
	}
	return map[string]any{"blocks": rows}
}

func printOutcomes(w io.Writer, outs []rag.Outcome) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tLEVEL\tSOURCES\tLINES\tUNRESOLVED\tNOTE")
	for _, o := range outs {
		if o.Block == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\n", o.Target, ragFirstLine(o.Error))
			continue
		}
		lvl, note := "not validated", ""
		if o.Validation != nil {
			lvl = fmt.Sprint(o.Validation.Level)
			if o.Validation.Level >= 2 {
				note = rag.Built(o.Block.Name, o.Validation)
			}
			if o.Validation.Error != "" {
				note = o.Validation.Kind + ": " + ragFirstLine(o.Validation.Error)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", o.Target, lvl, len(o.Block.Sources), strings.Count(o.Block.Code, "\n"), len(o.Block.Unresolved), note)
	}
	tw.Flush()
}

func ragFirstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func newRAGListCmd(g *globals) *cobra.Command {
	var minLevel int
	var class string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the blocks of the library",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			bs, err := ws.Store.Blocks(ctx, store.RAGFilter{MinLevel: minLevel, Class: class})
			if err != nil {
				return err
			}
			if asJSON {
				for i := range bs {
					bs[i].Code = "" // `rag show NAME` prints the code
				}
				return json.NewEncoder(g.stdout).Encode(map[string]any{"blocks": nonNilBlocks(bs)})
			}
			if len(bs) == 0 {
				fmt.Fprintln(g.stderr, "no blocks (add some with `nngpt rag extract --repo DIR --block NAME`)")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tLEVEL\tLINES\tFILES\tREPOSITORY")
			for _, b := range bs {
				lvl := fmt.Sprint(b.Level)
				if b.Level < 0 {
					lvl = "-" // not validated
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", b.Name, lvl, strings.Count(b.Code, "\n"), len(b.Paths), filepath.Base(b.Repo))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&minLevel, "min-level", 0, "only blocks validated at least this far (2: they run forward)")
	cmd.Flags().StringVar(&class, "class", "", "only blocks of this class name")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (without the code)")
	return cmd
}

func nonNilBlocks(bs []store.RAGBlock) []store.RAGBlock {
	if bs == nil {
		return []store.RAGBlock{}
	}
	return bs
}

func newRAGShowCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a block's code (NAME: module.Class, or Class when unique)",
		Long: `Print a block's code. For a block that reached level 2, comment lines
first say how it was built: the constructor (a call that builds the class
from the printed code), the input forward ran on, and the builder of the
repository that led there (a factory, partial, registry, test or __main__
block, README example, call site, or arguments inferred from the signature).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			b, err := rag.Get(ctx, ws.Store, args[0])
			if err != nil {
				return &ExitError{Code: 1, Err: err}
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(b)
			}
			if b.Level >= 2 && b.Input != "" {
				// How level 2 built it, as comments: the output stays a
				// Python file.
				ctor, input, via := rag.ParseBuilt(b.Input)
				fmt.Fprintf(g.stdout, "# level 2: builds and runs forward\n# constructor: %s\n# input: %s\n", ctor, input)
				if via != "" {
					fmt.Fprintf(g.stdout, "# built by: %s\n", via)
				}
			}
			_, err = io.WriteString(g.stdout, b.Code)
			if err == nil && b.Level < 2 && b.Error != "" {
				fmt.Fprintf(g.stderr, "note: %s reached level %d: %s\n", b.Name, b.Level, ragFirstLine(b.Error))
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the whole record as JSON")
	return cmd
}
