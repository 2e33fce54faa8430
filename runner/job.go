package runner

import (
	"fmt"
	"slices"
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// JobKind selects what the worker does.
type JobKind string

const (
	// KindTrain checks, builds, trains and evaluates a LEMUR-contract model.
	KindTrain JobKind = "train"
	// KindProbe executes a file as a module and optionally instantiates a
	// class and runs it forward (see Probe).
	KindProbe JobKind = "probe"
	// KindPrepare builds a dataset cache (see Datasets.Prepare).
	KindPrepare JobKind = "prepare"
)

// Stage is a step of a training job, in order.
type Stage string

const (
	StageStart    Stage = "start"    // interpreter, torch and dataset loaded
	StageParse    Stage = "parse"    // the file compiles
	StageContract Stage = "contract" // Net, its methods and supported_hyperparameters() exist
	StageBuild    Stage = "build"    // Net(...) and train_setup(prm) ran
	StageForward  Stage = "forward"  // one batch gives (B, classes)
	StageParams   Stage = "params"   // parameter count within the limit
	StageTrain    Stage = "train"    // learn() over one epoch
	StageEval     Stage = "eval"     // logits for the test split
	StageDone     Stage = "done"     // every requested epoch (or a stop) finished
)

// Stages lists every stage in the order a run passes them.
var Stages = []Stage{StageStart, StageParse, StageContract, StageBuild, StageForward, StageParams, StageTrain, StageEval, StageDone}

// AtLeast reports whether a run that reached s got at least as far as want.
func (s Stage) AtLeast(want Stage) bool {
	si, wi := slices.Index(Stages, s), slices.Index(Stages, want)
	return si >= 0 && wi >= 0 && si >= wi
}

// FailKind says why a run failed. Model faults and sandbox refusals have
// their own kinds so callers (the gate, the loop's statistics) can count them.
type FailKind string

const (
	FailSyntax      FailKind = "syntax"       // the file does not compile
	FailImport      FailKind = "import"       // module-level code raised
	FailContract    FailKind = "contract"     // Net or a method or supported_hyperparameters() missing or wrong
	FailPrm         FailKind = "prm"          // a supported hyperparameter has no value
	FailBuild       FailKind = "build"        // Net(...) or train_setup raised
	FailForward     FailKind = "forward"      // forward raised
	FailShape       FailKind = "shape"        // forward's output is not (B, classes)
	FailTooBig      FailKind = "too_big"      // more parameters than allowed
	FailTrain       FailKind = "train"        // learn raised
	FailEval        FailKind = "eval"         // evaluation raised
	FailNaNLoss     FailKind = "nan_loss"     // training loss or outputs not finite
	FailTimeout     FailKind = "timeout"      // a stage or epoch ran past its deadline, or CPU time ran out
	FailMemory      FailKind = "memory"       // the memory limit was hit
	FailProcesses   FailKind = "processes"    // the process/thread limit was hit (fork bomb)
	FailForbidden   FailKind = "forbidden"    // I/O the sandbox refuses: network, files outside scratch, refused syscalls
	FailDisk        FailKind = "disk"         // the scratch folder outgrew Limits.Scratch
	FailCrashed     FailKind = "crashed"      // killed by a signal (segfault, ...) or non-zero exit
	FailExited      FailKind = "exited"       // exited (status 0, sys.exit) before finishing
	FailOutputFlood FailKind = "output_flood" // wrote more than Limits.Output to stdout/stderr
	FailTampered    FailKind = "tampered"     // malformed or forged events
	FailDevice      FailKind = "device"       // the requested device is not available
	FailData        FailKind = "data"         // dataset missing or unreadable (prepare jobs)
	FailCanceled    FailKind = "canceled"     // canceled by the caller (or, on a cluster, by scancel)
	FailNodeFailed  FailKind = "node_failed"  // the cluster node running the job failed
	FailPreempted   FailKind = "preempted"    // the cluster preempted the job and did not queue it again
	FailQueue       FailKind = "queue"        // the cluster never started the job (held, rejected, or pending past its deadline)
	FailInternal    FailKind = "internal"     // the worker itself failed
)

// Failure describes why a run failed.
type Failure struct {
	Stage     Stage    `json:"stage"`
	Kind      FailKind `json:"kind"`
	Message   string   `json:"message"`
	Traceback string   `json:"traceback,omitempty"`
}

func (f *Failure) Error() string {
	return fmt.Sprintf("%s at stage %s: %s", f.Kind, f.Stage, f.Message)
}

// Limits bound one worker. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	Memory       int64         // address space in bytes (RLIMIT_AS); not applied on CUDA, whose driver maps huge ranges
	CPUTime      time.Duration // CPU time over all threads (RLIMIT_CPU); 0: derived from the deadlines and threads
	Processes    int           // processes and threads (RLIMIT_NPROC, counted inside the sandbox's user namespace)
	OpenFiles    int           // RLIMIT_NOFILE
	FileSize     int64         // largest file the worker may write (RLIMIT_FSIZE)
	Output       int64         // stdout+stderr bytes before the run is killed (kind output_flood)
	StartTimeout time.Duration // interpreter start, torch import and dataset load
	StageTimeout time.Duration // each of parse, contract, build, forward, params
	// SetupTimeout bounds parse, contract, build, forward and params
	// together: the time model code runs before its first epoch, where
	// training hidden in Net.__init__ or at import would otherwise hide.
	SetupTimeout time.Duration
	EpochTimeout time.Duration // learn + evaluation of one epoch
	// SetupMemory is the most resident memory the worker may gain between
	// the start stage (before any model code) and the params stage,
	// measured by the coordinator in /proc: weights the model hides from
	// the parameter count still take memory. 0: 512 MiB + 8 bytes per
	// allowed parameter.
	SetupMemory int64
	TmpSize     int64 // size of each of the sandbox's /tmp and /dev/shm tmpfs
	Scratch     int64 // bytes the scratch folder may hold (checked from outside, kind disk)
}

