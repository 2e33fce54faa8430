// Package sqlite implements store.Store on SQLite through modernc.org/sqlite
// (pure Go, no cgo). The file keeps LEMUR's own tables and columns, so
// LEMUR's Python tools can read it, plus nngpt's tables beside them.
//
// Concurrency: WAL mode, a pool of readers and exactly one writer
// connection, so writers queue in Go instead of failing with SQLITE_BUSY.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/nngpt/nngpt/store"
)

// DB is a workspace database.
type DB struct {
	path string
	r    *sql.DB // readers
	w    *sql.DB // the one writer
}

var _ store.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrationFS embed.FS

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(OFF)", "temp_store(MEMORY)", "cache_size(-65536)"} {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("mode", "ro")
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating when needed) the database at path and applies every
// migration it has not seen yet.
func Open(ctx context.Context, path string) (*DB, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	db := &DB{path: path, r: r, w: w}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return db, nil
}

// OpenReadOnly opens an existing database for reading only, for viewers
// such as the dashboard that run beside the process that writes it: no
// migration runs and every write fails. The database must already carry
// nngpt's schema.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s read-only: %w (run a command that creates the workspace first, e.g. `nngpt run`)", path, err)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "query_only(1)", "temp_store(MEMORY)", "cache_size(-65536)"} {
		q.Add("_pragma", p)
	}
	q.Set("mode", "ro")
	r, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s read-only: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	var v int
	if err := r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM nngpt_migration`).Scan(&v); err != nil {
		r.Close()
		return nil, fmt.Errorf("open %s read-only: not an nngpt workspace database: %w", path, err)
	}
	// The writer pool is the reader pool: with mode=ro and query_only every
	// write fails with SQLite's own "readonly database" error.
	return &DB{path: path, r: r, w: r}, nil
}

// Changes is a cheap probe of whether another connection committed since
// the last look: SQLite's PRAGMA data_version on one pinned connection
// (the counter is per connection), which reads no table.
type Changes struct{ conn *sql.Conn }

// Changes pins a reader connection for a change probe; Close releases it.
func (db *DB) Changes(ctx context.Context) (*Changes, error) {
	c, err := db.r.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("change probe on %s: %w", db.path, err)
	}
	return &Changes{conn: c}, nil
}

// Version changes whenever another connection has committed a write.
func (c *Changes) Version(ctx context.Context) (int64, error) {
	var v int64
	if err := c.conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("data_version: %w", err)
	}
	return v, nil
}

// Close releases the pinned connection.
func (c *Changes) Close() error { return c.conn.Close() }

// Close closes both pools.
func (db *DB) Close() error {
	errR := db.r.Close()
	if db.w == db.r {
		return errR
	}
	errW := db.w.Close()
	if errW != nil {
		return errW
	}
	return errR
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// writeTx runs fn in one write transaction: committed when fn returns nil,
// rolled back otherwise, so a failed step never leaves half its rows behind.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// migration is one file migrations/NNNN_name.sql; NNNN is its version.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range ents {
		num, rest, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(rest, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("two migrations with version %d", ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the migrations newer than the database's recorded
// version, each in its own transaction together with the version bump.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS nngpt_migration (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (datetime('now')))`); err != nil {
		return err
	}
	var cur int
	if err := db.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM nngpt_migration`).Scan(&cur); err != nil {
		return err
	}
	for _, m := range ms {
		if m.version <= cur {
			continue
		}
		err := db.writeTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO nngpt_migration(version, name) VALUES (?, ?)`, m.version, m.name)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
