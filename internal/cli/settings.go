package cli

import (
	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/worker"
)

// addMachineFlags declares the settings of every command that starts the
// worker: where python, the sandbox, the cache and the dataset files are.
// They are settings (config.Machine, data.*), so nngpt.yaml and NNGPT_*
// give them too.
func addMachineFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	d := config.Default()
	f.String("python", "", "a python3 that can import torch (env NNGPT_PYTHON; default: search python3, /usr/bin/python3, python3.X)")
	f.String("sandbox", d.Sandbox, "auto (bubblewrap where it runs, else resource limits only, with a warning), bwrap (required) or none (limits only; only from this flag) (env NNGPT_SANDBOX)")
	f.String("cache-dir", "", "cache for the worker code and prepared datasets (env NNGPT_CACHE; default "+worker.DefaultCacheDir()+")")
	f.String("device", d.Device, "cpu, cuda or cuda:N")
	f.String("data-dir", "", "folder with the real datasets' files (env NNGPT_DATA)")
	f.Bool("download", false, "let torchvision download missing dataset files (needs network)")
}

// loadConfig is the effective configuration of a command: the workspace's
// nngpt.yaml, NNGPT_* and the command's flags.
func loadConfig(g *globals, cmd *cobra.Command) (*config.Loaded, error) {
	return config.Load(g.workspace, cmd.Flags())
}
