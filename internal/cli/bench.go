package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure nngpt on real data (import, prediction, HPO, ...)",
		Long: `Benchmarks that measure nngpt on real data and print their figures.
Those that read LEMUR statistics take --lemur PATH (a LEMUR checkout, stat
folder or .tar.gz) and default to ../shared/lemur/lemur-stat-dev.tar.gz.`,
	}
	cmd.AddCommand(
		newBenchImportCmd(g),
		newBenchPredictCmd(g),
		newBenchPruneCmd(g),
		newBenchRAGCmd(g),
		newBenchHPOCmd(g),
		newBenchTPECmd(g),
		newBenchScheduleCmd(g),
	)
	return cmd
}

func newBenchImportCmd(g *globals) *cobra.Command {
	var src, task string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Time a LEMUR import into an empty workspace and a --best query over it",
		Long: `Import a LEMUR tree into a fresh temporary workspace and report the wall
time, records per second and the peak RSS of the process; then time
'nngpt data --best --task TASK --json' over the result, and recompute every
record's uid from its hyperparameters (old LEMUR records hashed another key
order, so a few percent differ).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := bench.FindLEMUR(src)
			if err != nil {
				return err
			}
			res, err := bench.Import(cmd.Context(), path, os.TempDir(), task)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(res)
			}
			w := g.stdout
			fmt.Fprintf(w, "source      %s\n", res.Source)
			fmt.Fprintf(w, "imported    %d records in %d files (%d pipelines, %d models)\n", res.Records, res.Files, res.Pipelines, res.Models)
			fmt.Fprintf(w, "import      %.2f s wall, %.0f records/s, peak RSS %.0f MiB\n", res.ImportWall.Seconds(), res.RecordsPerSec, float64(res.PeakRSSBytes)/(1<<20))
			fmt.Fprintf(w, "query       data --best --task %s --json: %d rows in %.3f s\n", task, res.QueryRows, res.QueryWall.Seconds())
			fmt.Fprintf(w, "uids        %d of %d recompute to the stored uid (%.2f%%)\n", res.UIDsMatching, res.UIDsChecked, 100*float64(res.UIDsMatching)/float64(max(1, res.UIDsChecked)))
			return nil
		},
	}
	cmd.Flags().StringVar(&src, "lemur", "", "LEMUR tree or archive (default "+bench.DefaultLEMUR+")")
	cmd.Flags().StringVar(&task, "task", "img-classification", "task of the timed --best query")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the figures as one JSON object")
	return cmd
}
