package store

import (
	"context"
	"time"
)

// HPOStudy is a stored hyperparameter search. Space and Attrs are JSON
// written and read by package hpo; the store keeps them as text.
type HPOStudy struct {
	Name      string
	Direction string // maximize or minimize
	Space     string // JSON of hpo.Space
	Sampler   string
	Seed      uint64
	Attrs     string // JSON object: model, dataset, epochs, ...
	// Objectives is a JSON array of {name, direction}; "[]" for a study
	// with the one objective of Direction.
	Objectives string
	Created    time.Time
}

// HPOTrial is one stored trial of a study.
type HPOTrial struct {
	Number       int
	State        string   // waiting, running, complete, pruned, failed
	Params       string   // JSON object with Python types (lemur.EncodeJSON)
	Value        *float64 // the first objective
	Values       string   // JSON array of every objective's value ("[]": single objective)
	Intermediate string   // JSON array of {step, value}
	Source       string   // the sampler or recommender that proposed it
	Note         string
	Started      time.Time // zero: not started
	Finished     time.Time // zero: not finished
}

// HPO persists studies so a search survives restarts and several workers
// (processes) can share one: trial numbers are handed out in write
// transactions, never twice.
type HPO interface {
	// CreateHPOStudy stores s unless a study of that name exists; it
	// returns the stored study and whether it was created now.
	CreateHPOStudy(ctx context.Context, s HPOStudy) (HPOStudy, bool, error)
	// HPOStudies lists the studies by name.
	HPOStudies(ctx context.Context) ([]HPOStudy, error)
	// ReserveHPOTrial claims the oldest waiting trial of a study (marking
	// it running, claimed true) or adds a running trial with the next
	// number and empty params.
	ReserveHPOTrial(ctx context.Context, study string, now time.Time) (t HPOTrial, claimed bool, err error)
	// AddHPOTrial stores t under the study's next number.
	AddHPOTrial(ctx context.Context, study string, t HPOTrial) (HPOTrial, error)
	// UpdateHPOTrial overwrites a stored trial.
	UpdateHPOTrial(ctx context.Context, study string, t HPOTrial) error
	// HPOTrials lists a study's trials by number.
	HPOTrials(ctx context.Context, study string) ([]HPOTrial, error)
}
