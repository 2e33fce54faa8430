// Package store is nngpt's corpus: LEMUR's tables (nn, transform, metric, prm,
// stat) plus the project's own. Store is the interface every part of nngpt
// uses; store/sqlite (one file, the default) and store/postgres (one corpus
// shared by several coordinators) implement it, and nothing outside
// store/<impl> sees SQL. store/storetest is the behaviour suite both pass.
package store

import (
	"context"
	"iter"

	"github.com/nngpt/nngpt/lemur"
)

// Store is the whole corpus. It embeds one interface per concern so each can
// grow in its own file.
type Store interface {
	Corpus
	Runs
	Dedup
	Journal
	HPO
	RAG
	Claims
	Leases
	Close() error
}

// CodeKind names one of LEMUR's code tables.
type CodeKind string

const (
	KindNN        CodeKind = "nn"
	KindTransform CodeKind = "transform"
	KindMetric    CodeKind = "metric"
)

// CodeKinds lists the code tables in LEMUR's order.
var CodeKinds = []CodeKind{KindNN, KindTransform, KindMetric}

// Code is one row of a code table.
type Code struct {
	Kind CodeKind
	Name string
	Code string
	ID   string // lemur.CodeID(Code)
}

// Filter selects stat rows with the semantics of LEMUR's data(): empty
// fields match everything.
type Filter struct {
	Task, Dataset, Metric, NN string
	Epoch                     int  // 0: any epoch (LEMUR has a few 0.json files; use EpochSet)
	EpochSet                  bool // Epoch is a filter
	BestOnly                  bool // keep only the best-accuracy rows per task, dataset, metric, nn, epoch (ties kept)
	MaxRows                   int  // 0: no limit
}

// AddResult counts what an AddStats or PutCode call did.
type AddResult struct {
	Added   int // rows that were new
	Present int // rows that were already there (same LEMUR id)
}

// SummaryRow counts the corpus per task, dataset and metric.
type SummaryRow struct {
	Task         string  `json:"task"`
	Dataset      string  `json:"dataset"`
	Metric       string  `json:"metric"`
	Models       int     `json:"models"`
	Trials       int     `json:"trials"`
	Records      int     `json:"records"`
	MaxEpoch     int     `json:"max_epoch"`
	BestAccuracy float64 `json:"best_accuracy"`
}

// Corpus is the LEMUR part of the store.
type Corpus interface {
	// AddStats inserts records atomically: all of them or none. Records
	// whose stat id is already stored are counted as present, not changed.
	AddStats(ctx context.Context, recs []lemur.Record) (AddResult, error)
	// BulkAddStats runs fill inside one write transaction; each call of add
	// inserts records as AddStats does. When fill returns an error nothing
	// is written. Meant for imports: into an empty corpus it builds the
	// indexes once at the end instead of row by row.
	BulkAddStats(ctx context.Context, fill func(add func([]lemur.Record) error) error) (AddResult, error)
	// PutCode stores code under a name. The same name with the same code is
	// counted as present; the same name with other code replaces it, as
	// LEMUR's code_to_db does.
	PutCode(ctx context.Context, c Code) (AddResult, error)
	// Code returns one code row; ok is false when there is none.
	Code(ctx context.Context, kind CodeKind, name string) (c Code, ok bool, err error)
	// Codes streams every row of a code table whose name starts with prefix.
	Codes(ctx context.Context, kind CodeKind, prefix string) iter.Seq2[Code, error]
	// CodeByID finds a code row by its LEMUR code id.
	CodeByID(ctx context.Context, kind CodeKind, id string) (c Code, ok bool, err error)
	// Stats streams stat rows matching f, ordered by task, dataset, metric,
	// nn, epoch and descending accuracy.
	Stats(ctx context.Context, f Filter) iter.Seq2[lemur.Record, error]
	// Summary counts the corpus per task, dataset and metric.
	Summary(ctx context.Context) ([]SummaryRow, error)
	// Counts returns the totals of pipelines, models and stat rows.
	Counts(ctx context.Context) (Counts, error)
}

// Counts are corpus totals.
type Counts struct {
	Pipelines int `json:"pipelines"`
	Models    int `json:"models"`
	Records   int `json:"records"`
	Codes     int `json:"codes"`
}
