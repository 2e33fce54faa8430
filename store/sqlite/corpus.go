package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"math/big"
	"strings"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// AddStats inserts the records in one transaction.
func (db *DB) AddStats(ctx context.Context, recs []lemur.Record) (store.AddResult, error) {
	return db.BulkAddStats(ctx, func(add func([]lemur.Record) error) error { return add(recs) })
}

// BulkAddStats inserts records in one transaction. A trial's
// hyperparameters go to LEMUR's prm table (one row per key, Python types
// kept) and, as the ordered JSON object, to nngpt_trial. Into an empty stat
// table the secondary indexes are dropped and rebuilt at the end (inside the
// same transaction): sorting once is several times faster than keeping
// eight indexes up to date row by row.
func (db *DB) BulkAddStats(ctx context.Context, fill func(add func([]lemur.Record) error) error) (store.AddResult, error) {
	var res store.AddResult
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res = store.AddResult{}
		var empty bool
		if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM stat)`).Scan(&empty); err != nil {
			return err
		}
		var indexes []string
		if empty {
			var err error
			if indexes, err = dropIndexes(ctx, tx, "stat"); err != nil {
				return err
			}
		}
		ins, err := newStatInserter(ctx, tx)
		if err != nil {
			return err
		}
		defer ins.close()
		if err := fill(func(recs []lemur.Record) error { return ins.add(ctx, recs, &res) }); err != nil {
			return err
		}
		for _, ddl := range indexes {
			if _, err := tx.ExecContext(ctx, ddl); err != nil {
				return fmt.Errorf("rebuild index: %w", err)
			}
		}
		return nil
	})
	return res, err
}

// dropIndexes drops the explicit indexes of a table and returns their DDL.
func dropIndexes(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
	if err != nil {
		return nil, err
	}
	var names, ddls []string
	for rows.Next() {
		var n, d string
		if err := rows.Scan(&n, &d); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
		ddls = append(ddls, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+n+`"`); err != nil {
			return nil, err
		}
	}
	return ddls, nil
}

// statInserter writes stat rows statRowsPerInsert at a time: one multi-row
// INSERT costs far less than as many single-row ones through database/sql.
type statInserter struct {
	tx         *sql.Tx
	stat       map[int]*sql.Stmt // by row count
	trial, prm *sql.Stmt
	seen       map[string]bool // uids whose hyperparameters this transaction stored
	args       []any
}

const statRowsPerInsert = 64

func newStatInserter(ctx context.Context, tx *sql.Tx) (*statInserter, error) {
	ins := &statInserter{tx: tx, stat: map[int]*sql.Stmt{}, seen: map[string]bool{}}
	var err error
	if ins.trial, err = tx.PrepareContext(ctx, `INSERT OR IGNORE INTO nngpt_trial (uid, prm) VALUES (?, ?)`); err != nil {
		return nil, err
	}
	if ins.prm, err = tx.PrepareContext(ctx, `INSERT OR IGNORE INTO prm (uid, name, value) VALUES (?, ?, ?)`); err != nil {
		ins.close()
		return nil, err
	}
	return ins, nil
}

func (ins *statInserter) close() {
	for _, s := range ins.stat {
		s.Close()
	}
	for _, s := range []*sql.Stmt{ins.trial, ins.prm} {
		if s != nil {
			s.Close()
		}
	}
}

func (ins *statInserter) statStmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	if s := ins.stat[rows]; s != nil {
		return s, nil
	}
	q := `INSERT OR IGNORE INTO stat (id, accuracy, epoch, duration, task, dataset, nn, transform, metric, prm) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?,?,?,?,?,?,?,?,?,?),`, rows), ",")
	s, err := ins.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	ins.stat[rows] = s
	return s, nil
}

