package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/app"
	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/runner/slurm"
	"github.com/nngpt/nngpt/worker"
)

// doctorItem is one line of `nngpt doctor`.
type doctorItem struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Value  string `json:"value"`
	Fix    string `json:"fix,omitempty"`
	Needed bool   `json:"needed"` // nngpt cannot train without it
}

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
			items := doctor(cmd.Context(), cfg)
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

func doctor(ctx context.Context, cfg *config.Loaded) []doctorItem {
	var items []doctorItem
	cache := app.CacheDir(cfg.Machine)
	py, tried, err := runner.FindPython(ctx, runner.PythonOptions{Path: cfg.Python, Fresh: true, CacheDir: cache})
	if err != nil {
		items = append(items, doctorItem{Name: "python", Needed: true, Value: err.Error(),
			Fix: "apt install python3-torch python3-torchvision (Debian/Ubuntu) or pip install torch torchvision; then, if it is not the first python3, pass --python or set NNGPT_PYTHON"})
	} else {
		v := fmt.Sprintf("%s (Python %s), chosen by %s", py.Path, py.Version, py.Why)
		for _, c := range tried {
			if c.Err != nil {
				v += fmt.Sprintf("\n                  skipped %s: %v", c.Path, c.Err)
			}
		}
		items = append(items, doctorItem{Name: "python", OK: true, Needed: true, Value: v})
		items = append(items, doctorItem{Name: "torch", OK: true, Needed: true, Value: py.Torch + " (" + filepath.Dir(py.TorchFile) + ")"})
		items = append(items, doctorItem{Name: "numpy", OK: py.Numpy != "", Needed: true, Value: orMissing(py.Numpy),
			Fix: "apt install python3-numpy or pip install numpy"})
		items = append(items, doctorItem{Name: "torchvision", OK: py.Torchvision != "", Value: orMissing(py.Torchvision) + " (only --download needs it)",
			Fix: "apt install python3-torchvision or pip install torchvision"})
		items = append(items, doctorItem{Name: "scipy", OK: py.Scipy != "", Value: orMissing(py.Scipy) + " (only SVHN needs it)",
			Fix: "apt install python3-scipy or pip install scipy"})
		cuda := "not available: --device cuda will fail (CPU training works)"
		if py.CUDA {
			cuda = fmt.Sprintf("CUDA %s, GPUs: %s", py.CUDAVersion, strings.Join(py.GPUs, ", "))
		}
		devs, _ := filepath.Glob("/dev/nvidia*")
		if len(devs) > 0 {
			cuda += fmt.Sprintf(" (%d /dev/nvidia* device files, bound into the sandbox for --device cuda)", len(devs))
		}
		items = append(items, doctorItem{Name: "cuda", OK: py.CUDA, Value: cuda,
			Fix: "install the NVIDIA driver and a CUDA build of torch (pip install torch --index-url https://download.pytorch.org/whl/cu121); only needed for --device cuda"})
	}
	sb, err := runner.NewSandbox(ctx, runner.SandboxMode(cfg.Sandbox))
	if err != nil {
		items = append(items, doctorItem{Name: "bubblewrap", Needed: true, Value: err.Error(),
			Fix: "apt install bubblewrap, and allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"})
	} else {
		bw := "not used"
		if sb.Bwrap != "" {
			bw = sb.Bwrap
			if out, err := exec.CommandContext(ctx, sb.Bwrap, "--version").Output(); err == nil {
				bw += " (" + strings.TrimSpace(string(out)) + ")"
			}
		}
		items = append(items, doctorItem{Name: "bubblewrap", OK: sb.Bwrap != "", Value: bw + reasonSuffix(sb.Reason),
			Fix: "apt install bubblewrap (Debian/Ubuntu) or dnf install bubblewrap; in a container allow user namespaces"})
		iso := string(sb.Isolation) + ": no network, read-only system, read-only dataset without test labels, fresh scratch folder, PID namespace, no capabilities, resource limits"
		if sb.Isolation != runner.IsolationBwrap {
			iso = string(sb.Isolation) + ": ONLY resource limits and deadlines; model code can read your files and use the network"
		}
		if sb.UID >= 0 {
			iso += fmt.Sprintf("; workers run as uid %d because nngpt runs as root", sb.UID)
		}
		items = append(items, doctorItem{Name: "isolation", OK: sb.Isolation == runner.IsolationBwrap, Value: iso,
			Fix: "install and enable bubblewrap (see above) before running untrusted models"})
	}
	cv := cache
	ok := true
	if dir, err := worker.Unpack(cache); err != nil {
		cv, ok = err.Error(), false
	} else {
		cv = fmt.Sprintf("%s (worker code in %s)", cache, filepath.Base(dir))
	}
	items = append(items, doctorItem{Name: "cache", OK: ok, Needed: true, Value: cv,
		Fix: "set NNGPT_CACHE or --cache-dir to a writable folder"})
	if dir := cfg.Data.Dir; dir != "" {
		st, err := os.Stat(dir)
		items = append(items, doctorItem{Name: "data-dir", OK: err == nil && st.IsDir(), Value: dir,
			Fix: "point --data-dir / NNGPT_DATA at the folder holding cifar-10-batches-py/, MNIST/raw/, ..."})
	}
	if cfg.Executor == "slurm" {
		for _, f := range slurm.Check(ctx, app.SlurmOptions(cfg.Machine, py, app.ExecOptions{})) {
			items = append(items, doctorItem{Name: f.Name, OK: f.OK, Needed: true, Value: f.Value, Fix: f.Fix})
		}
	}
	return items
}

func orMissing(s string) string {
	if s == "" {
		return "missing"
	}
	return s
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return "; " + r
}
