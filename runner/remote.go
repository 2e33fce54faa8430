package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// Launcher starts training workers outside this process: runner/slurm
// submits each as a cluster job. Remote drives what it starts exactly as
// Local drives its children: the nonce and sequence checks, the order of
// stages, the deadlines, and the accuracy computed here from the worker's
// predictions and labels that never leave this machine.
type Launcher interface {
	// Launch submits the worker of one run, or, for a job whose Key it
	// has run before, attaches to that run (alive or finished). It
	// returns without waiting for the worker to start.
	Launch(ctx context.Context, l *Launch) (Worker, error)
}

// Launch is one training run for a Launcher.
type Launch struct {
	Job    Job    // checked, defaults filled
	Limits Limits // the executor's limits with the job's own over them
}

// Spec is the job spec line (without its newline) for a worker that sees
// its scratch folder (holding <Job.Name>.py) at scratch and the dataset's
// public part at data.
func (l *Launch) Spec(nonce, scratch, data string) ([]byte, error) {
	spec := trainSpec(l.Job, l.Limits, scratch, data)
	spec["nonce"] = nonce
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	return b, nil
}

// Worker is a launched training worker as the coordinator sees it.
type Worker interface {
	// RunID is the run's id (kept across a re-attach).
	RunID() string
	// Nonce is the job's nonce; its events must carry it.
	Nonce() string
	// Start blocks until the worker runs (a cluster job may queue) and
	// returns its event stream: every line "<unix seconds> <event line>",
	// stamped where the worker runs; io.EOF once the worker is over and
	// every line was read. A run that ended without starting returns its
	// failure instead.
	Start(ctx context.Context) (events io.Reader, started time.Time, fail *Failure, err error)
	// Isolation is what the worker runs under (known after Start).
	Isolation() Isolation
	// Decide sends the answer after epoch n ("continue" or "stop") and
	// returns the answer in effect: after a re-attach, the one given
	// before.
	Decide(n int, word string) string
	// Resumed is when the worker got the answer after epoch n.
	Resumed(n int) (time.Time, bool)
	// Scratch is the folder, readable here, the worker writes its
	// predictions to.
	Scratch() string
	// Kill ends the worker now.
	Kill()
	// End waits up to grace for the worker to be over and says how it
	// ended.
	End(ctx context.Context, grace time.Duration) Exit
	// Finish records the result (a later Launch of the key returns it)
	// and removes what the run left, except the scratch folder when keep.
	Finish(res *Result, keep bool) error
}

// Exit is how a launched worker ended.
type Exit struct {
	Code   int
	Signal syscall.Signal
	// Failure is the host's own verdict (a time limit, the memory limit,
	// a failed node, output past the cap); it wins over Code and Signal.
	Failure *Failure
	// Requeued: the job was preempted and queued again; the run starts
	// over.
	Requeued bool
	Log      string
	LogBytes int64
}

// Finished is implemented by Workers that may stand for a run that had
// ended before the coordinator attached: Result is what that run recorded
// (nil: the run is not over).
type Finished interface {
	Result() *Result
}

// RemoteConfig configures a Remote executor.
type RemoteConfig struct {
	Launcher Launcher
	// Limits apply to every run (a Job's own Limits override them).
	Limits Limits
	// Threads is torch's thread count per run when a job sets none; 0: 1.
	Threads int
	Logger  *slog.Logger
}

// Remote runs jobs through a Launcher.
type Remote struct {
	cfg RemoteConfig
	log *slog.Logger
}

var _ Executor = (*Remote)(nil)

// NewRemote checks the configuration.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	if cfg.Launcher == nil {
		return nil, errors.New("runner: remote executor without a launcher")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Remote{cfg: cfg, log: log}, nil
}

// Submit launches job (or attaches to the run of its Key) and drives it.
func (x *Remote) Submit(ctx context.Context, job Job) (Run, error) {
	job, err := job.checked(max(1, x.cfg.Threads))
	if err != nil {
		return nil, err
	}
	lim := mergeLimits(x.cfg.Limits.withDefaults(), job.Limits)
	w, err := x.cfg.Launcher.Launch(ctx, &Launch{Job: job, Limits: lim})
	if err != nil {
		return nil, err
	}
	r := newLocalRun(job)
	r.id = w.RunID()
	ctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go func() {
		defer cancel()
		if f, ok := w.(Finished); ok && f.Result() != nil {
			res := f.Result()
			for i := range res.Epochs {
				r.emit(Event{Type: EventEpoch, Stage: StageEval, Epoch: &res.Epochs[i]})
			}
			r.finish(res, nil)
			return
		}
		res, err := x.train(ctx, r, w, lim)
		if err == nil {
			if ferr := w.Finish(res, job.KeepScratch); ferr != nil {
				x.log.Warn("run files not cleaned up", "run", r.id, "err", ferr)
			}
		}
		r.finish(res, err)
	}()
	return r, nil
}

// remoteConn adapts a Worker to drive.
type remoteConn struct {
	*stream
	w       Worker
	started time.Time
}