func (ins *statInserter) add(ctx context.Context, recs []lemur.Record, res *store.AddResult) error {
	for start := 0; start < len(recs); start += statRowsPerInsert {
		chunk := recs[start:min(start+statRowsPerInsert, len(recs))]
		ins.args = ins.args[:0]
		for i := range chunk {
			r := &chunk[i]
			if r.ID == "" || r.UID == "" {
				return fmt.Errorf("record of %s epoch %d has no id or uid", r.Pipeline, r.Epoch)
			}
			var dur, transform any
			if r.Duration != nil {
				dur = *r.Duration
			}
			if v, ok := r.Prm.Get("transform"); ok {
				transform = v
			}
			ins.args = append(ins.args, r.ID, r.Accuracy, r.Epoch, dur, r.Task, r.Dataset, r.NN, transform, r.Metric, r.UID)
		}
		stmt, err := ins.statStmt(ctx, len(chunk))
		if err != nil {
			return err
		}
		out, err := stmt.ExecContext(ctx, ins.args...)
		if err != nil {
			return fmt.Errorf("insert stat rows of %s: %w", chunk[0].Pipeline, err)
		}
		n, _ := out.RowsAffected()
		res.Added += int(n)
		res.Present += len(chunk) - int(n)
		for i := range chunk {
			if err := ins.addTrial(ctx, &chunk[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// addTrial stores a trial's hyperparameters once per uid.
func (ins *statInserter) addTrial(ctx context.Context, r *lemur.Record) error {
	if ins.seen[r.UID] {
		return nil
	}
	ins.seen[r.UID] = true
	js, err := lemur.EncodeJSON(r.Prm, 0, false)
	if err != nil {
		return fmt.Errorf("trial %s: %w", r.UID, err)
	}
	out, err := ins.trial.ExecContext(ctx, r.UID, string(js))
	if err != nil {
		return fmt.Errorf("insert trial %s: %w", r.UID, err)
	}
	if n, _ := out.RowsAffected(); n == 0 {
		return nil // hyperparameters already stored
	}
	for _, it := range r.Prm {
		v, ok := sqlValue(it.Value)
		if !ok {
			continue // None has no row in LEMUR's prm table (value is NOT NULL)
		}
		if _, err := ins.prm.ExecContext(ctx, r.UID, it.Key, v); err != nil {
			return fmt.Errorf("insert prm %s.%s: %w", r.UID, it.Key, err)
		}
	}
	return nil
}

// sqlValue maps a Python value to what Python's sqlite3 would store.
func sqlValue(v lemur.Value) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case bool:
		if x {
			return int64(1), true
		}
		return int64(0), true
	case *big.Int:
		return x.String(), true
	case []lemur.Value, lemur.Dict:
		b, err := lemur.EncodeJSON(x, 0, false)
		return string(b), err == nil
	}
	return v, true
}

// PutCode stores a code row (LEMUR's code_to_db semantics).
func (db *DB) PutCode(ctx context.Context, c store.Code) (store.AddResult, error) {
	if c.Name == "" {
		return store.AddResult{}, errors.New("code has no name")
	}
	if !validKind(c.Kind) {
		return store.AddResult{}, fmt.Errorf("unknown code kind %q", c.Kind)
	}
	if c.ID == "" {
		c.ID = lemur.CodeID(c.Code)
	}
	var res store.AddResult
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, `SELECT code FROM `+string(c.Kind)+` WHERE name = ?`, c.Name).Scan(&old)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO `+string(c.Kind)+` (name, code, id) VALUES (?, ?, ?)`, c.Name, c.Code, c.ID)
			res.Added = 1
			return err
		case err != nil:
			return err
		case old == c.Code:
			res.Present = 1
			return nil
		default:
			_, err = tx.ExecContext(ctx, `UPDATE `+string(c.Kind)+` SET code = ?, id = ? WHERE name = ?`, c.Code, c.ID, c.Name)
			res.Added = 1
			return err
		}
	})
	return res, err
}

func validKind(k store.CodeKind) bool {
	for _, c := range store.CodeKinds {
		if c == k {
			return true
		}
	}
	return false
}

// Code returns one code row.
func (db *DB) Code(ctx context.Context, kind store.CodeKind, name string) (store.Code, bool, error) {
	return db.oneCode(ctx, kind, "name", name)
}

// CodeByID finds a code row by its LEMUR id.
func (db *DB) CodeByID(ctx context.Context, kind store.CodeKind, id string) (store.Code, bool, error) {
	return db.oneCode(ctx, kind, "id", id)
}

func (db *DB) oneCode(ctx context.Context, kind store.CodeKind, col, val string) (store.Code, bool, error) {
	if !validKind(kind) {
		return store.Code{}, false, fmt.Errorf("unknown code kind %q", kind)
	}
	c := store.Code{Kind: kind}
	err := db.r.QueryRowContext(ctx, `SELECT name, code, id FROM `+string(kind)+` WHERE `+col+` = ? ORDER BY name LIMIT 1`, val).Scan(&c.Name, &c.Code, &c.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Code{}, false, nil
	}
	if err != nil {
		return store.Code{}, false, fmt.Errorf("read %s %s: %w", kind, val, err)
	}
	return c, true, nil
}

// Codes streams a code table, by name.
func (db *DB) Codes(ctx context.Context, kind store.CodeKind, prefix string) iter.Seq2[store.Code, error] {
	return func(yield func(store.Code, error) bool) {
		if !validKind(kind) {
			yield(store.Code{}, fmt.Errorf("unknown code kind %q", kind))
			return
		}
		rows, err := db.r.QueryContext(ctx, `SELECT name, code, id FROM `+string(kind)+` WHERE substr(name, 1, ?) = ? ORDER BY name`, len(prefix), prefix)
		if err != nil {
			yield(store.Code{}, fmt.Errorf("read %s: %w", kind, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			c := store.Code{Kind: kind}
			if err := rows.Scan(&c.Name, &c.Code, &c.ID); err != nil {
				yield(store.Code{}, err)
				return
			}
			if !yield(c, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.Code{}, err)
		}
	}
}

// Stats streams stat rows with LEMUR's data() semantics.
func (db *DB) Stats(ctx context.Context, f store.Filter) iter.Seq2[lemur.Record, error] {
	return func(yield func(lemur.Record, error) bool) {
		var where []string
		var args []any
		add := func(col, v string) {
			if v != "" {
				where = append(where, col+" = ?")
				args = append(args, v)
			}
		}
		add("task", f.Task)
		add("dataset", f.Dataset)
		add("metric", f.Metric)
		add("nn", f.NN)
		if f.EpochSet {
			where = append(where, "epoch = ?")
			args = append(args, f.Epoch)
		}
		cond := ""
		if len(where) > 0 {
			cond = " WHERE " + strings.Join(where, " AND ")
		}
		cols := `s.id, s.accuracy, s.epoch, s.duration, s.task, s.dataset, s.metric, s.nn, s.prm, t.prm`
		var q string
		if f.BestOnly {
			// Group on the pipeline index, then fetch the rows at each maximum:
			// twice as fast as a window function over the filtered rows.
			q = `SELECT ` + cols + ` FROM (SELECT task, dataset, metric, nn, epoch, MAX(accuracy) AS best FROM stat` + cond + `
				GROUP BY task, dataset, metric, nn, epoch) b
				JOIN stat s ON s.task = b.task AND s.dataset = b.dataset AND s.metric = b.metric AND s.nn = b.nn
					AND s.epoch = b.epoch AND s.accuracy = b.best
				JOIN nngpt_trial t ON t.uid = s.prm`
		} else {
			q = `SELECT ` + cols + ` FROM stat s JOIN nngpt_trial t ON t.uid = s.prm` + cond
		}
		q += ` ORDER BY s.task, s.dataset, s.metric, s.nn, s.epoch, s.accuracy DESC`
		if f.MaxRows > 0 {
			q += fmt.Sprintf(" LIMIT %d", f.MaxRows)
		}
		rows, err := db.r.QueryContext(ctx, q, args...)
		if err != nil {
			yield(lemur.Record{}, fmt.Errorf("query stat: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r lemur.Record
			var dur sql.NullInt64
			var prmJSON string
			if err := rows.Scan(&r.ID, &r.Accuracy, &r.Epoch, &dur, &r.Task, &r.Dataset, &r.Metric, &r.NN, &r.UID, &prmJSON); err != nil {
				yield(lemur.Record{}, err)
				return
			}
			if dur.Valid {
				d := dur.Int64
				r.Duration = &d
			}
			v, err := lemur.DecodeJSON([]byte(prmJSON))
			if err != nil {
				yield(lemur.Record{}, fmt.Errorf("trial %s: stored hyperparameters unreadable: %w", r.UID, err))
				return
			}
			r.Prm, _ = v.(lemur.Dict)
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(lemur.Record{}, err)
		}
	}
}

// Summary counts the corpus per task, dataset and metric.
func (db *DB) Summary(ctx context.Context) ([]store.SummaryRow, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT task, dataset, metric, COUNT(DISTINCT nn), COUNT(DISTINCT prm), COUNT(*),
		COALESCE(MAX(epoch), 0), COALESCE(MAX(accuracy), 0) FROM stat GROUP BY task, dataset, metric ORDER BY task, dataset, metric`)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	defer rows.Close()
	var out []store.SummaryRow
	for rows.Next() {
		var s store.SummaryRow
		if err := rows.Scan(&s.Task, &s.Dataset, &s.Metric, &s.Models, &s.Trials, &s.Records, &s.MaxEpoch, &s.BestAccuracy); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Counts returns corpus totals.
func (db *DB) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	err := db.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT DISTINCT task, dataset, metric, nn FROM stat)),
		(SELECT COUNT(*) FROM (SELECT nn FROM stat UNION SELECT name FROM nn)),
		(SELECT COUNT(*) FROM stat),
		(SELECT COUNT(*) FROM nn)`).Scan(&c.Pipelines, &c.Models, &c.Records, &c.Codes)
	if err != nil {
		return c, fmt.Errorf("count corpus: %w", err)
	}
	return c, nil
}
