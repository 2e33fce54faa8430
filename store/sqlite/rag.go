package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nngpt/nngpt/store"
)

const ragCols = `name, class, module, code, id, repo, git_commit, paths, sources, level, error, error_kind, input, unresolved, updated_at`

// PutBlock stores b, replacing the block of the same name.
func (db *DB) PutBlock(ctx context.Context, b store.RAGBlock) error {
	if b.Name == "" || b.Class == "" || b.Code == "" {
		return fmt.Errorf("put rag block: name, class and code are required (got %q, %q, %d bytes)", b.Name, b.Class, len(b.Code))
	}
	paths, err := json.Marshal(ragNonNil(b.Paths))
	if err != nil {
		return err
	}
	unres, err := json.Marshal(ragNonNil(b.Unresolved))
	if err != nil {
		return err
	}
	if b.Sources == "" {
		b.Sources = "[]"
	}
	if b.UpdatedAt.IsZero() {
		b.UpdatedAt = time.Now()
	}
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO nngpt_rag_block (`+ragCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			b.Name, b.Class, b.Module, b.Code, b.ID, b.Repo, b.Commit, string(paths), b.Sources, b.Level, b.Error,
			b.ErrorKind, b.Input, string(unres), fmtTime(b.UpdatedAt))
		if err != nil {
			return fmt.Errorf("put rag block %s: %w", b.Name, err)
		}
		return nil
	})
}

func ragNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type ragRowScanner interface{ Scan(...any) error }

func scanBlock(r ragRowScanner) (store.RAGBlock, error) {
	var b store.RAGBlock
	var paths, unres, updated string
	if err := r.Scan(&b.Name, &b.Class, &b.Module, &b.Code, &b.ID, &b.Repo, &b.Commit, &paths, &b.Sources, &b.Level,
		&b.Error, &b.ErrorKind, &b.Input, &unres, &updated); err != nil {
		return b, err
	}
	if err := json.Unmarshal([]byte(paths), &b.Paths); err != nil {
		return b, fmt.Errorf("rag block %s: paths: %w", b.Name, err)
	}
	if err := json.Unmarshal([]byte(unres), &b.Unresolved); err != nil {
		return b, fmt.Errorf("rag block %s: unresolved: %w", b.Name, err)
	}
	if len(b.Unresolved) == 0 {
		b.Unresolved = nil // stored as [] so other readers see a list
	}
	if len(b.Paths) == 0 {
		b.Paths = nil
	}
	t, err := time.Parse(time.RFC3339Nano, updated)
	if err != nil {
		return b, fmt.Errorf("rag block %s: updated_at: %w", b.Name, err)
	}
	b.UpdatedAt = t
	return b, nil
}

// Block returns the block named name.
func (db *DB) Block(ctx context.Context, name string) (store.RAGBlock, bool, error) {
	b, err := scanBlock(db.r.QueryRowContext(ctx, `SELECT `+ragCols+` FROM nngpt_rag_block WHERE name = ?`, name))
	if err == sql.ErrNoRows {
		return store.RAGBlock{}, false, nil
	}
	if err != nil {
		return store.RAGBlock{}, false, fmt.Errorf("rag block %s: %w", name, err)
	}
	return b, true, nil
}

// Blocks lists the blocks matching f, by name.
func (db *DB) Blocks(ctx context.Context, f store.RAGFilter) ([]store.RAGBlock, error) {
	q := `SELECT ` + ragCols + ` FROM nngpt_rag_block WHERE level >= ?`
	args := []any{f.MinLevel}
	if f.MinLevel <= 0 {
		args[0] = -1
	}
	if f.Repo != "" {
		q += ` AND repo = ?`
		args = append(args, f.Repo)
	}
	if f.Class != "" {
		q += ` AND class = ?`
		args = append(args, f.Class)
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("rag blocks: %w", err)
	}
	defer rows.Close()
	var out []store.RAGBlock
	for rows.Next() {
		b, err := scanBlock(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
