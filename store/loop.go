package store

import (
	"context"
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// Candidate states of the closed loop, in the order a candidate moves
// through them. Each is committed before the next step starts, so a killed
// coordinator resumes from the last committed state.
const (
	StateGenerated = "generated" // proposed by a generator, not checked yet
	StateGated     = "gated"     // passed the static gates and dedup
	StateQueued    = "queued"    // waiting for a training slot
	StateRunning   = "running"   // a worker is training it
	StateDone      = "done"      // trained; accuracy recorded
	StateFailed    = "failed"    // the worker rejected or crashed on it
	StatePruned    = "pruned"    // stopped early as hopeless
	StateRejected  = "rejected"  // a static gate rejected it
	StateDuplicate = "duplicate" // the same model is already known
	StateScreened  = "screened"  // not trained: predicted before training (k = 0) to end below the bar; Predicted holds the prediction
)

// Final reports whether a candidate in state s needs no more work.
func Final(s string) bool {
	switch s {
	case StateDone, StateFailed, StatePruned, StateRejected, StateDuplicate, StateScreened:
		return true
	}
	return false
}

// LoopStatus is where a loop stands.
type LoopStatus string

const (
	LoopRunning     LoopStatus = "running"     // a coordinator is (or was, when it died) working on it
	LoopInterrupted LoopStatus = "interrupted" // stopped by a signal or an error; resumable
	LoopStopped     LoopStatus = "stopped"     // ended early on purpose (time budget); not resumed
	LoopDone        LoopStatus = "done"        // every cycle finished
)

// Resumable reports whether `nngpt run` continues a loop in status s.
func (s LoopStatus) Resumable() bool { return s == LoopRunning || s == LoopInterrupted }

// Loop is one closed-loop study: the settings it started with and how far
// it got. `nngpt run` resumes the latest unfinished one.
type Loop struct {
	ID        string     `json:"id"`
	Status    LoopStatus `json:"status"`
	Config    string     `json:"config"` // the loop's settings as JSON (loop.Settings)
	Seed      int64      `json:"seed"`
	Cycles    int        `json:"cycles"`     // planned
	CycleDone int        `json:"cycle_done"` // cycles fully finished
	Created   time.Time  `json:"created"`
	Updated   time.Time  `json:"updated"`
}

// CandidateRow is the journal entry of one candidate of a loop.
type CandidateRow struct {
	ID        string         `json:"id"` // <loop>-c<cycle>-<index>
	LoopID    string         `json:"loop_id"`
	Cycle     int            `json:"cycle"`
	Index     int            `json:"index"`
	State     string         `json:"state"`
	Name      string         `json:"name"` // LEMUR name: <generator>-<code id>
	CodeID    string         `json:"code_id"`
	Code      string         `json:"code"`
	Generator string         `json:"generator"` // evolve, llm, ...
	Parents   []string       `json:"parents"`
	Operators []string       `json:"operators"`
	Pipeline  lemur.Pipeline `json:"pipeline"`
	Prm       lemur.Dict     `json:"-"`      // hyperparameters incl. batch and transform
	Reason    string         `json:"reason"` // why rejected, failed or pruned (typed reason)
	Detail    string         `json:"detail"`
	Epochs    []float64      `json:"epochs"`    // accuracy after each finished epoch
	Durations []int64        `json:"durations"` // cumulative ns at the end of each finished epoch (LEMUR's duration)
	Params    int64          `json:"params"`
	Duration  int64          `json:"duration_ns"` // training wall time
	Admitted  bool           `json:"admitted"`
	Predicted *float64       `json:"predicted,omitempty"` // predicted best accuracy when pruned or screened
	Repro     string         `json:"repro"`               // JSON: seed, prompt hash, LLM endpoint and model, operators, dataset and split ids, python, torch, device
	Updated   time.Time      `json:"updated"`
}

// Best is the highest epoch accuracy (0 when none).
func (c *CandidateRow) Best() float64 {
	b := 0.0
	for _, a := range c.Epochs {
		b = max(b, a)
	}
	return b
}

// Journal is the closed loop's record of its studies and candidates.
type Journal interface {
	// PutLoop creates or updates a loop.
	PutLoop(ctx context.Context, l Loop) error
	// GetLoop returns one loop; ok is false when there is none.
	GetLoop(ctx context.Context, id string) (l Loop, ok bool, err error)
	// Loops lists every loop, newest first.
	Loops(ctx context.Context) ([]Loop, error)
	// PutCandidate creates or updates a candidate (by ID), committed when it
	// returns.
	PutCandidate(ctx context.Context, c CandidateRow) error
	// Candidates lists a loop's candidates by cycle and index.
	Candidates(ctx context.Context, loopID string) ([]CandidateRow, error)
}
