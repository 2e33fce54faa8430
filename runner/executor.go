package runner

import (
	"context"
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// Executor runs jobs. Local runs them on this machine; Remote runs them
// through a Launcher elsewhere (runner/slurm: one Slurm job each).
type Executor interface {
	// Submit queues job and returns at once; the run starts when a slot is
	// free. Errors are about the job itself (no code, no dataset, ...).
	// Canceling ctx cancels the run.
	Submit(ctx context.Context, job Job) (Run, error)
}

// Run is one submitted job.
type Run interface {
	// ID is unique per run (random hex).
	ID() string
	// Events delivers the run's events in order and is closed after the
	// last (EventDone or EventFailed). It is buffered for every event a run
	// can produce, so a caller that never reads it does not stall the run.
	Events() <-chan Event
	// Stop asks the run to finish after the epoch in progress; the result
	// is then a success with Stopped set. It does not interrupt an epoch.
	Stop()
	// Cancel kills the run now (kind "canceled").
	Cancel()
	// Wait blocks until the run is over. err is non-nil only when nngpt
	// could not judge the model (the interpreter would not start, the
	// scratch folder could not be made, ctx ended): the model's own
	// failures are in Result.Failure.
	Wait(ctx context.Context) (*Result, error)
}

// Result is the outcome of a run.
type Result struct {
	RunID   string        `json:"run_id"`
	Name    string        `json:"name"`
	CodeID  string        `json:"code_id"`
	OK      bool          `json:"ok"`      // every requested epoch trained (or stopped on request) and no failure
	Stopped bool          `json:"stopped"` // ended early by OnEpoch or Stop
	Reached Stage         `json:"reached"` // the last stage passed
	Failure *Failure      `json:"failure"` // nil when OK
	Epochs  []EpochResult `json:"epochs"`  // finished epochs, in order
	Params  int64         `json:"params"`  // nn.Parameter elements, as the worker reports them (0 before the params stage)
	Tensors int64         `json:"tensors"` // elements of every tensor the model holds (parameters, buffers, plain attributes), as the worker reports them
	// SetupMemory is the resident memory the worker gained from the start
	// stage to the params stage, read by the coordinator in /proc: the
	// trusted measure of the model's size.
	SetupMemory  int64      `json:"setup_memory"`
	Prm          lemur.Dict `json:"-"`                // the hyperparameters the model got (given + defaults for what it supports)
	Supported    []string   `json:"supported"`        // supported_hyperparameters()
	Unused       []string   `json:"unused,omitempty"` // supported keys never named in the code (NNGPT's rule)
	Batch        int        `json:"batch"`
	EpochsWanted int        `json:"epochs_wanted"`
	SplitID      string     `json:"split_id"`
	Transform    string     `json:"transform"`
	Seed         int64      `json:"seed"`
	Device       string     `json:"device"`
	GPU          string     `json:"gpu,omitempty"`
	Threads      int        `json:"threads"`
	Torch        string     `json:"torch"`
	Python       string     `json:"python"`
	Isolation    Isolation  `json:"isolation"`
	DatasetID    string     `json:"dataset_id"`
	Dataset      string     `json:"dataset"`
	Classes      int        `json:"classes"`
	LogTail      string     `json:"log_tail"`
	LogBytes     int64      `json:"log_bytes"`
	Started      time.Time  `json:"started"`
	Finished     time.Time  `json:"finished"`
	StartupSec   float64    `json:"startup_seconds"` // process start to the start event (python, torch, data)
	// SetupSec is the time from the start event to the params event: model
	// code before its first epoch (import, Net(...), train_setup, one
	// forward). It is part of every epoch's Duration and shown apart so
	// that work hidden there shows.
	SetupSec     float64           `json:"setup_seconds"`
	StageSeconds map[Stage]float64 `json:"stage_seconds"` // parse .. params, each from the previous stage's event
	Data         DataProvenance    `json:"data"`          // what the model trained and was scored on
	Scratch      string            `json:"scratch,omitempty"`
}

// Best is the highest accuracy over the finished epochs (0 when none).
func (r *Result) Best() float64 {
	b := 0.0
	for _, e := range r.Epochs {
		if e.Accuracy > b {
			b = e.Accuracy
		}
	}
	return b
}

// Last is the accuracy of the last finished epoch (0 when none).
func (r *Result) Last() float64 {
	if len(r.Epochs) == 0 {
		return 0
	}
	return r.Epochs[len(r.Epochs)-1].Accuracy
}

// RecordPrm is the trial's hyperparameter dict as LEMUR records it: the
// model's hyperparameters plus batch and transform.
func (r *Result) RecordPrm() lemur.Dict {
	return lemur.JoinPrm(r.Prm, r.Batch, r.Transform)
}

// Records are the LEMUR stat rows of the finished epochs under p.
func (r *Result) Records(p lemur.Pipeline) []lemur.Record {
	prm := r.RecordPrm()
	out := make([]lemur.Record, 0, len(r.Epochs))
	for _, e := range r.Epochs {
		d := e.Duration
		out = append(out, lemur.NewRecord(p, e.Epoch, e.Accuracy, &d, prm))
	}
	return out
}
