package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// PutLoop creates or updates a loop.
func (db *DB) PutLoop(ctx context.Context, l store.Loop) error {
	now := time.Now().UTC()
	if l.Created.IsZero() {
		l.Created = now
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO nngpt_loop (id, status, config, seed, cycles, cycle_done, created, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET status = excluded.status, config = excluded.config,
		seed = excluded.seed, cycles = excluded.cycles, cycle_done = excluded.cycle_done, updated = excluded.updated`,
		l.ID, l.Status, l.Config, l.Seed, l.Cycles, l.CycleDone, fmtTime(l.Created), fmtTime(now))
	if err != nil {
		return fmt.Errorf("save loop %s: %w", l.ID, err)
	}
	return nil
}

// GetLoop returns one loop.
func (db *DB) GetLoop(ctx context.Context, id string) (store.Loop, bool, error) {
	ls, err := db.loops(ctx, `WHERE id = $1`, id)
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
	rows, err := db.pool.Query(ctx, `SELECT id, status, config, seed, cycles, cycle_done, created, updated FROM nngpt_loop `+
		where+` ORDER BY created COLLATE "C" DESC, id COLLATE "C" DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("read loops: %w", err)
	}
	defer rows.Close()
	var out []store.Loop
	for rows.Next() {
		var l store.Loop
		var created, updated string
		var cycles, done int32
		if err := rows.Scan(&l.ID, &l.Status, &l.Config, &l.Seed, &cycles, &done, &created, &updated); err != nil {
			return nil, err
		}
		l.Cycles, l.CycleDone = int(cycles), int(done)
		l.Created, _ = time.Parse(time.RFC3339Nano, created)
		l.Updated, _ = time.Parse(time.RFC3339Nano, updated)
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
	prm := c.Prm
	if prm == nil {
		prm = lemur.Dict{}
	}
	pj, err := lemur.EncodeJSON(prm, 0, false)
	if err != nil {
		return fmt.Errorf("candidate %s hyperparameters: %w", c.ID, err)
	}
	repro := c.Repro
	if repro == "" {
		repro = "{}"
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO nngpt_candidate (id, loop_id, cycle, idx, state, name, code_id, code, generator,
		parents, operators, task, dataset, metric, prm, reason, detail, epochs, durations, params, duration, admitted, predicted, repro, updated)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, name = excluded.name, code_id = excluded.code_id,
		code = excluded.code, generator = excluded.generator, parents = excluded.parents, operators = excluded.operators,
		task = excluded.task, dataset = excluded.dataset, metric = excluded.metric, prm = excluded.prm,
		reason = excluded.reason, detail = excluded.detail, epochs = excluded.epochs, durations = excluded.durations, params = excluded.params,
		duration = excluded.duration, admitted = excluded.admitted, predicted = excluded.predicted,
		repro = excluded.repro, updated = excluded.updated`,
		c.ID, c.LoopID, c.Cycle, c.Index, c.State, c.Name, c.CodeID, c.Code, c.Generator,
		enc(nonNil(c.Parents)), enc(nonNil(c.Operators)), c.Pipeline.Task, c.Pipeline.Dataset, c.Pipeline.Metric, string(pj),
		c.Reason, c.Detail, enc(nonNil(c.Epochs)), enc(nonNil(c.Durations)), c.Params, c.Duration, c.Admitted, c.Predicted, repro,
		fmtTime(time.Now()))
	if err != nil {
		return fmt.Errorf("save candidate %s: %w", c.ID, err)
	}
	return nil
}

// nonNil stores an empty list as [] (not null), as store/sqlite does.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Candidates lists a loop's candidates by cycle and index.
func (db *DB) Candidates(ctx context.Context, loopID string) ([]store.CandidateRow, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, loop_id, cycle, idx, state, name, code_id, code, generator, parents, operators,
		task, dataset, metric, prm, reason, detail, epochs, durations, params, duration, admitted, predicted, repro, updated
		FROM nngpt_candidate WHERE loop_id = $1 ORDER BY cycle, idx`, loopID)
	if err != nil {
		return nil, fmt.Errorf("read candidates of %s: %w", loopID, err)
	}
	defer rows.Close()
	var out []store.CandidateRow
	for rows.Next() {
		var c store.CandidateRow
		var parents, ops, prm, epochs, durations, updated string
		var cycle, idx int32
		if err := rows.Scan(&c.ID, &c.LoopID, &cycle, &idx, &c.State, &c.Name, &c.CodeID, &c.Code, &c.Generator,
			&parents, &ops, &c.Pipeline.Task, &c.Pipeline.Dataset, &c.Pipeline.Metric, &prm, &c.Reason, &c.Detail,
			&epochs, &durations, &c.Params, &c.Duration, &c.Admitted, &c.Predicted, &c.Repro, &updated); err != nil {
			return nil, err
		}
		c.Cycle, c.Index = int(cycle), int(idx)
		for _, f := range []struct {
			js  string
			dst any
		}{{parents, &c.Parents}, {ops, &c.Operators}, {epochs, &c.Epochs}, {durations, &c.Durations}} {
			if err := json.Unmarshal([]byte(f.js), f.dst); err != nil {
				return nil, fmt.Errorf("candidate %s: %w", c.ID, err)
			}
		}
		v, err := lemur.DecodeJSON([]byte(prm))
		if err != nil {
			return nil, fmt.Errorf("candidate %s hyperparameters: %w", c.ID, err)
		}
		c.Prm, _ = v.(lemur.Dict)
		c.Pipeline.NN = c.Name
		c.Updated, _ = time.Parse(time.RFC3339Nano, updated)
		out = append(out, c)
	}
	return out, rows.Err()
}
