package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/app"
)

func newDoctorCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check python, torch, torchvision, CUDA, bubblewrap and which isolation is active",
		Long: `Report what nngpt finds to train models with: the Python interpreter (and
why it was chosen), torch, torchvision, numpy, scipy, CUDA and the GPUs,
bubblewrap and the isolation workers will run under, and the cache folder,
each with the command that fixes what is missing. Exits 1 when training
cannot work (no interpreter with torch, or --sandbox bwrap without a working
bubblewrap).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g, cmd)
			if err != nil {
				return err
			}
			items := app.Doctor(cmd.Context(), cfg)
			bad := false
			for _, it := range items {
				bad = bad || (it.Needed && !it.OK)
			}
			if asJSON {
				if err := json.NewEncoder(g.stdout).Encode(items); err != nil {
					return err
				}
			} else {
				for _, it := range items {
					mark := "ok  "
					if !it.OK {
						mark = "MISS"
						if !it.Needed {
							mark = "warn"
						}
					}
					fmt.Fprintf(g.stdout, "%s %-12s %s\n", mark, it.Name, it.Value)
					if !it.OK && it.Fix != "" {
						fmt.Fprintf(g.stdout, "     %-12s fix: %s\n", "", it.Fix)
					}
				}
			}
			if bad {
				return &ExitError{Code: 1, Err: errors.New("nngpt cannot train models here yet; see the fixes above")}
			}
			return nil
		},
	}
	addMachineFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
