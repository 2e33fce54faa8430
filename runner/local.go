package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nngpt/nngpt/internal/termsafe"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/worker"
)

// LocalConfig configures a Local executor.
type LocalConfig struct {
	// Python runs the workers (FindPython).
	Python *Python
	// Sandbox builds the worker command (nil: NewSandbox(ctx, SandboxAuto)).
	Sandbox *Sandbox
	// Slots is how many runs go at once; 0: 1, or NumCPU/Threads when
	// Threads is set.
	Slots int
	// Threads is torch's thread count per run; 0: NumCPU/Slots.
	Threads int
	// Limits apply to every run (a Job's own Limits override them).
	Limits Limits
	// CacheDir receives the unpacked worker code ("": worker.DefaultCacheDir()).
	CacheDir string
	// ScratchRoot holds the runs' scratch folders ("": os.TempDir()).
	ScratchRoot string
	Logger      *slog.Logger
}

// Local runs jobs as sandboxed worker processes on this machine.
type Local struct {
	cfg     LocalConfig
	sb      *Sandbox
	worker  string
	slots   chan struct{}
	threads int
	log     *slog.Logger
}

var _ Executor = (*Local)(nil)

// NewLocal checks the configuration and unpacks the worker code.
func NewLocal(ctx context.Context, cfg LocalConfig) (*Local, error) {
	if cfg.Python == nil {
		return nil, errors.New("runner: no python interpreter (FindPython)")
	}
	sb := cfg.Sandbox
	if sb == nil {
		var err error
		if sb, err = NewSandbox(ctx, SandboxAuto); err != nil {
			return nil, err
		}
	}
	cores := runtime.NumCPU()
	slots, threads := cfg.Slots, cfg.Threads
	switch {
	case slots <= 0 && threads <= 0:
		slots, threads = 1, cores
	case slots <= 0:
		slots = max(1, cores/threads)
	case threads <= 0:
		threads = max(1, cores/slots)
	}
	cache := cfg.CacheDir
	if cache == "" {
		cache = worker.DefaultCacheDir()
	}
	wd, err := worker.Unpack(cache)
	if err != nil {
		return nil, err
	}
	if err := reachable(sb, wd); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	sweepStale(cmp.Or(cfg.ScratchRoot, os.TempDir()), log)
	if sb.Isolation != IsolationBwrap {
		log.Warn("RUNNING MODEL CODE WITHOUT A SANDBOX: only resource limits and deadlines apply; the model can read your files and reach the network", "reason", sb.Reason)
	}
	return &Local{cfg: cfg, sb: sb, worker: wd, slots: make(chan struct{}, slots), threads: threads, log: log}, nil
}

// Sandbox is the sandbox the executor's workers run in.
func (l *Local) Sandbox() *Sandbox { return l.sb }

// Threads is torch's thread count per run.
func (l *Local) Threads() int { return l.threads }

// Slots is how many runs go at once.
func (l *Local) Slots() int { return cap(l.slots) }

