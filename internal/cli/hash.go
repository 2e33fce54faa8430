package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/lemur"
)

func newHashCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hash",
		Short: "Compute LEMUR's ids: model code id and trial uid",
		Long: `Compute the md5 ids LEMUR uses, byte-compatible with its Python code:
the model code id (md5 of the code with all whitespace removed) and the
trial uid (md5 of Python's str() of the hyperparameter dict, keys sorted,
whitespace removed, without uid, duration, accuracy and epoch).`,
	}
	code := &cobra.Command{
		Use:   "code FILE.py",
		Short: "Print the LEMUR id of a model file (name generated models <prefix>-<id>)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, lemur.CodeID(string(b)))
			return nil
		},
	}
	prm := &cobra.Command{
		Use:   "prm JSON",
		Short: "Print the trial uid of a hyperparameter object",
		Example: `  nngpt hash prm '{"lr": 0.02487720458587122, "momentum": 0.3867297180491852, "batch": 4,
    "dropout": 0.3234668619290789, "transform": "norm_299"}'
  # b434ec3c199583d55f1345795243c03a`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := lemur.DecodeJSON([]byte(args[0]))
			if err != nil {
				return fmt.Errorf("hyperparameters: %w (want a JSON object such as '{\"lr\": 0.01, \"batch\": 64}')", err)
			}
			d, ok := v.(lemur.Dict)
			if !ok {
				return fmt.Errorf("hyperparameters: want a JSON object such as '{\"lr\": 0.01, \"batch\": 64}'")
			}
			fmt.Fprintln(g.stdout, lemur.UID(d))
			return nil
		},
	}
	cmd.AddCommand(code, prm)
	return cmd
}
