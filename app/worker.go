// Package app builds a configured nngpt pipeline once from settings: the
// python interpreter, the sandbox, the dataset, the executor, the gate,
// the generator, the hyperparameter source, the pruner and the loop engine.
// Every command (and the dashboard and reward service that follow) gets
// these parts here, so a setting means the same in all of them; nothing
// else assembles them.
package app

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/loop"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/runner/slurm"
	"github.com/nngpt/nngpt/worker"
)

// Worker is the sandboxed PyTorch worker as the machine's settings make it.
type Worker struct {
	Python  *runner.Python
	Sandbox *runner.Sandbox
	Cache   string // worker code, interpreter probes and prepared datasets
	Device  string
	m       config.Machine
}

// NewWorker finds the interpreter (one that imports torch and sees the
// configured device) and sets up the sandbox: bubblewrap where it runs;
// with sandbox auto and no bubblewrap, resource limits only, said loudly on
// notice; bwrap refuses to run without it; none only when given on the
// command line. Nothing that records a result should run before this
// succeeds.
func NewWorker(ctx context.Context, cfg *config.Loaded, notice io.Writer) (*Worker, error) {
	m := cfg.Machine
	cache := CacheDir(m)
	mode := runner.SandboxMode(m.Sandbox)
	if mode == runner.SandboxNone && cfg.Origin["sandbox"] != config.FromFlag {
		return nil, fmt.Errorf("sandbox none comes from %s: running generated code without isolation must be asked for on the command line (--sandbox none), each time", cfg.Origin["sandbox"])
	}
	sb, err := runner.NewSandbox(ctx, mode)
	if err != nil {
		return nil, fmt.Errorf("%w (`nngpt doctor` says why; --sandbox auto falls back to resource limits)", err)
	}
	py, _, err := runner.FindPython(ctx, runner.PythonOptions{Path: m.Python, CacheDir: cache})
	if err != nil {
		return nil, fmt.Errorf("%w (run `nngpt doctor`)", err)
	}
	if err := py.CheckDevice(m.Device); err != nil {
		return nil, err
	}
	if sb.Isolation != runner.IsolationBwrap && notice != nil {
		fmt.Fprintf(notice, "nngpt: WARNING: generated code runs WITHOUT bubblewrap isolation (%s): only resource limits hold it; "+
			"it can read your files and the test labels. Install bubblewrap, or pass --sandbox bwrap to refuse.\n", sb.Reason)
	}
	return &Worker{Python: py, Sandbox: sb, Cache: cache, Device: m.Device, m: m}, nil
}

// CacheDir is the machine's cache folder: cache_dir, else NNGPT_CACHE or
// the user's cache.
func CacheDir(m config.Machine) string {
	if m.CacheDir != "" {
		return m.CacheDir
	}
	return worker.DefaultCacheDir()
}

// Dataset prepares (once; then from the cache) the dataset of spec.
func (w *Worker) Dataset(ctx context.Context, spec runner.DatasetSpec) (*runner.Dataset, error) {
	return runner.Datasets{CacheDir: w.Cache, Sandbox: w.Sandbox}.Prepare(ctx, w.Python, spec)
}

// LoopDataset is the dataset a loop's settings name: the built-in shapes
// at the configured size, or a real dataset's files in data.dir.
func LoopDataset(s loop.Settings) runner.DatasetSpec {
	spec := runner.DatasetSpec{Name: s.Dataset, DataDir: s.Data.Dir, Download: s.Data.Download, Seed: 1}
	if s.Dataset == "shapes" {
		spec.NTrain, spec.NTest, spec.Size = s.Data.Train, s.Data.Test, s.Data.Size
	}
	return spec
}

// ExecOptions size an executor.
type ExecOptions struct {
	Slots   int // trainings at once (0: one per core)
	Threads int // torch threads per training (0: the cores shared among the slots)
	Limits  runner.Limits
}

// Executor is the executor setting's: the local pool over the worker, or
// a Slurm job per training (the cluster schedules; Slots is then moot).
func (w *Worker) Executor(ctx context.Context, o ExecOptions) (runner.Executor, error) {
	if w.m.Executor == "slurm" {
		return slurm.New(ctx, SlurmOptions(w.m, w.Python, o))
	}
	return w.Local(ctx, o)
}

// Local is the local pool over the worker, whatever the executor setting:
// probes (NN-RAG's blocks) run on this machine.
func (w *Worker) Local(ctx context.Context, o ExecOptions) (*runner.Local, error) {
	if o.Slots <= 0 {
		o.Slots = runtime.NumCPU()
	}
	if o.Threads <= 0 {
		o.Threads = max(1, runtime.NumCPU()/o.Slots)
	}
	return runner.NewLocal(ctx, runner.LocalConfig{Python: w.Python, Sandbox: w.Sandbox, Slots: o.Slots, Threads: o.Threads,
		CacheDir: w.Cache, Limits: o.Limits})
}

// SlurmOptions are the slurm executor's options of the cluster settings.
func SlurmOptions(m config.Machine, py *runner.Python, o ExecOptions) slurm.Options {
	return slurm.Options{SharedDir: m.Cluster.SharedDir, Partition: m.Cluster.Partition, Account: m.Cluster.Account,
		ExtraArgs: strings.Fields(m.Cluster.Sbatch), GPUsPerJob: m.Cluster.GPUs, Threads: o.Threads, Python: py,
		Sandbox: runner.SandboxMode(m.Sandbox), Limits: o.Limits}
}

// Repro is what every loop candidate records about where it ran.
func (w *Worker) Repro(data *runner.Dataset) map[string]any {
	return map[string]any{"python": w.Python.Version, "torch": w.Python.Torch, "device": w.Device,
		"dataset_id": data.SplitID(), "isolation": w.Sandbox.Isolation}
}
