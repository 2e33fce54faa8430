package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/bench"
	"github.com/nngpt/nngpt/rag"
)

func newBenchRAGCmd(g *globals) *cobra.Command {
	var repo, targetsPath string
	var asJSON, verbose, all bool
	var every int
	var val ragValidation
	cmd := &cobra.Command{
		Use:   "rag --repo DIR (--targets FILE | --all)",
		Short: "Extract and validate a list of classes from a repository",
		Long: `Extract every class listed in FILE (one per line: Name or package.module.Name;
# comments) from the repository DIR and validate each block in the sandboxed
worker. Reports how many were found, the level-1 rate (the file executes as
a module in a fresh interpreter), the level-2 rate (the class builds and a
small input runs through forward), both over all targets, the time per
block, the index time (cold and cached) and the failures by reason.
--all takes every nn.Module class of the repository instead (each
once, by module and name); --every K with it takes every K-th of them in
module order, a systematic sample of a large zoo. Level 2 tries the
repository's own builders of each class first (factories, partials,
registries, test and __main__ blocks, README examples, call sites, parent
networks), then arguments inferred from its signature. Nothing is stored
in the workspace.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if repo == "" || (targetsPath == "") == !all {
				return &ExitError{Code: 2, Err: fmt.Errorf("--repo DIR and one of --targets FILE or --all are required")}
			}
			if every < 0 || every > 1 && !all {
				return &ExitError{Code: 2, Err: fmt.Errorf("--every %d: a step of 1 or more, with --all", every)}
			}
			var targets []string
			if !all {
				var err error
				if targets, err = rag.ReadTargets(targetsPath); err != nil {
					return err
				}
			}
			val.level = 2
			v, err := val.validator(g, cmd)
			if err != nil {
				return err
			}
			n := 0
			res, err := bench.RAG(ctx, repo, targets, every, v, val.jobs, func(o rag.Outcome) {
				n++
				if verbose {
					fmt.Fprintf(g.stderr, "[%d] %s: level %d\n", n, o.Target, max(o.Level(), 0))
				}
			})
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(res)
			}
			w := g.stdout
			fmt.Fprintf(w, "repository  %s (%d modules)\n", res.Repo, res.Modules)
			if res.Commit != "" {
				fmt.Fprintf(w, "commit      %s\n", res.Commit)
			}
			fmt.Fprintf(w, "index       %.3f s cold, %.3f s from cache\n", res.IndexColdSeconds, res.IndexCachedSeconds)
			fmt.Fprintf(w, "targets     %d, found %d, extracted %d", res.Targets, res.Found, res.Extracted)
			if res.Every > 1 {
				fmt.Fprintf(w, " (every %d-th nn.Module class)", res.Every)
			}
			fmt.Fprintln(w)
			fmt.Fprintf(w, "level 1     %d (%.1f%%): executes as a module in a fresh interpreter\n", res.Level1, 100*res.Level1Rate)
			fmt.Fprintf(w, "level 2     %d (%.1f%%): builds and runs forward\n", res.Level2, 100*res.Level2Rate)
			fmt.Fprintf(w, "per block   %.3f s extract, %.2f s validate (%d at a time); %.0f s wall\n", res.ExtractSeconds, res.ValidateSeconds, res.Jobs, res.WallSeconds)
			if len(res.Via) > 0 {
				fmt.Fprint(w, "built by   ")
				for _, k := range res.ViaKeys() {
					fmt.Fprintf(w, " %s %d", k, res.Via[k])
				}
				fmt.Fprintln(w)
			}
			if len(res.Failures) > 0 {
				fmt.Fprintln(w, "failures")
				for _, k := range res.FailureKeys() {
					fmt.Fprintf(w, "  %-24s %d\n", k, res.Failures[k])
				}
			}
			if verbose {
				for _, b := range res.Blocks {
					if b.Reason != "" {
						fmt.Fprintf(w, "  %s: %s: %s\n", b.Target, b.Reason, ragFirstLine(b.Error))
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&repo, "repo", "", "repository folder")
	cmd.Flags().StringVar(&targetsPath, "targets", "", "file listing the classes, one per line")
	cmd.Flags().BoolVar(&all, "all", false, "every nn.Module class of the repository")
	cmd.Flags().IntVar(&every, "every", 1, "with --all: every K-th class only (a systematic sample)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (with every block's outcome)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show progress on stderr and list every failed target with its error")
	val.add(cmd)
	cmd.Flags().Lookup("level").Hidden = true
	return cmd
}
