package postgres

import (
	"context"
	"fmt"
	"iter"
	"math/big"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// AddStats inserts the records in one transaction.
func (db *DB) AddStats(ctx context.Context, recs []lemur.Record) (store.AddResult, error) {
	return db.BulkAddStats(ctx, func(add func([]lemur.Record) error) error { return add(recs) })
}

// BulkAddStats copies the records (COPY, the fast path) into temporary
// tables of one transaction and moves them into stat, prm and nngpt_trial
// with ON CONFLICT DO NOTHING, so concurrent importers of overlapping data
// neither fail nor double a row. A trial's prm rows are written only by
// the transaction that stored its nngpt_trial row, as in store/sqlite.
func (db *DB) BulkAddStats(ctx context.Context, fill func(add func([]lemur.Record) error) error) (store.AddResult, error) {
	var res store.AddResult
	err := db.tx(ctx, func(tx pgx.Tx) error {
		res = store.AddResult{}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE tmp_stat (LIKE stat) ON COMMIT DROP;
			CREATE TEMP TABLE tmp_trial (ord BIGINT, uid TEXT, prm TEXT) ON COMMIT DROP;
			CREATE TEMP TABLE tmp_prm (uid TEXT, name TEXT, value JSONB) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("stage stat rows: %w", err)
		}
		total := 0
		seen := map[string]bool{}
		add := func(recs []lemur.Record) error {
			stat := make([][]any, 0, len(recs))
			var trials, prms [][]any
			for i := range recs {
				r := &recs[i]
				if r.ID == "" || r.UID == "" {
					return fmt.Errorf("record of %s epoch %d has no id or uid", r.Pipeline, r.Epoch)
				}
				var dur, transform any
				if r.Duration != nil {
					dur = *r.Duration
				}
				if v, ok := r.Prm.Get("transform"); ok {
					transform = pgText(v)
				}
				stat = append(stat, []any{r.ID, r.Accuracy, int32(r.Epoch), dur, r.Task, r.Dataset, r.NN, transform, r.Metric, r.UID})
				if seen[r.UID] {
					continue
				}
				seen[r.UID] = true
				js, err := lemur.EncodeJSON(r.Prm, 0, false)
				if err != nil {
					return fmt.Errorf("trial %s: %w", r.UID, err)
				}
				trials = append(trials, []any{int64(total + i), r.UID, string(js)})
				for _, it := range r.Prm {
					v, ok := prmValue(it.Value)
					if !ok {
						continue // None has no row in LEMUR's prm table (value is NOT NULL)
					}
					prms = append(prms, []any{r.UID, it.Key, v})
				}
			}
			total += len(recs)
			cols := []string{"id", "accuracy", "epoch", "duration", "task", "dataset", "nn", "transform", "metric", "prm"}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tmp_stat"}, cols, pgx.CopyFromRows(stat)); err != nil {
				return fmt.Errorf("copy stat rows: %w", err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tmp_trial"}, []string{"ord", "uid", "prm"}, pgx.CopyFromRows(trials)); err != nil {
				return fmt.Errorf("copy trials: %w", err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tmp_prm"}, []string{"uid", "name", "value"}, pgx.CopyFromRows(prms)); err != nil {
				return fmt.Errorf("copy prm rows: %w", err)
			}
			return nil
		}
		if err := fill(add); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO stat SELECT DISTINCT ON (id) * FROM tmp_stat ORDER BY id ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("insert stat rows: %w", err)
		}
		res.Added = int(tag.RowsAffected())
		res.Present = total - res.Added
		if _, err := tx.Exec(ctx, `WITH new AS (
				INSERT INTO nngpt_trial (uid, prm) SELECT DISTINCT ON (uid) uid, prm FROM tmp_trial ORDER BY uid, ord
				ON CONFLICT (uid) DO NOTHING RETURNING uid)
			INSERT INTO prm (uid, name, value) SELECT DISTINCT ON (p.uid, p.name) p.uid, p.name, p.value FROM tmp_prm p JOIN new USING (uid)
			ORDER BY p.uid, p.name ON CONFLICT (uid, name) DO NOTHING`); err != nil {
			return fmt.Errorf("insert trials: %w", err)
		}
		return nil
	})
	return res, err
}

// pgText is the stat.transform column of a Python value: its text.
func pgText(v lemur.Value) any {
	if s, ok := v.(string); ok {
		return s
	}
	return lemur.Repr(v)
}

// prmValue is the JSON of a Python value in LEMUR's prm table: what
// Python's sqlite3 would store (booleans as integers), typed.
func prmValue(v lemur.Value) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case *big.Int:
		return x.String(), true
	case []lemur.Value, lemur.Dict:
		b, err := lemur.EncodeJSON(x, 0, false)
		if err != nil {
			return "", false
		}
		s, err := lemur.EncodeJSON(string(b), 0, false)
		return string(s), err == nil
	}
	b, err := lemur.EncodeJSON(v, 0, false)
	return string(b), err == nil
}

