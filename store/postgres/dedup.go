package postgres

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/nngpt/nngpt/store"
)

// DedupEntries streams the cached fingerprints of one version.
func (db *DB) DedupEntries(ctx context.Context, version int) iter.Seq2[store.DedupEntry, error] {
	return func(yield func(store.DedupEntry, error) bool) {
		rows, err := db.pool.Query(ctx, `SELECT code_id, normalised, structure, name, source FROM nngpt_dedup WHERE version = $1 ORDER BY code_id COLLATE "C"`, version)
		if err != nil {
			yield(store.DedupEntry{}, fmt.Errorf("read dedup cache: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			e := store.DedupEntry{Version: version}
			if err := rows.Scan(&e.CodeID, &e.Normalised, &e.Structure, &e.Name, &e.Source); err != nil {
				yield(store.DedupEntry{}, fmt.Errorf("read dedup cache: %w", err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.DedupEntry{}, fmt.Errorf("read dedup cache: %w", err))
		}
	}
}

// PutDedupEntries stores entries in one transaction.
func (db *DB) PutDedupEntries(ctx context.Context, entries []store.DedupEntry) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		if e.CodeID == "" || e.Normalised == "" || e.Structure == "" {
			return fmt.Errorf("dedup entry %q: code id, normalised id and structure id are all required", e.Name)
		}
		if e.Source != store.DedupCorpus && e.Source != store.DedupCandidate {
			return fmt.Errorf("dedup entry %q: source %q is neither %q nor %q", e.Name, e.Source, store.DedupCorpus, store.DedupCandidate)
		}
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range entries {
			b.Queue(`INSERT INTO nngpt_dedup (code_id, version, normalised, structure, name, source)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (code_id, version) DO UPDATE SET name = excluded.name, source = excluded.source
				WHERE excluded.source = 'corpus' AND nngpt_dedup.source = 'candidate'`,
				e.CodeID, e.Version, e.Normalised, e.Structure, e.Name, e.Source)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("save dedup cache: %w", err)
		}
		return nil
	})
}
