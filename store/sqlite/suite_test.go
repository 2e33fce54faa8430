package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/storetest"
)

// TestStore runs the behaviour suite every store passes; each handle is
// another Open of the same file, as several processes would open it.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) store.Store {
		path := filepath.Join(t.TempDir(), "nngpt.db")
		return func(t *testing.T) store.Store {
			db, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
	})
}
