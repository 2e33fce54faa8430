// Package workspace is the folder a user works in: the database nngpt.db and
// the artefacts later steps put beside it (candidates, reports, prompts).
package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/postgres"
	"github.com/nngpt/nngpt/store/sqlite"
	"github.com/nngpt/nngpt/zoo"
)

// DBName is the database file inside a workspace.
const DBName = "nngpt.db"

// Workspace is an open workspace.
type Workspace struct {
	Dir   string
	Store store.Store
}

// Open opens the workspace at dir, creating the folder and the database
// (with every migration applied) when they do not exist yet.
func Open(ctx context.Context, dir string) (*Workspace, error) { return OpenWith(ctx, dir, "") }

// OpenWith opens the workspace at dir with its corpus in the store at url:
// a postgres:// URL for a PostgreSQL corpus several coordinators share
// (the artefacts stay in dir), "" for the workspace's own SQLite file.
func OpenWith(ctx context.Context, dir, url string) (*Workspace, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	if url != "" {
		if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
			return nil, fmt.Errorf("store %q: want a postgres:// URL (or none for the workspace's SQLite file)", url)
		}
		st, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		if err := seedZoo(ctx, st); err != nil {
			st.Close()
			return nil, err
		}
		return &Workspace{Dir: abs, Store: st}, nil
	}
	dbPath := filepath.Join(abs, DBName)
	_, statErr := os.Stat(dbPath)
	fresh := os.IsNotExist(statErr)
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return nil, fmt.Errorf("open workspace %s: %w", abs, err)
	}
	if fresh {
		if err := seedZoo(ctx, st); err != nil {
			st.Close()
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(dbPath + suffix) // so the next Open seeds again
			}
			return nil, fmt.Errorf("create workspace %s: %w", abs, err)
		}
	}
	return &Workspace{Dir: abs, Store: st}, nil
}

// ---- seeding (issue 4: seed zoo) ----

// seedZoo stores the seed zoo's models in a new workspace's corpus, so
// generators have parents and examples before any LEMUR import. Only a
// new database is seeded: a user who deletes zoo models keeps them deleted.
func seedZoo(ctx context.Context, st store.Store) error {
	if _, err := zoo.Seed(ctx, st); err != nil {
		return fmt.Errorf("seed zoo: %w", err)
	}
	return nil
}

// Path joins elements onto the workspace folder.
func (w *Workspace) Path(elem ...string) string {
	return filepath.Join(append([]string{w.Dir}, elem...)...)
}

// Close closes the store.
func (w *Workspace) Close() error { return w.Store.Close() }
