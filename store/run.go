package store

import (
	"context"
	"iter"
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// Run is nngpt's own record of one training run: everything LEMUR's stat
// rows do not keep (how far it got, why it failed, where it ran).
type Run struct {
	ID     string `json:"id"`     // runner's run id
	Origin string `json:"origin"` // what started it: check, loop, hpo, ...
	NN     string `json:"nn"`     // model name
	CodeID string `json:"code_id"`
	// Pipeline
	Task      string `json:"task"`
	Dataset   string `json:"dataset"`
	Metric    string `json:"metric"`
	Transform string `json:"transform"`
	UID       string `json:"uid"` // LEMUR trial uid of Prm
	// Prm is the trial's hyperparameters as LEMUR records them (incl. batch, transform).
	Prm             lemur.Dict `json:"-"`
	Batch           int        `json:"batch"`
	EpochsRequested int        `json:"epochs_requested"`
	// Status: ok, stopped (early, on request), failed, canceled.
	Status         string `json:"status"`
	Stage          string `json:"stage"` // last stage reached
	FailureKind    string `json:"failure_kind,omitempty"`
	FailureMessage string `json:"failure_message,omitempty"`
	LogTail        string `json:"log_tail,omitempty"`
	Params         int64  `json:"params"`
	Torch          string `json:"torch"`
	Python         string `json:"python"`
	Device         string `json:"device"`
	Threads        int    `json:"threads"`
	Isolation      string `json:"isolation"`
	Seed           int64  `json:"seed"`
	DatasetID      string `json:"dataset_id"` // cache key of the prepared data
	SplitID        string `json:"split_id"`   // hash of the exact splits
	// The data trained and scored on: sizes, and whether they are a seeded
	// subset of a real dataset (DataSeed drew it), so subset results are
	// never taken for full-data ones.
	TrainSize  int   `json:"train_size"`
	TestSize   int   `json:"test_size"`
	DataSubset bool  `json:"data_subset"`
	DataSeed   int64 `json:"data_seed"`
	// Measured by the coordinator: seconds of model code before the first
	// epoch, resident memory gained over them; and the tensor elements the
	// model holds, as the worker counted them.
	SetupSeconds float64    `json:"setup_seconds"`
	SetupMemory  int64      `json:"setup_memory"`
	Tensors      int64      `json:"tensors"`
	Epochs       []RunEpoch `json:"epochs"`
	BestAccuracy float64    `json:"best_accuracy"`
	StartedAt    time.Time  `json:"started_at"`
	FinishedAt   time.Time  `json:"finished_at"`
}

// RunEpoch is one finished epoch of a run.
type RunEpoch struct {
	Epoch         int      `json:"epoch"`
	Accuracy      float64  `json:"accuracy"`
	Duration      int64    `json:"duration"` // cumulative ns, as in the stat row
	TrainLoss     *float64 `json:"train_loss,omitempty"`
	TrainSeconds  float64  `json:"train_seconds"`
	EvalSeconds   float64  `json:"eval_seconds"`
	SamplesPerSec float64  `json:"samples_per_sec"`
	Seconds       float64  `json:"seconds,omitempty"` // this epoch's wall time, coordinator's clock
}

// RunFilter selects runs; empty fields match everything.
type RunFilter struct {
	NN, Dataset, Status, FailureKind, Origin string
	Limit                                    int // 0: no limit
}

// Runs keeps the project's run records (table nngpt_run).
type Runs interface {
	// PutRun inserts the run, or replaces the one with its ID.
	PutRun(ctx context.Context, r Run) error
	// GetRun returns one run; ok is false when there is none.
	GetRun(ctx context.Context, id string) (r Run, ok bool, err error)
	// ListRuns streams runs matching f, newest first.
	ListRuns(ctx context.Context, f RunFilter) iter.Seq2[Run, error]
}
