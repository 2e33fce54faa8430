package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/runner/slurm"
	"github.com/nngpt/nngpt/worker"
)

// Finding is one line of `nngpt doctor`.
type Finding struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Value  string `json:"value"`
	Fix    string `json:"fix,omitempty"`
	Needed bool   `json:"needed"` // nngpt cannot train without it
}

// Doctor checks what this machine has to train models with, as cfg
// configures it: the interpreter (and why it was chosen), torch,
// torchvision, numpy, scipy, CUDA, bubblewrap and the isolation in use, the
// cache, the data folder, and the cluster with the slurm executor; each
// finding that fails says how to fix it.
func Doctor(ctx context.Context, cfg *config.Loaded) []Finding {
	var items []Finding
	cache := CacheDir(cfg.Machine)
	py, tried, err := runner.FindPython(ctx, runner.PythonOptions{Path: cfg.Python, Fresh: true, CacheDir: cache})
	if err != nil {
		items = append(items, Finding{Name: "python", Needed: true, Value: err.Error(),
			Fix: "apt install python3-torch python3-torchvision (Debian/Ubuntu) or pip install torch torchvision; then, if it is not the first python3, pass --python or set NNGPT_PYTHON"})
	} else {
		v := fmt.Sprintf("%s (Python %s), chosen by %s", py.Path, py.Version, py.Why)
		for _, c := range tried {
			if c.Err != nil {
				v += fmt.Sprintf("\n                  skipped %s: %v", c.Path, c.Err)
			}
		}
		items = append(items, Finding{Name: "python", OK: true, Needed: true, Value: v})
		items = append(items, Finding{Name: "torch", OK: true, Needed: true, Value: py.Torch + " (" + filepath.Dir(py.TorchFile) + ")"})
		items = append(items, Finding{Name: "numpy", OK: py.Numpy != "", Needed: true, Value: orMissing(py.Numpy),
			Fix: "apt install python3-numpy or pip install numpy"})
		items = append(items, Finding{Name: "torchvision", OK: py.Torchvision != "", Value: orMissing(py.Torchvision) + " (only --download needs it)",
			Fix: "apt install python3-torchvision or pip install torchvision"})
		items = append(items, Finding{Name: "scipy", OK: py.Scipy != "", Value: orMissing(py.Scipy) + " (only SVHN needs it)",
			Fix: "apt install python3-scipy or pip install scipy"})
		cuda := "not available: --device cuda will fail (CPU training works)"
		if py.CUDA {
			cuda = fmt.Sprintf("CUDA %s, GPUs: %s", py.CUDAVersion, strings.Join(py.GPUs, ", "))
		}
		devs, _ := filepath.Glob("/dev/nvidia*")
		if len(devs) > 0 {
			cuda += fmt.Sprintf(" (%d /dev/nvidia* device files, bound into the sandbox for --device cuda)", len(devs))
		}
		items = append(items, Finding{Name: "cuda", OK: py.CUDA, Value: cuda,
			Fix: "install the NVIDIA driver and a CUDA build of torch (pip install torch --index-url https://download.pytorch.org/whl/cu121); only needed for --device cuda"})
	}
	sb, err := runner.NewSandbox(ctx, runner.SandboxMode(cfg.Sandbox))
	if err != nil {
		items = append(items, Finding{Name: "bubblewrap", Needed: true, Value: err.Error(),
			Fix: "apt install bubblewrap, and allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"})
	} else {
		bw := "not used"
		if sb.Bwrap != "" {
			bw = sb.Bwrap
			if out, err := exec.CommandContext(ctx, sb.Bwrap, "--version").Output(); err == nil {
				bw += " (" + strings.TrimSpace(string(out)) + ")"
			}
		}
		items = append(items, Finding{Name: "bubblewrap", OK: sb.Bwrap != "", Value: bw + reasonSuffix(sb.Reason),
			Fix: "apt install bubblewrap (Debian/Ubuntu) or dnf install bubblewrap; in a container allow user namespaces"})
		iso := string(sb.Isolation) + ": no network, read-only system, read-only dataset without test labels, fresh scratch folder, PID namespace, no capabilities, resource limits"
		if sb.Isolation != runner.IsolationBwrap {
			iso = string(sb.Isolation) + ": ONLY resource limits and deadlines; model code can read your files and use the network"
		}
		if sb.UID >= 0 {
			iso += fmt.Sprintf("; workers run as uid %d because nngpt runs as root", sb.UID)
		}
		items = append(items, Finding{Name: "isolation", OK: sb.Isolation == runner.IsolationBwrap, Value: iso,
			Fix: "install and enable bubblewrap (see above) before running untrusted models"})
	}
	cv := cache
	ok := true
	if dir, err := worker.Unpack(cache); err != nil {
		cv, ok = err.Error(), false
	} else {
		cv = fmt.Sprintf("%s (worker code in %s)", cache, filepath.Base(dir))
	}
	items = append(items, Finding{Name: "cache", OK: ok, Needed: true, Value: cv,
		Fix: "set NNGPT_CACHE or --cache-dir to a writable folder"})
	if dir := cfg.Data.Dir; dir != "" {
		st, err := os.Stat(dir)
		items = append(items, Finding{Name: "data-dir", OK: err == nil && st.IsDir(), Value: dir,
			Fix: "point --data-dir / NNGPT_DATA at the folder holding cifar-10-batches-py/, MNIST/raw/, ..."})
	}
	if cfg.Executor == "slurm" {
		for _, f := range slurm.Check(ctx, SlurmOptions(cfg.Machine, py, ExecOptions{})) {
			items = append(items, Finding{Name: f.Name, OK: f.OK, Needed: true, Value: f.Value, Fix: f.Fix})
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