// PutCode stores a code row (LEMUR's code_to_db semantics): new or other
// code under the name counts as added, the same code as present.
func (db *DB) PutCode(ctx context.Context, c store.Code) (store.AddResult, error) {
	if c.Name == "" {
		return store.AddResult{}, fmt.Errorf("code has no name")
	}
	if !validKind(c.Kind) {
		return store.AddResult{}, fmt.Errorf("unknown code kind %q", c.Kind)
	}
	if c.ID == "" {
		c.ID = lemur.CodeID(c.Code)
	}
	t := string(c.Kind)
	tag, err := db.pool.Exec(ctx, `INSERT INTO `+t+` (name, code, id) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET code = excluded.code, id = excluded.id WHERE `+t+`.code IS DISTINCT FROM excluded.code`,
		c.Name, c.Code, c.ID)
	if err != nil {
		return store.AddResult{}, fmt.Errorf("put %s %s: %w", c.Kind, c.Name, err)
	}
	if tag.RowsAffected() == 1 {
		return store.AddResult{Added: 1}, nil
	}
	return store.AddResult{Present: 1}, nil
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
	err := db.pool.QueryRow(ctx, `SELECT name, code, id FROM `+string(kind)+` WHERE `+col+` = $1 ORDER BY name LIMIT 1`, val).Scan(&c.Name, &c.Code, &c.ID)
	if noRows(err) {
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
		// COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
		rows, err := db.pool.Query(ctx, `SELECT name, code, id FROM `+string(kind)+` WHERE left(name, $1) = $2 ORDER BY name COLLATE "C"`, len([]rune(prefix)), prefix)
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
		add := func(col string, v any) {
			args = append(args, v)
			where = append(where, fmt.Sprintf("%s = $%d", col, len(args)))
		}
		for _, c := range []struct{ col, v string }{{"task", f.Task}, {"dataset", f.Dataset}, {"metric", f.Metric}, {"nn", f.NN}} {
			if c.v != "" {
				add(c.col, c.v)
			}
		}
		if f.EpochSet {
			add("epoch", f.Epoch)
		}
		cond := ""
		if len(where) > 0 {
			cond = " WHERE " + strings.Join(where, " AND ")
		}
		cols := `s.id, s.accuracy, s.epoch, s.duration, s.task, s.dataset, s.metric, s.nn, s.prm, t.prm`
		var q string
		if f.BestOnly {
			q = `SELECT ` + cols + ` FROM (SELECT task, dataset, metric, nn, epoch, MAX(accuracy) AS best FROM stat` + cond + `
				GROUP BY task, dataset, metric, nn, epoch) b
				JOIN stat s ON s.task = b.task AND s.dataset = b.dataset AND s.metric = b.metric AND s.nn = b.nn
					AND s.epoch = b.epoch AND s.accuracy = b.best
				JOIN nngpt_trial t ON t.uid = s.prm`
		} else {
			q = `SELECT ` + cols + ` FROM stat s JOIN nngpt_trial t ON t.uid = s.prm` + cond
		}
		q += ` ORDER BY s.task COLLATE "C", s.dataset COLLATE "C", s.metric COLLATE "C", s.nn COLLATE "C", s.epoch, s.accuracy DESC, s.id COLLATE "C"`
		if f.MaxRows > 0 {
			q += fmt.Sprintf(" LIMIT %d", f.MaxRows)
		}
		rows, err := db.pool.Query(ctx, q, args...)
		if err != nil {
			yield(lemur.Record{}, fmt.Errorf("query stat: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r lemur.Record
			var dur *int64
			var prmJSON string
			var epoch int32
			if err := rows.Scan(&r.ID, &r.Accuracy, &epoch, &dur, &r.Task, &r.Dataset, &r.Metric, &r.NN, &r.UID, &prmJSON); err != nil {
				yield(lemur.Record{}, err)
				return
			}
			r.Epoch = int(epoch)
			r.Duration = dur
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
	rows, err := db.pool.Query(ctx, `SELECT task, dataset, metric, COUNT(DISTINCT nn), COUNT(DISTINCT prm), COUNT(*),
		COALESCE(MAX(epoch), 0), COALESCE(MAX(accuracy), 0) FROM stat GROUP BY task, dataset, metric
		ORDER BY task COLLATE "C", dataset COLLATE "C", metric COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	defer rows.Close()
	var out []store.SummaryRow
	for rows.Next() {
		var s store.SummaryRow
		var models, trials, records int64
		var maxEpoch int32
		if err := rows.Scan(&s.Task, &s.Dataset, &s.Metric, &models, &trials, &records, &maxEpoch, &s.BestAccuracy); err != nil {
			return nil, err
		}
		s.Models, s.Trials, s.Records, s.MaxEpoch = int(models), int(trials), int(records), int(maxEpoch)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Counts returns corpus totals.
func (db *DB) Counts(ctx context.Context) (store.Counts, error) {
	var p, m, r, c int64
	err := db.pool.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT DISTINCT task, dataset, metric, nn FROM stat) x),
		(SELECT COUNT(*) FROM (SELECT nn FROM stat UNION SELECT name FROM nn) y),
		(SELECT COUNT(*) FROM stat),
		(SELECT COUNT(*) FROM nn)`).Scan(&p, &m, &r, &c)
	if err != nil {
		return store.Counts{}, fmt.Errorf("count corpus: %w", err)
	}
	return store.Counts{Pipelines: int(p), Models: int(m), Records: int(r), Codes: int(c)}, nil
}
