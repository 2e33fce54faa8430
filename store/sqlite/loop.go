package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

const timeFormat = time.RFC3339Nano

// PutLoop creates or updates a loop.
func (db *DB) PutLoop(ctx context.Context, l store.Loop) error {
	now := time.Now().UTC()
	if l.Created.IsZero() {
		l.Created = now
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO nngpt_loop (id, status, config, seed, cycles, cycle_done, created, updated)
		VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET status = excluded.status, config = excluded.config,
		seed = excluded.seed, cycles = excluded.cycles, cycle_done = excluded.cycle_done, updated = excluded.updated`,
		l.ID, l.Status, l.Config, l.Seed, l.Cycles, l.CycleDone, l.Created.Format(timeFormat), now.Format(timeFormat))
	if err != nil {
		return fmt.Errorf("save loop %s: %w", l.ID, err)
	}
	return nil
}

// GetLoop returns one loop.
func (db *DB) GetLoop(ctx context.Context, id string) (store.Loop, bool, error) {
	ls, err := db.loops(ctx, `WHERE id = ?`, id)
	if err != nil || len(ls) == 0 {
		return store.Loop{}, false, err
	}
	return ls[0], true, nil
}

// Loops lists every loop, newest first.
func (db *DB) Loops(ctx context.Context) ([]store.Loop, error) {
	return db.loops(ctx, ``)
}

func (db *DB) loops(ctx context.Context, where string, args ...any) ([]store.Loop, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, status, config, seed, cycles, cycle_done, created, updated FROM nngpt_loop `+
		where+` ORDER BY created DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("read loops: %w", err)
	}
	defer rows.Close()
	var out []store.Loop
	for rows.Next() {
		var l store.Loop
		var created, updated string
		if err := rows.Scan(&l.ID, &l.Status, &l.Config, &l.Seed, &l.Cycles, &l.CycleDone, &created, &updated); err != nil {
			return nil, err
		}
		l.Created, _ = time.Parse(timeFormat, created)
		l.Updated, _ = time.Parse(timeFormat, updated)
		out = append(out, l)
	}
	return out, rows.Err()
}

// PutCandidate creates or updates a candidate.
func (db *DB) PutCandidate(ctx context.Context, c store.CandidateRow) error {
	if c.ID == "" || c.LoopID == "" {
		return errors.New("candidate without id or loop")
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	prm, err := lemur.EncodeJSON(orEmpty(c.Prm), 0, false)
	if err != nil {
		return fmt.Errorf("candidate %s hyperparameters: %w", c.ID, err)
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO nngpt_candidate (id, loop_id, cycle, idx, state, name, code_id, code, generator,
		parents, operators, task, dataset, metric, prm, reason, detail, epochs, durations, params, duration, admitted, predicted, repro, updated)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, name = excluded.name, code_id = excluded.code_id,
		code = excluded.code, generator = excluded.generator, parents = excluded.parents, operators = excluded.operators,
		task = excluded.task, dataset = excluded.dataset, metric = excluded.metric, prm = excluded.prm,
		reason = excluded.reason, detail = excluded.detail, epochs = excluded.epochs, durations = excluded.durations, params = excluded.params,
		duration = excluded.duration, admitted = excluded.admitted, predicted = excluded.predicted,
		repro = excluded.repro, updated = excluded.updated`,
		c.ID, c.LoopID, c.Cycle, c.Index, c.State, c.Name, c.CodeID, c.Code, c.Generator,
		enc(orNone(c.Parents)), enc(orNone(c.Operators)), c.Pipeline.Task, c.Pipeline.Dataset, c.Pipeline.Metric, string(prm),
		c.Reason, c.Detail, enc(orNoneF(c.Epochs)), enc(orNoneI(c.Durations)), c.Params, c.Duration, c.Admitted, c.Predicted, orJSON(c.Repro),
		time.Now().UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("save candidate %s: %w", c.ID, err)
	}
	return nil
}

func orEmpty(d lemur.Dict) lemur.Dict {
	if d == nil {
		return lemur.Dict{}
	}
	return d
}
func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
func orNoneF(s []float64) []float64 {
	if s == nil {
		return []float64{}
	}
	return s
}
func orNoneI(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}
func orJSON(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// Candidates lists a loop's candidates by cycle and index.
func (db *DB) Candidates(ctx context.Context, loopID string) ([]store.CandidateRow, error) {
	return db.candidates(ctx, `WHERE loop_id = ? ORDER BY cycle, idx`, loopID)
}

// CandidatesSince lists a loop's candidates written at or after since
// (to the second), by cycle and index: what a viewer that read the loop
// before needs to catch up. It is an index lookup (migration 0011), not a
// scan of the loop.
func (db *DB) CandidatesSince(ctx context.Context, loopID string, since time.Time) ([]store.CandidateRow, error) {
	// updated is RFC 3339 with trimmed fractions, so only its first 19
	// characters (to the second) compare as text; a bound without the
	// fraction sorts before every time within its second.
	// Sorted here, not by SQL: ORDER BY cycle, idx would make SQLite walk
	// the loop's (cycle, idx) index, the whole loop, to skip a sort of a
	// few rows.
	cs, err := db.candidates(ctx, `WHERE loop_id = ? AND updated >= ?`, loopID, since.UTC().Format("2006-01-02T15:04:05"))
	slices.SortFunc(cs, func(a, b store.CandidateRow) int {
		return cmp.Or(cmp.Compare(a.Cycle, b.Cycle), cmp.Compare(a.Index, b.Index))
	})
	return cs, err
}

func (db *DB) candidates(ctx context.Context, where string, args ...any) ([]store.CandidateRow, error) {
	loopID := args[0]
	rows, err := db.r.QueryContext(ctx, `SELECT id, loop_id, cycle, idx, state, name, code_id, code, generator, parents, operators,
		task, dataset, metric, prm, reason, detail, epochs, durations, params, duration, admitted, predicted, repro, updated
		FROM nngpt_candidate `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read candidates of %s: %w", loopID, err)
	}
	defer rows.Close()
	var out []store.CandidateRow
	for rows.Next() {
		var c store.CandidateRow
		var parents, ops, prm, epochs, durations, updated string
		var predicted sql.NullFloat64
		if err := rows.Scan(&c.ID, &c.LoopID, &c.Cycle, &c.Index, &c.State, &c.Name, &c.CodeID, &c.Code, &c.Generator,
			&parents, &ops, &c.Pipeline.Task, &c.Pipeline.Dataset, &c.Pipeline.Metric, &prm, &c.Reason, &c.Detail,
			&epochs, &durations, &c.Params, &c.Duration, &c.Admitted, &predicted, &c.Repro, &updated); err != nil {
			return nil, err
		}
		json.Unmarshal([]byte(parents), &c.Parents)
		json.Unmarshal([]byte(ops), &c.Operators)
		json.Unmarshal([]byte(epochs), &c.Epochs)
		json.Unmarshal([]byte(durations), &c.Durations)
		if v, err := lemur.DecodeJSON([]byte(prm)); err == nil {
			c.Prm, _ = v.(lemur.Dict)
		}
		if predicted.Valid {
			p := predicted.Float64
			c.Predicted = &p
		}
		c.Pipeline.NN = c.Name
		c.Updated, _ = time.Parse(timeFormat, updated)
		out = append(out, c)
	}
	return out, rows.Err()
}
