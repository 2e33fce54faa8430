// Package bench holds the harnesses behind `nngpt bench ...`: each one
// measures a part of nngpt on real data and returns its figures.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
)

// DefaultLEMUR is where the development archive sits beside a checkout of
// the project; benchmarks look there when no path is given.
const DefaultLEMUR = "../shared/lemur/lemur-stat-dev.tar.gz"

// FindLEMUR returns path, or the development archive when path is empty,
// with an error that says what to pass when neither exists.
func FindLEMUR(path string) (string, error) {
	if path == "" {
		path = DefaultLEMUR
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("LEMUR data %s not found: pass --lemur PATH (a LEMUR checkout, stat folder or .tar.gz)", path)
		}
		return "", err
	}
	return path, nil
}

// ImportResult are the figures of one import benchmark.
type ImportResult struct {
	Source        string        `json:"source"`
	Records       int           `json:"records"`
	Files         int           `json:"files"`
	Pipelines     int           `json:"pipelines"`
	Models        int           `json:"models"`
	ImportWall    time.Duration `json:"import_wall_ns"`
	RecordsPerSec float64       `json:"records_per_second"`
	PeakRSSBytes  int64         `json:"peak_rss_bytes"`
	QueryWall     time.Duration `json:"query_wall_ns"` // data --best --task img-classification --json
	QueryRows     int           `json:"query_rows"`
	UIDsChecked   int           `json:"uids_recomputed"`
	UIDsMatching  int           `json:"uids_matching"`
}

// Import imports the tree at src into an empty workspace under tmp, then
// times LEMUR's data(only_best_accuracy=True) query for one task written
// as JSON lines, and recomputes every record's uid from its
// hyperparameters. Peak RSS is the process's, so run it in a fresh process.
func Import(ctx context.Context, src, tmp, task string) (*ImportResult, error) {
	dir, err := os.MkdirTemp(tmp, "nngpt-bench-import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "nngpt.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	t0 := time.Now()
	rep, err := corpus.Import(ctx, st, src, corpus.ImportOptions{})
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Source: src, Records: rep.Records, Files: rep.Files, Pipelines: rep.Pipelines, Models: rep.Models,
		ImportWall: time.Since(t0)}
	res.RecordsPerSec = float64(rep.Records) / res.ImportWall.Seconds()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.PeakRSSBytes = ru.Maxrss * 1024
	}

	t1 := time.Now()
	for r, err := range st.Stats(ctx, store.Filter{Task: task, BestOnly: true}) {
		if err != nil {
			return nil, err
		}
		b, err := lemur.EncodeJSON(r.Prm, 0, false)
		if err != nil {
			return nil, err
		}
		io.Discard.Write(b)
		res.QueryRows++
	}
	res.QueryWall = time.Since(t1)

	for r, err := range st.Stats(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		res.UIDsChecked++
		if lemur.UID(r.Prm) == r.UID {
			res.UIDsMatching++
		}
	}
	return res, nil
}
