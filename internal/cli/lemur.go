package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/internal/termsafe"
	"github.com/nngpt/nngpt/lemur"
)

func newLemurCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lemur",
		Short: "Import and export LEMUR trees (models and training statistics)",
	}
	cmd.AddCommand(newLemurImportCmd(g), newLemurExportCmd(g))
	return cmd
}

func newLemurImportCmd(g *globals) *cobra.Command {
	var asJSON, strict, replaceCode bool
	var maxFile, maxTotal int64
	cmd := &cobra.Command{
		Use:   "import PATH",
		Short: "Import a LEMUR checkout, stat folder or .tar.gz into the workspace",
		Long: `Import LEMUR training statistics and code into the workspace database.

PATH is a LEMUR checkout (its root, with ab/nn/...), a stat/ folder (with
pipeline folders task_dataset_metric_nn/<epoch>.json, or the newer
stat/train/ level), or a .tar.gz of either. Every record is kept, with keys
nngpt does not know; model, transform and metric code is imported where the
tree has it (nn/, transform/, metric/ beside stat/). Re-importing the same
tree adds nothing.

A broken file (bad or truncated JSON, not an array, a folder name without
exactly four '_'-separated parts, NaN, a string where a number belongs,
non-UTF-8, unreadable, accuracy outside [0, 1], an epoch past 100000, a
symlink, FIFO or device, a file over --max-file) is reported with its path
and reason and skipped whole; the rest imports. Symlinks are never
followed. Code whose name is already stored with other code is kept as it
is (code_conflict) unless --replace-code, and each replacement is
reported. The exit status is 2 when anything was skipped; --strict stops
at the first problem and imports nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			rep, err := corpus.Import(ctx, ws.Store, args[0], corpus.ImportOptions{Strict: strict, ReplaceCode: replaceCode,
				Limits: lemur.ReadOptions{MaxEntry: maxFile, MaxTotal: maxTotal}})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printImport(g, rep)
			}
			if n := rep.SkippedFiles(); n > 0 {
				return &ExitError{Code: 2, Err: fmt.Errorf("%d file(s) skipped; see the reasons above, fix them and import again (re-importing adds only what is new)", n)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as one JSON object")
	cmd.Flags().BoolVar(&strict, "strict", false, "stop at the first problem and import nothing")
	cmd.Flags().BoolVar(&replaceCode, "replace-code", false, "let the tree's code replace stored code of the same name (reported)")
	cmd.Flags().Int64Var(&maxFile, "max-file", 16<<20, "skip files (and archive entries) larger than this many bytes")
	cmd.Flags().Int64Var(&maxTotal, "max-total", 16<<30, "stop when the tree (an archive: unpacked) exceeds this many bytes")
	return cmd
}

func printImport(g *globals, r *corpus.Report) {
	w := g.stdout
	fmt.Fprintf(w, "imported %s\n", r.Source)
	fmt.Fprintf(w, "  pipelines  %d\n  models     %d\n  files      %d\n", r.Pipelines, r.Models, r.Files)
	fmt.Fprintf(w, "  records    %d (%d new, %d already present)\n", r.Records, r.New, r.Present)
	var kinds []string
	for k, n := range r.Codes.Read {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	if len(kinds) > 0 {
		fmt.Fprintf(w, "  code       %s (%d new, %d already present)\n", strings.Join(kinds, ", "), r.Codes.New, r.Codes.Present)
	}
	for _, c := range r.Replaced {
		fmt.Fprintf(w, "  replaced   code of %s (--replace-code)\n", termsafe.Clean(c))
	}
	if n := r.SkippedFiles(); n > 0 {
		fmt.Fprintf(w, "  skipped    %d file(s):\n", n)
		var reasons []string
		for k := range r.Skipped {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		for _, k := range reasons {
			fmt.Fprintf(w, "    %-16s %d\n", k, r.Skipped[k])
		}
		for _, p := range r.Problems {
			fmt.Fprintf(g.stderr, "skipped %s: %s: %s\n", termsafe.Clean(p.Path), p.Reason, termsafe.Clean(p.Detail))
		}
	}
}

func newLemurExportCmd(g *globals) *cobra.Command {
	var pattern string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Write the workspace's corpus as a LEMUR tree",
		Long: `Write the workspace's corpus as a LEMUR tree under DIR: nn/<name>.py and
stat/<task>_<dataset>_<metric>_<nn>/<epoch>.json (records sorted by
accuracy, descending, as LEMUR writes them), plus the transform and metric
code used. --nn keeps the models whose name matches a glob (e.g. 'alt-*').
Importing the export into an empty workspace gives the same rows.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			rep, err := corpus.Export(ctx, ws.Store, args[0], pattern)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(rep)
			}
			fmt.Fprintf(g.stdout, "exported to %s: %d models (%d code files), %d pipelines, %d epoch files, %d records\n",
				rep.Dir, rep.Models, rep.Codes, rep.Pipelines, rep.Files, rep.Records)
			return nil
		},
	}
	cmd.Flags().StringVar(&pattern, "nn", "", "export only models whose name matches this glob")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as one JSON object")
	return cmd
}
