package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

const runCols = `id, origin, nn, code_id, task, dataset, metric, transform, uid, prm, batch, epochs_requested, epochs_done,
	status, stage, failure_kind, failure_message, log_tail, params, torch, python, device, threads, isolation, seed,
	dataset_id, split_id, epochs, best_accuracy, started_at, finished_at,
	train_size, test_size, data_subset, data_seed, setup_seconds, setup_memory, tensors`

// PutRun inserts r or replaces the run with its ID.
func (db *DB) PutRun(ctx context.Context, r store.Run) error {
	if r.ID == "" || r.NN == "" || r.Status == "" {
		return fmt.Errorf("put run: id, nn and status are required (got %q, %q, %q)", r.ID, r.NN, r.Status)
	}
	prm := []byte("{}")
	if len(r.Prm) > 0 {
		var err error
		if prm, err = lemur.EncodeJSON(r.Prm, 0, false); err != nil {
			return fmt.Errorf("put run %s: prm: %w", r.ID, err)
		}
	}
	epochs := r.Epochs
	if epochs == nil {
		epochs = []store.RunEpoch{}
	}
	ej, err := json.Marshal(epochs)
	if err != nil {
		return fmt.Errorf("put run %s: epochs: %w", r.ID, err)
	}
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO nngpt_run (`+runCols+`)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			r.ID, r.Origin, r.NN, r.CodeID, r.Task, r.Dataset, r.Metric, r.Transform, r.UID, string(prm), r.Batch,
			r.EpochsRequested, len(r.Epochs), r.Status, r.Stage, r.FailureKind, r.FailureMessage, r.LogTail, r.Params,
			r.Torch, r.Python, r.Device, r.Threads, r.Isolation, r.Seed, r.DatasetID, r.SplitID, string(ej),
			r.BestAccuracy, fmtTime(r.StartedAt), fmtTime(r.FinishedAt),
			r.TrainSize, r.TestSize, r.DataSubset, r.DataSeed, r.SetupSeconds, r.SetupMemory, r.Tensors)
		if err != nil {
			return fmt.Errorf("put run %s: %w", r.ID, err)
		}
		return nil
	})
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// GetRun returns the run with id.
func (db *DB) GetRun(ctx context.Context, id string) (store.Run, bool, error) {
	row := db.r.QueryRowContext(ctx, `SELECT `+runCols+` FROM nngpt_run WHERE id = ?`, id)
	r, err := scanRun(row)
	if err == sql.ErrNoRows {
		return store.Run{}, false, nil
	}
	if err != nil {
		return store.Run{}, false, fmt.Errorf("run %s: %w", id, err)
	}
	return r, true, nil
}

// ListRuns streams runs matching f, newest first.
func (db *DB) ListRuns(ctx context.Context, f store.RunFilter) iter.Seq2[store.Run, error] {
	return func(yield func(store.Run, error) bool) {
		var where []string
		var args []any
		for _, c := range []struct{ col, v string }{{"nn", f.NN}, {"dataset", f.Dataset}, {"status", f.Status},
			{"failure_kind", f.FailureKind}, {"origin", f.Origin}} {
			if c.v != "" {
				where = append(where, c.col+" = ?")
				args = append(args, c.v)
			}
		}
		q := `SELECT ` + runCols + ` FROM nngpt_run`
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		q += " ORDER BY started_at DESC, id"
		if f.Limit > 0 {
			q += fmt.Sprintf(" LIMIT %d", f.Limit)
		}
		rows, err := db.r.QueryContext(ctx, q, args...)
		if err != nil {
			yield(store.Run{}, fmt.Errorf("list runs: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				yield(store.Run{}, fmt.Errorf("list runs: %w", err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.Run{}, fmt.Errorf("list runs: %w", err))
		}
	}
}

type scanner interface{ Scan(dest ...any) error }

func scanRun(s scanner) (store.Run, error) {
	var r store.Run
	var prm, epochs, started, finished string
	var done int
	err := s.Scan(&r.ID, &r.Origin, &r.NN, &r.CodeID, &r.Task, &r.Dataset, &r.Metric, &r.Transform, &r.UID, &prm,
		&r.Batch, &r.EpochsRequested, &done, &r.Status, &r.Stage, &r.FailureKind, &r.FailureMessage, &r.LogTail,
		&r.Params, &r.Torch, &r.Python, &r.Device, &r.Threads, &r.Isolation, &r.Seed, &r.DatasetID, &r.SplitID,
		&epochs, &r.BestAccuracy, &started, &finished,
		&r.TrainSize, &r.TestSize, &r.DataSubset, &r.DataSeed, &r.SetupSeconds, &r.SetupMemory, &r.Tensors)
	if err != nil {
		return r, err
	}
	v, err := lemur.DecodeJSON([]byte(prm))
	if err != nil {
		return r, fmt.Errorf("run %s: prm: %w", r.ID, err)
	}
	if d, ok := v.(lemur.Dict); ok && len(d) > 0 {
		r.Prm = d
	}
	if err := json.Unmarshal([]byte(epochs), &r.Epochs); err != nil {
		return r, fmt.Errorf("run %s: epochs: %w", r.ID, err)
	}
	if r.StartedAt, err = time.Parse(time.RFC3339Nano, started); err != nil {
		return r, fmt.Errorf("run %s: started_at: %w", r.ID, err)
	}
	if r.FinishedAt, err = time.Parse(time.RFC3339Nano, finished); err != nil {
		return r, fmt.Errorf("run %s: finished_at: %w", r.ID, err)
	}
	return r, nil
}
