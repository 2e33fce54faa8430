package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nngpt/nngpt/store"
)

const ragCols = `name, class, module, code, id, repo, git_commit, paths, sources, level, error, error_kind, input, unresolved, updated_at`

// PutBlock stores b, replacing the block of the same name.
func (db *DB) PutBlock(ctx context.Context, b store.RAGBlock) error {
	if b.Name == "" || b.Class == "" || b.Code == "" {
		return fmt.Errorf("put rag block: name, class and code are required (got %q, %q, %d bytes)", b.Name, b.Class, len(b.Code))
	}
	paths, err := json.Marshal(nonNil(b.Paths))
	if err != nil {
		return err
	}
	unres, err := json.Marshal(nonNil(b.Unresolved))
	if err != nil {
		return err
	}
	if b.Sources == "" {
		b.Sources = "[]"
	}
	if b.UpdatedAt.IsZero() {
		b.UpdatedAt = time.Now()
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO nngpt_rag_block (`+ragCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
		ON CONFLICT (name) DO UPDATE SET class = excluded.class, module = excluded.module, code = excluded.code, id = excluded.id,
		repo = excluded.repo, git_commit = excluded.git_commit, paths = excluded.paths, sources = excluded.sources,
		level = excluded.level, error = excluded.error, error_kind = excluded.error_kind, input = excluded.input,
		unresolved = excluded.unresolved, updated_at = excluded.updated_at`,
		b.Name, b.Class, b.Module, b.Code, b.ID, b.Repo, b.Commit, string(paths), b.Sources, b.Level, b.Error,
		b.ErrorKind, b.Input, string(unres), fmtTime(b.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put rag block %s: %w", b.Name, err)
	}
	return nil
}

func scanBlock(r pgx.Row) (store.RAGBlock, error) {
	var b store.RAGBlock
	var paths, unres, updated string
	var level int32
	if err := r.Scan(&b.Name, &b.Class, &b.Module, &b.Code, &b.ID, &b.Repo, &b.Commit, &paths, &b.Sources, &level,
		&b.Error, &b.ErrorKind, &b.Input, &unres, &updated); err != nil {
		return b, err
	}
	b.Level = int(level)
	if err := json.Unmarshal([]byte(paths), &b.Paths); err != nil {
		return b, fmt.Errorf("rag block %s: paths: %w", b.Name, err)
	}
	if err := json.Unmarshal([]byte(unres), &b.Unresolved); err != nil {
		return b, fmt.Errorf("rag block %s: unresolved: %w", b.Name, err)
	}
	if len(b.Unresolved) == 0 {
		b.Unresolved = nil
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
	b, err := scanBlock(db.pool.QueryRow(ctx, `SELECT `+ragCols+` FROM nngpt_rag_block WHERE name = $1`, name))
	if noRows(err) {
		return store.RAGBlock{}, false, nil
	}
	if err != nil {
		return store.RAGBlock{}, false, fmt.Errorf("rag block %s: %w", name, err)
	}
	return b, true, nil
}

// Blocks lists the blocks matching f, by name.
func (db *DB) Blocks(ctx context.Context, f store.RAGFilter) ([]store.RAGBlock, error) {
	q := `SELECT ` + ragCols + ` FROM nngpt_rag_block WHERE level >= $1`
	args := []any{max(f.MinLevel, -1)}
	if f.MinLevel <= 0 {
		args[0] = -1
	}
	if f.Repo != "" {
		args = append(args, f.Repo)
		q += fmt.Sprintf(` AND repo = $%d`, len(args))
	}
	if f.Class != "" {
		args = append(args, f.Class)
		q += fmt.Sprintf(` AND class = $%d`, len(args))
	}
	rows, err := db.pool.Query(ctx, q+` ORDER BY name COLLATE "C"`, args...)
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
