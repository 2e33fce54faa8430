package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/runner"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print nngpt's version and the Go, Python and torch it finds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(g.stdout, "nngpt  %s\n", Version)
			fmt.Fprintf(g.stdout, "go     %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			py, _, err := runner.FindPython(cmd.Context(), runner.PythonOptions{})
			if err != nil {
				fmt.Fprintf(g.stdout, "python none that can import torch (%v); `nngpt doctor` says how to fix it\n", err)
				return nil
			}
			fmt.Fprintf(g.stdout, "python %s (%s)\n", py.Version, py.Path)
			tv := py.Torchvision
			if tv == "" {
				tv = "missing"
			}
			fmt.Fprintf(g.stdout, "torch  %s, torchvision %s\n", py.Torch, tv)
			return nil
		},
	}
}