func (c *remoteConn) decide(n int, word string) string { return c.w.Decide(n, word) }
func (c *remoteConn) resumed(n int) (time.Time, bool)  { return c.w.Resumed(n) }
func (c *remoteConn) startedAt() time.Time             { return c.started }
func (c *remoteConn) pid() int                         { return 0 }
func (c *remoteConn) diskMessage() string              { return "filled the scratch quota" }
func (c *remoteConn) scratchDir() string               { return c.w.Scratch() }
func (c *remoteConn) keepPreds() bool                  { return true }
func (x *Remote) isCanceled(r *localRun) bool          { r.mu.Lock(); defer r.mu.Unlock(); return r.canceled }
func newResult(r *localRun, job Job, iso Isolation) *Result {
	return &Result{RunID: r.id, Name: job.Name, CodeID: lemur.CodeID(job.Code), Batch: job.Batch,
		Transform: job.Transform, Seed: job.Seed, Device: job.Device, Threads: job.Threads,
		Isolation: iso, DatasetID: job.Data.Key, SplitID: job.Data.SplitID(), EpochsWanted: job.Epochs,
		Dataset: job.Data.Name, Classes: job.Data.Classes, Data: job.Data.Provenance(), StageSeconds: map[Stage]float64{},
		Started: time.Now()}
}

// train runs one launched worker to its end; a requeued job starts over.
func (x *Remote) train(ctx context.Context, r *localRun, w Worker, lim Limits) (*Result, error) {
	job := r.job
	labels, err := job.Data.Labels()
	if err != nil {
		w.Kill()
		return nil, err
	}
	for {
		res := newResult(r, job, "")
		events, started, f, err := w.Start(ctx)
		if err != nil {
			if ctx.Err() != nil {
				w.Kill()
				res.Failure = &Failure{Stage: StageStart, Kind: FailCanceled, Message: "canceled before it started"}
				res.Finished = time.Now()
				return res, nil
			}
			return nil, err
		}
		res.Isolation = w.Isolation()
		if f != nil {
			res.Failure, res.Finished = f, time.Now()
			return res, nil
		}
		s := newStream(w.Nonce())
		go s.read(events, true)
		c := &remoteConn{stream: s, w: w, started: started}
		fail := func(stage Stage, kind FailKind, msg, tb string) {
			if res.Failure == nil {
				res.Failure = &Failure{Stage: stage, Kind: kind, Message: msg, Traceback: tb}
			}
		}
		drive(ctx, r, c, res, labels, lim, fail)
		if res.Failure != nil && res.Failure.Kind != "" {
			w.Kill() // judged already; a job that finished well ends by itself
		}
		ex := w.End(context.WithoutCancel(ctx), 30*time.Second)
		s.stop()
		if ex.Requeued && (res.Failure == nil || res.Failure.Kind == "") && !r.isCanceled() && ctx.Err() == nil {
			x.log.Info("run requeued (preempted); it starts over", "run", r.id, "name", job.Name)
			r.emit(Event{Type: EventStage, Stage: StageStart, Detail: "preempted and requeued: starting over"})
			continue
		}
		res.LogTail, res.LogBytes = ex.Log, ex.LogBytes
		if res.Failure != nil && res.Failure.Kind == "" {
			// The event stream ended early: the host's verdict, else the exit status.
			stage := res.Failure.Stage
			if ex.Failure != nil {
				res.Failure = ex.Failure
				res.Failure.Stage = stage
			} else {
				res.Failure = ExitFailure(ex.Code, ex.Signal, true, stage)
				if strings.Contains(res.LogTail, "Fatal Python error: Segmentation fault") && res.Failure.Kind == FailCrashed {
					res.Failure.Message = "segmentation fault (" + res.Failure.Message + ")"
				}
			}
		}
		if r.isCanceled() && (res.Failure == nil || res.Failure.Kind != FailCanceled) && !res.OK {
			res.Failure = &Failure{Stage: res.Reached, Kind: FailCanceled, Message: "canceled"}
		}
		res.OK = res.Failure == nil
		res.Finished = time.Now()
		return res, nil
	}
}

// WorkerCommand is the command line and environment that start a worker
// under sb with python py, seeing the worker code at workerDir, its
// scratch folder at scratch and the dataset's public part at data (host
// paths). SpecPaths says where the worker sees them.
func WorkerCommand(sb *Sandbox, py *Python, workerDir, scratch, data string, threads int, cuda bool) (argv, env []string, err error) {
	l := &launch{py: py, worker: workerDir, scratch: scratch, threads: threads, cuda: cuda, elsewhere: true,
		mounts: []Mount{{Host: data, Sandbox: "/nngpt/data"}}}
	cmd, err := sb.command(l)
	if err != nil {
		return nil, nil, err
	}
	return cmd.Args, cmd.Env, nil
}

// SpecPaths are the scratch and data folders as a worker started by
// WorkerCommand sees them.
func SpecPaths(sb *Sandbox, scratch, data string) (string, string) {
	return sb.inside(Mount{Host: scratch, Sandbox: sbScratch}), sb.inside(Mount{Host: data, Sandbox: "/nngpt/data"})
}
