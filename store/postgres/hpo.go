package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nngpt/nngpt/store"
)

var _ store.HPO = (*DB)(nil)

func hpoFmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

func hpoParseTime(s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, *s)
}

// CreateHPOStudy implements store.HPO.
func (db *DB) CreateHPOStudy(ctx context.Context, s store.HPOStudy) (store.HPOStudy, bool, error) {
	if s.Name == "" {
		return store.HPOStudy{}, false, errors.New("create study: empty name")
	}
	if s.Attrs == "" {
		s.Attrs = "{}"
	}
	if s.Created.IsZero() {
		s.Created = time.Now()
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO nngpt_hpo_study (name, direction, space, sampler, seed, attrs, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING`,
		s.Name, s.Direction, s.Space, s.Sampler, int64(s.Seed), s.Attrs, hpoFmtTime(s.Created))
	if err != nil {
		return store.HPOStudy{}, false, fmt.Errorf("create study %s: %w", s.Name, err)
	}
	got, err := scanStudy(db.pool.QueryRow(ctx, `SELECT `+studyCols+` FROM nngpt_hpo_study WHERE name = $1`, s.Name))
	if err != nil {
		return store.HPOStudy{}, false, fmt.Errorf("read study %s: %w", s.Name, err)
	}
	return got, tag.RowsAffected() == 1, nil
}

const studyCols = `name, direction, space, sampler, seed, attrs, created_at`

func scanStudy(sc pgx.Row) (store.HPOStudy, error) {
	var s store.HPOStudy
	var seed int64
	var created *string
	if err := sc.Scan(&s.Name, &s.Direction, &s.Space, &s.Sampler, &seed, &s.Attrs, &created); err != nil {
		return s, err
	}
	s.Seed = uint64(seed)
	var err error
	s.Created, err = hpoParseTime(created)
	return s, err
}

// HPOStudies implements store.HPO.
func (db *DB) HPOStudies(ctx context.Context) ([]store.HPOStudy, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+studyCols+` FROM nngpt_hpo_study ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list studies: %w", err)
	}
	defer rows.Close()
	var out []store.HPOStudy
	for rows.Next() {
		s, err := scanStudy(rows)
		if err != nil {
			return nil, fmt.Errorf("list studies: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

const trialCols = `number, state, params, value, intermediate, source, note, started_at, finished_at`

func scanTrial(sc pgx.Row) (store.HPOTrial, error) {
	var t store.HPOTrial
	var st, fin *string
	var num int32
	if err := sc.Scan(&num, &t.State, &t.Params, &t.Value, &t.Intermediate, &t.Source, &t.Note, &st, &fin); err != nil {
		return t, err
	}
	t.Number = int(num)
	var err error
	if t.Started, err = hpoParseTime(st); err != nil {
		return t, err
	}
	t.Finished, err = hpoParseTime(fin)
	return t, err
}

// lockStudy takes the study's row lock for the rest of tx: trial numbers
// of one study are handed out one process at a time, never twice.
func lockStudy(ctx context.Context, tx pgx.Tx, study string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM nngpt_hpo_study WHERE name = $1 FOR UPDATE`, study).Scan(&one)
	if noRows(err) {
		return fmt.Errorf("no study named %q", study)
	}
	return err
}

func insertTrial(ctx context.Context, tx pgx.Tx, study string, t *store.HPOTrial) error {
	var n int32
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(number) + 1, 0) FROM nngpt_hpo_trial WHERE study = $1`, study).Scan(&n); err != nil {
		return err
	}
	t.Number = int(n)
	if t.Params == "" {
		t.Params = "{}"
	}
	if t.Intermediate == "" {
		t.Intermediate = "[]"
	}
	_, err := tx.Exec(ctx, `INSERT INTO nngpt_hpo_trial (study, `+trialCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		study, t.Number, t.State, t.Params, t.Value, t.Intermediate, t.Source, t.Note, hpoFmtTime(t.Started), hpoFmtTime(t.Finished))
	return err
}

// ReserveHPOTrial implements store.HPO.
func (db *DB) ReserveHPOTrial(ctx context.Context, study string, now time.Time) (store.HPOTrial, bool, error) {
	var t store.HPOTrial
	var claimed bool
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockStudy(ctx, tx, study); err != nil {
			return err
		}
		w, err := scanTrial(tx.QueryRow(ctx, `SELECT `+trialCols+` FROM nngpt_hpo_trial WHERE study = $1 AND state = 'waiting' ORDER BY number LIMIT 1`, study))
		switch {
		case err == nil:
			w.State, w.Started = "running", now
			if _, err := tx.Exec(ctx, `UPDATE nngpt_hpo_trial SET state = 'running', started_at = $1 WHERE study = $2 AND number = $3`, hpoFmtTime(now), study, w.Number); err != nil {
				return err
			}
			t, claimed = w, true
			return nil
		case !noRows(err):
			return err
		}
		t = store.HPOTrial{State: "running", Started: now}
		return insertTrial(ctx, tx, study, &t)
	})
	if err != nil {
		return store.HPOTrial{}, false, fmt.Errorf("reserve a trial of %s: %w", study, err)
	}
	return t, claimed, nil
}

// AddHPOTrial implements store.HPO.
func (db *DB) AddHPOTrial(ctx context.Context, study string, t store.HPOTrial) (store.HPOTrial, error) {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockStudy(ctx, tx, study); err != nil {
			return err
		}
		return insertTrial(ctx, tx, study, &t)
	})
	if err != nil {
		return store.HPOTrial{}, fmt.Errorf("add a trial to %s: %w", study, err)
	}
	return t, nil
}

// UpdateHPOTrial implements store.HPO.
func (db *DB) UpdateHPOTrial(ctx context.Context, study string, t store.HPOTrial) error {
	if t.Params == "" {
		t.Params = "{}"
	}
	if t.Intermediate == "" {
		t.Intermediate = "[]"
	}
	tag, err := db.pool.Exec(ctx, `UPDATE nngpt_hpo_trial SET state = $1, params = $2, value = $3, intermediate = $4, source = $5, note = $6,
		started_at = $7, finished_at = $8 WHERE study = $9 AND number = $10`,
		t.State, t.Params, t.Value, t.Intermediate, t.Source, t.Note, hpoFmtTime(t.Started), hpoFmtTime(t.Finished), study, t.Number)
	if err != nil {
		return fmt.Errorf("update trial %d of %s: %w", t.Number, study, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("update trial %d of %s: no such trial", t.Number, study)
	}
	return nil
}

// HPOTrials implements store.HPO.
func (db *DB) HPOTrials(ctx context.Context, study string) ([]store.HPOTrial, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+trialCols+` FROM nngpt_hpo_trial WHERE study = $1 ORDER BY number`, study)
	if err != nil {
		return nil, fmt.Errorf("list trials of %s: %w", study, err)
	}
	defer rows.Close()
	var out []store.HPOTrial
	for rows.Next() {
		t, err := scanTrial(rows)
		if err != nil {
			return nil, fmt.Errorf("list trials of %s: %w", study, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