// DefaultLimits are generous enough for LEMUR's models on CIFAR-sized data.
var DefaultLimits = Limits{
	Memory:       6 << 30,
	Processes:    256,
	OpenFiles:    1024,
	FileSize:     1 << 30,
	Output:       32 << 20,
	StartTimeout: 2 * time.Minute,
	StageTimeout: time.Minute,
	SetupTimeout: 90 * time.Second,
	EpochTimeout: 30 * time.Minute,
	TmpSize:      256 << 20,
	Scratch:      2 << 30,
}

func (l Limits) withDefaults() Limits { return mergeLimits(DefaultLimits, l) }

// Job is one training run of one model file.
type Job struct {
	// Name is the model's name (LEMUR: no '_'); it names the file in scratch.
	Name string
	// Code is the model file's text.
	Code string
	// Data is the prepared dataset (Datasets.Prepare).
	Data *Dataset
	// Prm holds the hyperparameters the model reads (lr, momentum, ...).
	Prm lemur.Dict
	// DefaultPrm fills the keys supported_hyperparameters() asks for that
	// Prm lacks; keys missing from both fail the run with kind "prm".
	// Nil: DefaultHyperparameters.
	DefaultPrm lemur.Dict
	// Batch is the batch size (LEMUR: a power of two); 0: 64.
	Batch int
	// Transform is a LEMUR transform name; "": "norm".
	Transform string
	// Epochs to train; 0: 1.
	Epochs int
	// Device is "cpu" (default), "cuda" or "cuda:N".
	Device string
	// Seed seeds torch, numpy and random in the worker, and the shuffle.
	Seed int64
	// Threads is torch's intra-op thread count; 0: the executor's share.
	Threads int
	// MaxParams fails models with more parameters; 0: 5,000,000; <0: no limit.
	MaxParams int64
	// Limits override the executor's limits field by field.
	Limits Limits
	// OnEpoch, when set, decides after each epoch but the last whether to
	// go on. It runs on the run's goroutine; keep it quick.
	OnEpoch func(EpochResult) Decision
	// KeepScratch leaves the scratch folder (Result.Scratch) for the caller
	// to inspect and remove.
	KeepScratch bool
	// Key is the caller's stable name for this training (a loop's
	// candidate id), or "". An executor whose runs outlive the coordinator
	// (runner/slurm) attaches a Submit of a key it already ran to that run,
	// alive or finished, instead of training it again. Local ignores it:
	// its workers die with the coordinator.
	Key string
}

// DefaultHyperparameters are the values used for keys a model supports but
// a job does not set: the usual SGD settings of LEMUR's runs.
var DefaultHyperparameters = lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "momentum", Value: 0.9}, {Key: "dropout", Value: 0.2}}

// DefaultMaxParams is the parameter limit when Job.MaxParams is 0.
const DefaultMaxParams = lemur.DefaultMaxParams

// Decision is what OnEpoch returns.
type Decision int

const (
	Continue Decision = iota
	Stop
)

// EpochResult is one finished epoch.
type EpochResult struct {
	Epoch    int     `json:"epoch"`
	Accuracy float64 `json:"accuracy"` // computed by the coordinator from the predictions
	// Duration (LEMUR's duration, ns) is cumulative wall time on the
	// coordinator's clock from the start event (before any model code ran)
	// to this epoch's predictions, less the time the coordinator spent
	// deciding between epochs: it includes the setup (Result.SetupSec).
	Duration      int64    `json:"duration"`
	Seconds       float64  `json:"seconds"`              // this epoch's training and evaluation, coordinator's clock
	TrainLoss     *float64 `json:"train_loss,omitempty"` // mean of the criterion over the epoch, as reported by the worker
	TrainSeconds  float64  `json:"train_seconds"`        // the worker's split of Seconds (reported, capped at Seconds)
	EvalSeconds   float64  `json:"eval_seconds"`         // the rest of it (reported, capped)
	Samples       int      `json:"samples"`              // training samples the worker reports it drew, at most the training set
	SamplesPerSec float64  `json:"samples_per_sec"`      // Samples over Seconds
}

// EventType tells events apart.
type EventType string

const (
	EventStage  EventType = "stage"  // a stage passed (Stage, Detail)
	EventBatch  EventType = "batch"  // training progress within an epoch (Progress), at most twice a second
	EventEpoch  EventType = "epoch"  // an epoch finished (Epoch)
	EventDone   EventType = "done"   // the run finished well (last event)
	EventFailed EventType = "failed" // the run failed (Failure; last event)
)

// Event is one step of a run as the coordinator saw it.
type Event struct {
	Time     time.Time    `json:"time"`
	Type     EventType    `json:"type"`
	Stage    Stage        `json:"stage,omitempty"`
	Detail   string       `json:"detail,omitempty"`
	Epoch    *EpochResult `json:"epoch,omitempty"`
	Progress *Progress    `json:"progress,omitempty"`
	Failure  *Failure     `json:"failure,omitempty"`
}

// Progress is how far the running epoch got, as the worker reports it (for
// display only: nothing is decided on it).
type Progress struct {
	Epoch   int `json:"epoch"`
	Batch   int `json:"batch"`
	Batches int `json:"batches"`
}
