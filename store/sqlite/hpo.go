package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nngpt/nngpt/store"
)

var _ store.HPO = (*DB)(nil)

const hpoTime = time.RFC3339Nano

func hpoFmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(hpoTime)
}

func hpoParseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	return time.Parse(hpoTime, s.String)
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
	var created bool
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO nngpt_hpo_study (name, direction, space, sampler, seed, attrs, created_at, objectives)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			s.Name, s.Direction, s.Space, s.Sampler, int64(s.Seed), s.Attrs, hpoFmtTime(s.Created), s.Objectives)
		if err != nil {
			return fmt.Errorf("create study %s: %w", s.Name, err)
		}
		n, err := res.RowsAffected()
		created = n == 1
		return err
	})
	if err != nil {
		return store.HPOStudy{}, false, err
	}
	got, ok, err := db.hpoStudy(ctx, s.Name)
	if err != nil {
		return store.HPOStudy{}, false, err
	}
	if !ok {
		return store.HPOStudy{}, false, fmt.Errorf("study %s vanished after it was stored", s.Name)
	}
	return got, created, nil
}

func scanStudy(sc interface{ Scan(...any) error }) (store.HPOStudy, error) {
	var s store.HPOStudy
	var seed int64
	var created sql.NullString
	if err := sc.Scan(&s.Name, &s.Direction, &s.Space, &s.Sampler, &seed, &s.Attrs, &created, &s.Objectives); err != nil {
		return s, err
	}
	s.Seed = uint64(seed)
	var err error
	s.Created, err = hpoParseTime(created)
	return s, err
}

const studyCols = `name, direction, space, sampler, seed, attrs, created_at, objectives`

func (db *DB) hpoStudy(ctx context.Context, name string) (store.HPOStudy, bool, error) {
	s, err := scanStudy(db.r.QueryRowContext(ctx, `SELECT `+studyCols+` FROM nngpt_hpo_study WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.HPOStudy{}, false, nil
	}
	if err != nil {
		return store.HPOStudy{}, false, fmt.Errorf("read study %s: %w", name, err)
	}
	return s, true, nil
}

// HPOStudies implements store.HPO.
func (db *DB) HPOStudies(ctx context.Context) ([]store.HPOStudy, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+studyCols+` FROM nngpt_hpo_study ORDER BY name`)
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

const trialCols = `number, state, params, value, intermediate, source, note, started_at, finished_at, objective_values`

func scanTrial(sc interface{ Scan(...any) error }) (store.HPOTrial, error) {
	var t store.HPOTrial
	var v sql.NullFloat64
	var st, fin sql.NullString
	if err := sc.Scan(&t.Number, &t.State, &t.Params, &v, &t.Intermediate, &t.Source, &t.Note, &st, &fin, &t.Values); err != nil {
		return t, err
	}
	if v.Valid {
		f := v.Float64
		t.Value = &f
	}
	var err error
	if t.Started, err = hpoParseTime(st); err != nil {
		return t, err
	}
	t.Finished, err = hpoParseTime(fin)
	return t, err
}

func studyExists(ctx context.Context, tx *sql.Tx, study string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM nngpt_hpo_study WHERE name = ?`, study).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("no study named %q", study)
	}
	return err
}

func insertTrial(ctx context.Context, tx *sql.Tx, study string, t *store.HPOTrial) error {
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number) + 1, 0) FROM nngpt_hpo_trial WHERE study = ?`, study).Scan(&t.Number); err != nil {
		return err
	}
	if t.Params == "" {
		t.Params = "{}"
	}
	if t.Intermediate == "" {
		t.Intermediate = "[]"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO nngpt_hpo_trial (study, `+trialCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		study, t.Number, t.State, t.Params, t.Value, t.Intermediate, t.Source, t.Note, hpoFmtTime(t.Started), hpoFmtTime(t.Finished), t.Values)
	return err
}

// ReserveHPOTrial implements store.HPO.
func (db *DB) ReserveHPOTrial(ctx context.Context, study string, now time.Time) (store.HPOTrial, bool, error) {
	var t store.HPOTrial
	var claimed bool
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := studyExists(ctx, tx, study); err != nil {
			return err
		}
		w, err := scanTrial(tx.QueryRowContext(ctx, `SELECT `+trialCols+` FROM nngpt_hpo_trial WHERE study = ? AND state = 'waiting' ORDER BY number LIMIT 1`, study))
		switch {
		case err == nil:
			w.State, w.Started = "running", now
			if _, err := tx.ExecContext(ctx, `UPDATE nngpt_hpo_trial SET state = 'running', started_at = ? WHERE study = ? AND number = ?`, hpoFmtTime(now), study, w.Number); err != nil {
				return err
			}
			t, claimed = w, true
			return nil
		case !errors.Is(err, sql.ErrNoRows):
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
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := studyExists(ctx, tx, study); err != nil {
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
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE nngpt_hpo_trial SET state = ?, params = ?, value = ?, intermediate = ?, source = ?, note = ?,
			started_at = ?, finished_at = ?, objective_values = ? WHERE study = ? AND number = ?`,
			t.State, t.Params, t.Value, t.Intermediate, t.Source, t.Note, hpoFmtTime(t.Started), hpoFmtTime(t.Finished), t.Values, study, t.Number)
		if err != nil {
			return fmt.Errorf("update trial %d of %s: %w", t.Number, study, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("update trial %d of %s: no such trial", t.Number, study)
		}
		return nil
	})
}

// HPOTrials implements store.HPO.
func (db *DB) HPOTrials(ctx context.Context, study string) ([]store.HPOTrial, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+trialCols+` FROM nngpt_hpo_trial WHERE study = ? ORDER BY number`, study)
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
