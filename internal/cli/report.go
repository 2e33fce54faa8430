package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/report"
)

func newReportCmd(g *globals) *cobra.Command {
	var (
		loopID, out  string
		asJSON, list bool
		noFiles      bool
		threshold    float64
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Summarise a closed-loop run: leaderboard, per-cycle counts, plots and a Markdown report",
		Long: `Summarise one 'nngpt run' loop (the newest unless --loop names one): a
leaderboard of the admitted models by accuracy, per cycle how many candidates
were generated, rejected (by reason), skipped as duplicates, trained and
admitted with their mean and best accuracy, and plots as PNG and SVG (outcomes
per cycle, accuracy per cycle, accuracy vs parameter count, a learning curve
per admitted model), with report.md beside them embedding the PNGs.

Files go to <workspace>/reports/<loop id>/ unless --out says otherwise; a
compact summary is printed (--json prints the whole report as JSON instead).

  nngpt report
  nngpt report --list
  nngpt report --loop 20261126-184900 --out ./my-report --threshold 0.24`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if threshold < 0 || threshold >= 1 {
				return &ExitError{Code: 2, Err: fmt.Errorf("--threshold %v: want an accuracy in [0, 1), e.g. 0.24 for 1.2 x chance with 5 classes", threshold)}
			}
			ws, err := g.openWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			defer ws.Close()
			if list {
				ls, err := ws.Store.Loops(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(g.stdout).Encode(ls)
				}
				if len(ls) == 0 {
					fmt.Fprintln(g.stdout, "no loops yet: run `nngpt run` first")
					return nil
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "loop\tstatus\tcycles\tseed\tstarted\tupdated")
				for _, l := range ls {
					fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%s\n", l.ID, l.Status, l.CycleDone, l.Cycles, l.Seed,
						l.Created.Format("2006-01-02 15:04"), l.Updated.Format("2006-01-02 15:04"))
				}
				return tw.Flush()
			}
			r, err := report.Build(cmd.Context(), ws.Store, loopID)
			if errors.Is(err, report.ErrNoLoop) {
				return &ExitError{Code: 1, Err: err}
			}
			if err != nil {
				return err
			}
			r.Threshold = threshold
			dir := out
			if dir == "" {
				dir = report.DefaultDir(ws.Dir, r.Loop.ID)
			}
			if !noFiles {
				if err := r.Write(dir); err != nil {
					return err
				}
			}
			if asJSON {
				return r.JSON(g.stdout)
			}
			if err := r.Text(g.stdout); err != nil {
				return err
			}
			if !noFiles {
				fmt.Fprintf(g.stdout, "report: %s\n", dir+"/"+report.MarkdownFile)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&loopID, "loop", "", "loop id (default: the newest; --list shows them)")
	f.StringVar(&out, "out", "", "folder for report.md, report.json and the plots (default <workspace>/reports/<loop id>)")
	f.BoolVar(&asJSON, "json", false, "print the report (or with --list the loops) as JSON")
	f.BoolVar(&list, "list", false, "list the workspace's loops, newest first")
	f.BoolVar(&noFiles, "no-files", false, "print only; write no files")
	f.Float64Var(&threshold, "threshold", 0, "admission accuracy to draw in the plots (0: none)")
	return cmd
}
