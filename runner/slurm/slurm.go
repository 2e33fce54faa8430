// Package slurm runs nngpt's trainings as Slurm jobs: an Executor behind
// runner's interface, so the closed loop, HPO and check train on a
// cluster as they do on one machine.
//
// Each training is one sbatch job whose resources come from the job: the
// time limit from the per-stage and per-epoch deadlines, the memory limit,
// CPUs from the torch threads, --gres=gpu:N for CUDA. The worker code and
// the dataset's public part are copied once to the shared folder (which
// the coordinator and every node see at the same path); the test labels
// stay in the coordinator's private dataset folder, and the coordinator
// computes every accuracy from the predictions the job writes, as the
// local executor does. Inside the job the worker runs under bubblewrap
// where the node has it. Events travel through the job's files on the
// shared folder with the same nonce and sequence checks; Stop answers
// between epochs through a control file and Cancel is scancel.
//
// Runs outlive the coordinator: Submit records a job's Key (the caller's
// stable name for the training) on the shared folder, and a coordinator
// restarted after a crash or kill -9 that submits the same key attaches to
// the job, running or finished, instead of training it again. Job state
// comes from scontrol (no accounting database needed).
package slurm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/worker"
)

// Options configure the Slurm executor (nngpt.yaml's cluster.* settings).
type Options struct {
	// SharedDir is a folder the coordinator and every node see at the same
	// path (NFS, Lustre, ...): worker code, datasets' public parts and the
	// jobs' files live there. Required.
	SharedDir string
	// Partition and Account are sbatch's --partition and --account ("":
	// the cluster's default).
	Partition, Account string
	// ExtraArgs are further sbatch options, e.g. --qos=normal or
	// --constraint=a100.
	ExtraArgs []string
	// GPUsPerJob is N of --gres=gpu:N for CUDA jobs; 0: 1.
	GPUsPerJob int
	// Threads is each job's CPUs (--cpus-per-task) and torch threads when
	// a job sets none; 0: 1.
	Threads int
	// Python is the interpreter the nodes run the worker with (the same
	// path on every node; FindPython on a node of the cluster). Required.
	Python *runner.Python
	// Sandbox: auto (bubblewrap where the node can run it, else limits
	// only), bwrap (fail the job where it cannot) or none.
	Sandbox runner.SandboxMode
	// Limits apply to every run (a Job's own Limits override them).
	Limits runner.Limits
	// Startup is added to a job's time limit for the queue-to-ready part
	// (node setup, interpreter, torch); 0: 2 minutes.
	Startup time.Duration
	// PendingTimeout fails a run whose job is still queued after it
	// (kind queue, with Slurm's reason); 0: wait as long as it takes.
	PendingTimeout time.Duration
	// Requeue lets Slurm requeue a preempted job; the run starts over.
	// Nil: true.
	Requeue *bool
	// Poll is how often job files and state are checked; 0: 100ms.
	Poll time.Duration
	// SlurmConf is SLURM_CONF for Slurm's commands; "": the environment's.
	SlurmConf string
	Logger    *slog.Logger
}

// Executor is the Slurm executor.
type Executor struct {
	*runner.Remote
	l *launcher
}

var _ runner.Executor = (*Executor)(nil)

// New checks the options, prepares the shared folder (worker code) and
// checks that Slurm answers.
func New(ctx context.Context, o Options) (*Executor, error) {
	if o.SharedDir == "" {
		return nil, errors.New("slurm: no shared folder (cluster.shared_dir, env NNGPT_CLUSTER_SHARED_DIR): a folder every node sees at the same path")
	}
	if !filepath.IsAbs(o.SharedDir) {
		return nil, fmt.Errorf("slurm: shared folder %q must be an absolute path (nodes resolve it, not this process)", o.SharedDir)
	}
	if o.Python == nil {
		return nil, errors.New("slurm: no python interpreter for the nodes (FindPython)")
	}
	switch o.Sandbox {
	case "":
		o.Sandbox = runner.SandboxAuto
	case runner.SandboxAuto, runner.SandboxBwrap, runner.SandboxNone:
	default:
		return nil, fmt.Errorf("slurm: sandbox mode %q: want auto, bwrap or none", o.Sandbox)
	}
	if o.GPUsPerJob <= 0 {
		o.GPUsPerJob = 1
	}
	if o.Threads <= 0 {
		o.Threads = 1
	}
	if o.Startup <= 0 {
		o.Startup = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Requeue == nil {
		t := true
		o.Requeue = &t
	}
	for _, a := range o.ExtraArgs {
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("slurm: extra sbatch option %q: want --name=value", a)
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	for _, d := range []string{"runs", "keys", "data"} {
		if err := os.MkdirAll(filepath.Join(o.SharedDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("slurm: shared folder: %w", err)
		}
	}
	wd, err := worker.Unpack(filepath.Join(o.SharedDir, "worker"))
	if err != nil {
		return nil, fmt.Errorf("slurm: worker code on the shared folder: %w", err)
	}
	c := &cli{}
	if o.SlurmConf != "" {
		c.env = append(os.Environ(), "SLURM_CONF="+o.SlurmConf)
	}
	if _, err := c.run(ctx, "sinfo", "-h", "-o", "%P"); err != nil {
		return nil, fmt.Errorf("slurm: the cluster does not answer: %w", err)
	}
	l := &launcher{o: o, cli: c, worker: wd, log: log}
	rem, err := runner.NewRemote(runner.RemoteConfig{Launcher: l, Limits: o.Limits, Threads: o.Threads, Logger: log})
	if err != nil {
		return nil, err
	}
	if o.Sandbox == runner.SandboxNone {
		log.Warn("RUNNING MODEL CODE ON THE CLUSTER WITHOUT A SANDBOX: only resource limits and deadlines apply")
	}
	return &Executor{Remote: rem, l: l}, nil
}

// JobID is the Slurm job id of the training submitted under key ("" when
// none).
func (x *Executor) JobID(key string) string {
	rec, ok := x.l.readKey(key)
	if !ok {
		return ""
	}
	return rec.JobID
}
