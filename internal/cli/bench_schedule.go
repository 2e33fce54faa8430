package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/bench"
	"github.com/nngpt/nngpt/lemur"
)

func newBenchScheduleCmd(g *globals) *cobra.Command {
	var (
		cfg    bench.ScheduleConfig
		src    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Compare early-stopping schedulers (none, median, ASHA) on LEMUR's recorded learning curves: epochs spent vs regret",
		Long: `Replay LEMUR's learning curves as studies: for each pipeline with
--min-trials trials recorded at every epoch 1..--epochs, the trials run in
--seeds random orders, one after another, and after each epoch the pruner
sees the trial's curve so far and every earlier trial's. Reported per
pruner: the share of the epochs a study without pruning trains, the share
of trials stopped, and the normalised regret of the best complete trial
(0: the pipeline's best final accuracy was found).`,
		Example: `  nngpt bench schedule --lemur ../shared/lemur/lemur-stat-dev.tar.gz --epochs 5`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := bench.FindLEMUR(src)
			if err != nil {
				return err
			}
			t, err := lemur.Load(cmd.Context(), path)
			if err != nil {
				return fmt.Errorf("load LEMUR tree %s: %w", path, err)
			}
			cfg.Records = t.Records
			res, err := bench.RunSchedule(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g, res)
			}
			return bench.WriteScheduleTable(g.stdout, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&src, "lemur", "", "LEMUR tree or archive (default "+bench.DefaultLEMUR+")")
	f.IntVar(&cfg.Epochs, "epochs", 5, "curve length a trial needs")
	f.IntVar(&cfg.MinTrials, "min-trials", 20, "trials with full curves a pipeline needs")
	f.IntVar(&cfg.Seeds, "seeds", 10, "random trial orders per pipeline")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	return cmd
}
