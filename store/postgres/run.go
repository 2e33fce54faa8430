package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

const runCols = `id, origin, nn, code_id, task, dataset, metric, transform, uid, prm, batch, epochs_requested, epochs_done,
	status, stage, failure_kind, failure_message, log_tail, params, torch, python, device, threads, isolation, seed,
	dataset_id, split_id, epochs, best_accuracy, started_at, finished_at`

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
	cols := strings.Split(strings.NewReplacer("\n", "", "\t", "", " ", "").Replace(runCols), ",")
	var ph, set []string
	for i, c := range cols {
		ph = append(ph, fmt.Sprintf("$%d", i+1))
		if c != "id" {
			set = append(set, c+" = excluded."+c)
		}
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO nngpt_run (`+runCols+`) VALUES (`+strings.Join(ph, ",")+`)
		ON CONFLICT (id) DO UPDATE SET `+strings.Join(set, ", "),
		r.ID, r.Origin, r.NN, r.CodeID, r.Task, r.Dataset, r.Metric, r.Transform, r.UID, string(prm), r.Batch,
		r.EpochsRequested, len(r.Epochs), r.Status, r.Stage, r.FailureKind, r.FailureMessage, r.LogTail, r.Params,
		r.Torch, r.Python, r.Device, r.Threads, r.Isolation, r.Seed, r.DatasetID, r.SplitID, string(ej),
		r.BestAccuracy, fmtTime(r.StartedAt), fmtTime(r.FinishedAt))
	if err != nil {
		return fmt.Errorf("put run %s: %w", r.ID, err)
	}
	return nil
}

// Times are RFC 3339 text with nanoseconds, as in store/sqlite: a
// timestamptz keeps only microseconds.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// GetRun returns the run with id.
func (db *DB) GetRun(ctx context.Context, id string) (store.Run, bool, error) {
	r, err := scanRun(db.pool.QueryRow(ctx, `SELECT `+runCols+` FROM nngpt_run WHERE id = $1`, id))
	if noRows(err) {
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
				args = append(args, c.v)
				where = append(where, fmt.Sprintf("%s = $%d", c.col, len(args)))
			}
		}
		q := `SELECT ` + runCols + ` FROM nngpt_run`
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		q += ` ORDER BY started_at COLLATE "C" DESC, id COLLATE "C"`
		if f.Limit > 0 {
			q += fmt.Sprintf(" LIMIT %d", f.Limit)
		}
		rows, err := db.pool.Query(ctx, q, args...)
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

func scanRun(s pgx.Row) (store.Run, error) {
	var r store.Run
	var prm, epochs, started, finished string
	var batch, want, done, threads int32
	err := s.Scan(&r.ID, &r.Origin, &r.NN, &r.CodeID, &r.Task, &r.Dataset, &r.Metric, &r.Transform, &r.UID, &prm,
		&batch, &want, &done, &r.Status, &r.Stage, &r.FailureKind, &r.FailureMessage, &r.LogTail,
		&r.Params, &r.Torch, &r.Python, &r.Device, &threads, &r.Isolation, &r.Seed, &r.DatasetID, &r.SplitID,
		&epochs, &r.BestAccuracy, &started, &finished)
	if err != nil {
		return r, err
	}
	r.Batch, r.EpochsRequested, r.Threads = int(batch), int(want), int(threads)
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