// reName: a safe file stem (LEMUR's own names have no '_'; `nngpt check --record` enforces that).
var reName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$`)

// Submit starts job when a slot is free.
func (l *Local) Submit(ctx context.Context, job Job) (Run, error) {
	job, err := job.checked(l.threads)
	if err != nil {
		return nil, err
	}
	r := newLocalRun(job)
	ctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go func() {
		defer cancel()
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			r.finish(&Result{RunID: r.id, Name: job.Name, Failure: &Failure{Stage: StageStart, Kind: FailCanceled, Message: "canceled before it started"}}, nil)
			return
		}
		defer func() { <-l.slots }()
		res, err := l.train(ctx, r)
		r.finish(res, err)
	}()
	return r, nil
}

// checked validates a job and fills in its defaults (threads: torch's
// thread count when the job sets none).
func (job Job) checked(threads int) (Job, error) {
	if strings.TrimSpace(job.Code) == "" {
		return job, errors.New("job has no code")
	}
	if !reName.MatchString(job.Name) || strings.HasSuffix(job.Name, ".py") {
		return job, fmt.Errorf("model name %q: want letters, digits, '-', '.' (LEMUR: no '_')", job.Name)
	}
	if job.Data == nil {
		return job, errors.New("job has no dataset (Datasets.Prepare)")
	}
	if job.Batch == 0 {
		job.Batch = 64
	}
	if job.Batch < 1 || job.Batch > 1<<16 {
		return job, fmt.Errorf("batch %d: want 1..65536 (LEMUR uses powers of two)", job.Batch)
	}
	job.Batch = clampBatch(job.Batch, job.Data.NTrain)
	if job.Epochs == 0 {
		job.Epochs = 1
	}
	if job.Epochs < 0 || job.Epochs > 10000 {
		return job, fmt.Errorf("epochs %d: want 1..10000", job.Epochs)
	}
	if job.Transform == "" {
		job.Transform = "norm"
	}
	if !validTransform(job.Transform) {
		return job, fmt.Errorf("transform %q: want echo|norm|complex, optional _32|_64|_128|_256|_299|_512, optional _flip (e.g. norm_64_flip)", job.Transform)
	}
	if job.Device == "" {
		job.Device = "cpu"
	}
	if job.Device != "cpu" && job.Device != "cuda" && !regexp.MustCompile(`^cuda:\d+$`).MatchString(job.Device) {
		return job, fmt.Errorf("device %q: want cpu, cuda or cuda:N", job.Device)
	}
	for _, it := range job.Prm {
		if _, ok := lemur.AsFloat(it.Value); !ok {
			return job, fmt.Errorf("hyperparameter %s = %v: want a number", it.Key, it.Value)
		}
	}
	if job.DefaultPrm == nil {
		job.DefaultPrm = DefaultHyperparameters
	}
	if job.MaxParams == 0 {
		job.MaxParams = DefaultMaxParams
	}
	if job.Threads <= 0 {
		job.Threads = threads
	}
	return job, nil
}

// clampBatch: a batch larger than the training set is the training set
// (the largest power of two that fits, LEMUR's convention), so the record
// says what the model really trained with.
func clampBatch(batch, nTrain int) int {
	if nTrain <= 0 || batch <= nTrain {
		return batch
	}
	b := 1
	for b*2 <= nTrain {
		b *= 2
	}
	return b
}

var reTransform = regexp.MustCompile(`^(echo|norm|complex)(_(32|64|128|256|299|512))?(_flip)?$`)

func validTransform(s string) bool { return reTransform.MatchString(s) }

// localRun is a Run of the Local executor.
type localRun struct {
	id     string
	job    Job
	events chan Event
	cancel context.CancelFunc

	mu       sync.Mutex
	stop     bool
	canceled bool
	done     chan struct{}
	res      *Result
	err      error
}

func newLocalRun(job Job) *localRun {
	return &localRun{id: newNonce()[:16], job: job, done: make(chan struct{}),
		events: make(chan Event, 12+job.Epochs+progressSlack)}
}

// progressSlack is the room batch-progress events may take in a run's
// event buffer: they are dropped beyond it, so a caller that does not read
// never loses the events that matter (stages, epochs, the end).
const progressSlack = 32

func (r *localRun) ID() string           { return r.id }
func (r *localRun) Events() <-chan Event { return r.events }

func (r *localRun) Stop() {
	r.mu.Lock()
	r.stop = true
	r.mu.Unlock()
}

func (r *localRun) Cancel() {
	r.mu.Lock()
	r.canceled = true
	r.mu.Unlock()
	r.cancel()
}

func (r *localRun) isCanceled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.canceled
}

func (r *localRun) stopRequested() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stop
}

func (r *localRun) emit(ev Event) {
	ev.Time = time.Now()
	select {
	case r.events <- ev:
	default: // cannot happen: the buffer holds every event a run makes
	}
}

func (r *localRun) finish(res *Result, err error) {
	if res != nil && err == nil {
		if res.Failure != nil {
			r.emit(Event{Type: EventFailed, Stage: res.Failure.Stage, Failure: res.Failure})
		} else {
			r.emit(Event{Type: EventDone, Stage: StageDone})
		}
	}
	r.res, r.err = res, err
	close(r.events)
	close(r.done)
}

func (r *localRun) Wait(ctx context.Context) (*Result, error) {
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stageOrder is the order the worker must report stages in.
var stageOrder = []Stage{StageStart, StageParse, StageContract, StageBuild, StageForward, StageParams}

// train runs one training job to its end.
func (l *Local) train(ctx context.Context, r *localRun) (*Result, error) {
	job := r.job
	lim := l.cfg.Limits.withDefaults()
	lim = mergeLimits(lim, job.Limits)
	cuda := strings.HasPrefix(job.Device, "cuda")
	res := newResult(r, job, l.sb.Isolation)
	defer func() { res.Finished = time.Now() }()
	labels, err := job.Data.Labels()
	if err != nil {
		return nil, err
	}
	scratch, err := l.sb.makeScratch(l.cfg.ScratchRoot, "nngpt-run-")
	if err != nil {
		return nil, err
	}
	if job.KeepScratch {
		res.Scratch = scratch
	} else {
		defer removeAll(scratch)
	}
	modelFile := job.Name + ".py"
	if err := os.WriteFile(filepath.Join(scratch, modelFile), []byte(job.Code), 0o644); err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	if err := reachable(l.sb, job.Data.Public(), scratch); err != nil {
		return nil, err
	}

	la := &launch{py: l.cfg.Python, worker: l.worker, scratch: scratch, threads: job.Threads, cuda: cuda, tmpSize: lim.TmpSize,
		mounts: []Mount{{Host: job.Data.Public(), Sandbox: "/nngpt/data"}}}
	spec := trainSpec(job, lim, l.sb.scratchPath(la), l.sb.inside(la.mounts[0]))
	cmd, err := l.sb.command(la)
	if err != nil {
		return nil, err
	}
	p, err := startProc(cmd, spec, lim.Output, 64<<10)
	if err != nil {
		return nil, err
	}
	p.scratch = scratch
	p.watchScratch(scratch, lim.Scratch, 250*time.Millisecond)
	fail := func(stage Stage, kind FailKind, msg, tb string) {
		if res.Failure == nil {
			res.Failure = &Failure{Stage: stage, Kind: kind, Message: msg, Traceback: tb}
		}
	}
	drive(ctx, r, p, res, labels, lim, fail)
	if res.Failure == nil || res.Failure.Kind != "" {
		p.kill() // judged already; an early end of the stream is judged by the exit status below
	}
	st := p.wait(3 * time.Second)
	res.LogTail = termsafe.Clean(p.log.String())
	res.LogBytes = p.log.Total()
	if res.Failure != nil && res.Failure.Kind == "" {
		// The event stream ended early: judge by how the worker ended.
		f := exitFailure(st, l.sb.Isolation == IsolationBwrap, res.Failure.Stage)
		if strings.Contains(res.LogTail, "Fatal Python error: Segmentation fault") && f.Kind == FailCrashed {
			f.Message = "segmentation fault (" + f.Message + ")"
		}
		res.Failure = f
	}
	if r.isCanceled() && (res.Failure == nil || res.Failure.Kind != FailCanceled) && !res.OK {
		res.Failure = &Failure{Stage: res.Reached, Kind: FailCanceled, Message: "canceled"}
	}
	if f := res.Failure; f != nil {
		// The worker's words: whatever reaches a terminal is plain text.
		f.Message, f.Traceback = termsafe.Clean(f.Message), termsafe.Clean(f.Traceback)
	}
	res.OK = res.Failure == nil
	return res, nil
}

// trainSpec is the job spec line of a training worker that sees its
// scratch folder (holding <name>.py) at scratch and the dataset's public
// part at data.
func trainSpec(job Job, lim Limits, scratch, data string) map[string]any {
	cuda := strings.HasPrefix(job.Device, "cuda")
	mem := lim.Memory
	if cuda {
		mem = 0 // the CUDA driver reserves terabytes of address space
	}
	cpu := lim.CPUTime
	if cpu == 0 {
		wall := lim.StartTimeout + lim.SetupTimeout + time.Duration(job.Epochs)*lim.EpochTimeout
		cpu = wall * time.Duration(job.Threads+1)
	}
	return map[string]any{
		"kind":        "train",
		"model":       map[string]any{"name": job.Name, "path": scratch + "/" + job.Name + ".py"},
		"prm":         rawDict(job.Prm),
		"default_prm": rawDict(job.DefaultPrm),
		"batch":       job.Batch,
		"transform":   job.Transform,
		"epochs":      job.Epochs,
		"device":      job.Device,
		"seed":        job.Seed,
		"threads":     job.Threads,
		"max_params":  max(0, job.MaxParams),
		"scratch":     scratch,
		"data":        map[string]any{"dir": data, "name": job.Data.Name},
		"limits": map[string]any{
			"memory": mem, "cpu_seconds": int64(cpu.Seconds()), "nproc": lim.Processes,
			"nofile": lim.OpenFiles, "fsize": lim.FileSize,
		},
	}
}

// conn is the coordinator's side of one worker, wherever it runs: its
// checked event stream and the answers it waits for between epochs.
type conn interface {
	next(ctx context.Context, timeout time.Duration) (wireEvent, error)
	// decide sends the answer after epoch n and returns the one in effect
	// (a re-attached coordinator finds earlier answers already given).
	decide(n int, word string) string
	// resumed is when the worker got the answer after epoch n.
	resumed(n int) (time.Time, bool)
	startedAt() time.Time
	pid() int // the worker's process on this machine (0: elsewhere, not measured)
	diskMessage() string
	scratchDir() string // host folder holding the predictions
	keepPreds() bool    // leave scored predictions (a re-attached coordinator scores them again)
}

// drive reads the worker's events to the end of the run. Durations come
// from the events' times: the coordinator's clock for a local worker, the
// node's relay for a cluster job (so a re-attached coordinator replaying
// the stream measures what the first one did).
func drive(ctx context.Context, r *localRun, p conn, res *Result, labels []int64, lim Limits, fail func(Stage, FailKind, string, string)) {
	job := r.job
	next := 0 // index into stageOrder of the stage due
	timeout := lim.StartTimeout
	current := StageStart
	// Every time below is the coordinator's clock on arrival of events (a
	// cluster job's relay stamps them on the node): the worker cannot make
	// time pass faster. The clock starts when the start event arrives,
	// before any model code ran, so work hidden in the module or in
	// Net.__init__ counts in the duration.
	var clock, stageAt, epochAt, lastEpoch time.Time
	var setupDeadline time.Time
	var baseRSS int64
	var waited time.Duration // time the worker waited for answers between epochs
	epoch := 0
	for {
		if current != StageStart && current != StageTrain {
			timeout = min(lim.StageTimeout, max(time.Until(setupDeadline), time.Millisecond))
		}
		ev, err := p.next(ctx, timeout)
		if err != nil {
			var te *tamperError
			switch {
			case errors.Is(err, errTimeout):
				what := fmt.Sprintf("stage %s ran past its deadline of %v", current, lim.StageTimeout)
				switch {
				case current == StageTrain:
					what = fmt.Sprintf("epoch %d ran past its deadline of %v", epoch+1, timeout)
				case current == StageStart:
					what = fmt.Sprintf("stage start ran past its deadline of %v", timeout)
				case !time.Now().Before(setupDeadline):
					what = fmt.Sprintf("stage %s: parse, contract, build, forward and params together ran past their deadline of %v (Limits.SetupTimeout; training before the first epoch is not allowed)", current, lim.SetupTimeout)
				}
				fail(current, FailTimeout, what, "")
			case errors.Is(err, errDisk):
				fail(current, FailDisk, "the model "+p.diskMessage(), "")
			case errors.Is(err, errFlood):
				fail(current, FailOutputFlood, fmt.Sprintf("wrote more than %d bytes to stdout/stderr", lim.Output), "")
			case errors.As(err, &te):
				fail(current, FailTampered, "the event stream carried "+te.msg, "")
			case errors.Is(err, errEOF):
				fail(current, "", "", "") // judged by the exit status
			case ctx.Err() != nil:
				fail(current, FailCanceled, "canceled: "+ctx.Err().Error(), "")
			default:
				fail(current, FailInternal, err.Error(), "")
			}
			return
		}
		switch ev.T {
		case "error":
			st := Stage(ev.Stage)
			if st == "wait" {
				st = StageTrain
			}
			fail(st, FailKind(ev.Kind), ev.Message, ev.Traceback)
			return
		case "stage":
			if next >= len(stageOrder) || Stage(ev.Stage) != stageOrder[next] {
				fail(current, FailTampered, fmt.Sprintf("stage %q reported where %q was due", ev.Stage, current), "")
				return
			}
			st := stageOrder[next]
			detail, err := onStage(job, res, st, ev)
			if err != nil {
				fail(st, FailTampered, err.Error(), "")
				return
			}
			if st == StageStart {
				res.StartupSec = ev.at.Sub(p.startedAt()).Seconds()
				clock, stageAt = ev.at, ev.at
				setupDeadline = ev.at.Add(lim.SetupTimeout)
				baseRSS, _ = treeRSS(p.pid())
			} else {
				res.StageSeconds[st] = ev.at.Sub(stageAt).Seconds()
				stageAt = ev.at
			}
			if st == StageParams {
				res.SetupSec = ev.at.Sub(clock).Seconds()
				// The worker waits for "go" here, so what it holds now is
				// the built model, measured before training allocates more.
				if rss, err := treeRSS(p.pid()); err == nil {
					res.SetupMemory = max(0, rss-baseRSS)
				}
				if limit := setupMemoryLimit(lim, job.MaxParams); limit > 0 && res.SetupMemory > limit {
					fail(st, FailTooBig, fmt.Sprintf("the worker's resident memory grew by %d MiB while the model was built (limit %d MiB for %d parameters): "+
						"weights count whether or not they are nn.Parameters (raise --max-params, or Limits.SetupMemory)", res.SetupMemory>>20, limit>>20, job.MaxParams), "")
					return
				}
				p.decide(1, "go") // the first answer; epoch n's is answer n+1
			}
			res.Reached = st
			r.emit(Event{Type: EventStage, Stage: st, Detail: detail})
			next++
			if next < len(stageOrder) {
				current = stageOrder[next]
				timeout = lim.StageTimeout
			} else {
				current = StageTrain
				timeout = lim.EpochTimeout
				epochAt = ev.at
			}
		case "batch":
			if current != StageTrain || ev.Epoch != epoch+1 || ev.Batch < 1 || ev.Batch > ev.Batches {
				fail(current, FailTampered, fmt.Sprintf("batch %d/%d of epoch %d reported out of order", ev.Batch, ev.Batches, ev.Epoch), "")
				return
			}
			if len(r.events) < progressSlack {
				r.emit(Event{Type: EventBatch, Stage: StageTrain, Progress: &Progress{Epoch: ev.Epoch, Batch: ev.Batch, Batches: ev.Batches}})
			}
		case "epoch":
			if current != StageTrain || ev.Epoch != epoch+1 || ev.Epoch > job.Epochs {
				fail(current, FailTampered, fmt.Sprintf("epoch %d reported out of order", ev.Epoch), "")
				return
			}
			if epoch > 0 {
				if t, ok := p.resumed(epoch + 1); ok && t.After(lastEpoch) {
					waited += t.Sub(lastEpoch)
					epochAt = t
				}
			}
			epoch, lastEpoch = ev.Epoch, ev.at
			dur := ev.at.Sub(clock) - waited
			secs := ev.at.Sub(epochAt).Seconds()
			acc, err := score(p, res, ev, labels, job.Data.Classes)
			if err != nil {
				fail(StageEval, FailTampered, err.Error(), "")
				return
			}
			// The worker's split of the epoch into training and evaluation
			// cannot exceed the time the coordinator saw pass.
			// An epoch is one pass over the training set: more samples than
			// it has are not credited to throughput.
			trainS := min(max(ev.TrainSeconds, 0), secs)
			er := EpochResult{Epoch: epoch, Accuracy: acc, Duration: dur.Nanoseconds(), Seconds: secs, TrainLoss: ev.TrainLoss,
				TrainSeconds: trainS, EvalSeconds: min(max(ev.EvalSeconds, 0), secs-trainS), Samples: min(max(ev.Samples, 0), job.Data.NTrain)}
			if secs > 0 {
				er.SamplesPerSec = float64(er.Samples) / secs
			}
			res.Epochs = append(res.Epochs, er)
			res.Reached = StageEval
			r.emit(Event{Type: EventEpoch, Stage: StageEval, Epoch: &er})
			if epoch < job.Epochs {
				d := Continue
				if job.OnEpoch != nil {
					d = job.OnEpoch(er)
				}
				if r.stopRequested() {
					d = Stop
				}
				word := "continue"
				if d == Stop {
					word = "stop"
				}
				res.Stopped = p.decide(epoch+1, word) == "stop"
			}
			timeout = lim.EpochTimeout
		case "done":
			if current != StageTrain || epoch == 0 || (!ev.Stopped && epoch != job.Epochs) || (ev.Stopped && !res.Stopped) {
				fail(current, FailTampered, fmt.Sprintf("done reported after %d of %d epochs", epoch, job.Epochs), "")
				return
			}
			res.Reached = StageDone
			return
		default:
			fail(current, FailTampered, fmt.Sprintf("unknown event type %q", ev.T), "")
			return
		}
	}
}

// onStage takes what a stage event reports into res and returns the line
// to show.
func onStage(job Job, res *Result, st Stage, ev wireEvent) (string, error) {
	switch st {
	case StageStart:
		res.Torch, _ = ev.Info["torch"].(string)
		res.Python, _ = ev.Info["python"].(string)
		res.GPU, _ = ev.Info["gpu"].(string)
		if d, ok := ev.Info["device"].(string); ok {
			res.Device = d
		}
		if t, ok := ev.Info["threads"].(float64); ok {
			res.Threads = int(t)
		}
		s := fmt.Sprintf("python %s, torch %s, %s, %d threads, %s", res.Python, res.Torch, res.Device, res.Threads, res.Isolation)
		if res.GPU != "" {
			s += ", " + res.GPU
		}
		return s, nil
	case StageParse:
		return "compiles", nil
	case StageContract:
		v, err := lemur.DecodeJSON(ev.Prm)
		if err != nil {
			return "", fmt.Errorf("contract event: prm: %v", err)
		}
		prm, ok := v.(lemur.Dict)
		if !ok {
			return "", errors.New("contract event: prm is not an object")
		}
		if err := checkPrm(prm, job.Prm, job.DefaultPrm); err != nil {
			return "", err
		}
		res.Prm, res.Supported, res.Unused = prm, ev.Supported, ev.Unused
		s := "supported_hyperparameters: " + strings.Join(ev.Supported, ", ") + "; prm " + lemur.Repr(prm)
		if len(ev.Unused) > 0 {
			s += "; WARNING never used in the code: " + strings.Join(ev.Unused, ", ")
		}
		return s, nil
	case StageBuild:
		return fmt.Sprintf("Net(in_shape=%v, out_shape=(%d,)) and train_setup ok", ev.InShape, job.Data.Classes), nil
	case StageForward:
		return "output " + string(ev.Output), nil
	case StageParams:
		res.Params, res.Tensors = ev.Params, ev.Tensors
		return fmt.Sprintf("%d parameters (%d trainable), %d tensor elements held", ev.Params, ev.Trainable, ev.Tensors), nil
	}
	return "", nil
}

// setupMemoryLimit is Limits.SetupMemory, or 512 MiB (an interpreter's
// imports and one forward pass's leftovers) plus 8 bytes per allowed
// parameter (a float32 weight and its gradient); 0 without a parameter
// limit.
func setupMemoryLimit(lim Limits, maxParams int64) int64 {
	if lim.SetupMemory > 0 {
		return lim.SetupMemory
	}
	if maxParams <= 0 {
		return 0
	}
	return 512<<20 + 8*maxParams
}

// checkPrm: the worker may only add defaults for keys the caller did not set.
func checkPrm(got, given, defaults lemur.Dict) error {
	for _, it := range given {
		v, ok := got.Get(it.Key)
		if !ok || lemur.Repr(v) != lemur.Repr(it.Value) {
			return fmt.Errorf("contract event: prm %s changed from %s", it.Key, lemur.Repr(it.Value))
		}
	}
	for _, it := range got {
		if _, ok := given.Get(it.Key); ok {
			continue
		}
		d, ok := defaults.Get(it.Key)
		if !ok || lemur.Repr(d) != lemur.Repr(it.Value) {
			return fmt.Errorf("contract event: prm %s = %s came from nowhere", it.Key, lemur.Repr(it.Value))
		}
	}
	return nil
}

// score computes an epoch's accuracy from the predictions file.
func score(p conn, res *Result, ev wireEvent, labels []int64, classes int) (float64, error) {
	want := fmt.Sprintf("pred-%d.npy", ev.Epoch)
	if ev.Pred != want {
		return 0, fmt.Errorf("epoch %d: predictions in %q, want %q", ev.Epoch, ev.Pred, want)
	}
	path := filepath.Join(p.scratchDir(), want)
	a, err := readNpy(path, len(labels)*classes)
	if err != nil {
		return 0, fmt.Errorf("epoch %d: predictions: %v", ev.Epoch, err)
	}
	if len(a.Shape) != 2 || a.Shape[0] != len(labels) || a.Shape[1] != classes || a.F == nil {
		return 0, fmt.Errorf("epoch %d: predictions of shape %v (%s), want (%d, %d) floats", ev.Epoch, a.Shape, a.Descr, len(labels), classes)
	}
	if res.Scratch == "" && !p.keepPreds() {
		_ = os.Remove(path)
	}
	return accuracy(a.F, classes, labels)
}

func mergeLimits(base, over Limits) Limits {
	return Limits{
		Memory: cmp.Or(over.Memory, base.Memory), CPUTime: cmp.Or(over.CPUTime, base.CPUTime),
		Processes: cmp.Or(over.Processes, base.Processes), OpenFiles: cmp.Or(over.OpenFiles, base.OpenFiles),
		FileSize: cmp.Or(over.FileSize, base.FileSize), Output: cmp.Or(over.Output, base.Output),
		StartTimeout: cmp.Or(over.StartTimeout, base.StartTimeout), StageTimeout: cmp.Or(over.StageTimeout, base.StageTimeout),
		EpochTimeout: cmp.Or(over.EpochTimeout, base.EpochTimeout), SetupTimeout: cmp.Or(over.SetupTimeout, base.SetupTimeout),
		SetupMemory: cmp.Or(over.SetupMemory, base.SetupMemory), TmpSize: cmp.Or(over.TmpSize, base.TmpSize),
		Scratch: cmp.Or(over.Scratch, base.Scratch),
	}
}

// rawDict encodes a Dict as JSON keeping Python's int/float distinction.
type rawDict lemur.Dict

func (d rawDict) MarshalJSON() ([]byte, error) {
	if d == nil {
		return []byte("{}"), nil
	}
	return lemur.EncodeJSON(lemur.Dict(d), 0, false)
}
