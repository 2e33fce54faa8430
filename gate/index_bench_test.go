package gate

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
	"github.com/nngpt/nngpt/zoo"
)

// BenchmarkLoadIndex measures building the dedup index over a corpus of
// 600 models (the 12 zoo models in 50 variants each), "cold" with no cached
// ids (every model parsed, ids cached) and "cached" on the next start.
func BenchmarkLoadIndex(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	seed := filepath.Join(dir, "seed.db")
	db, err := sqlite.Open(ctx, seed)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for v := range 50 {
		for _, m := range zoo.Models() {
			code := m.Code + fmt.Sprintf("\n\nVARIANT = %d\n", v)
			if _, err := db.PutCode(ctx, store.Code{Kind: store.KindNN, Name: fmt.Sprintf("%s%d", m.Name, v), Code: code}); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	db.Close()
	open := func(b *testing.B, copyOf string) *sqlite.DB {
		path := copyOf
		if copyOf == seed {
			path = filepath.Join(b.TempDir(), "ws.db")
			copyFile(b, seed, path)
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			db := open(b, seed)
			b.StartTimer()
			_, stats, err := LoadIndex(ctx, db)
			if err != nil || stats.Computed != n {
				b.Fatalf("%+v %v", stats, err)
			}
			b.StopTimer()
			db.Close()
			b.StartTimer()
		}
	})
	b.Run("cached", func(b *testing.B) {
		db := open(b, seed)
		defer db.Close()
		if _, _, err := LoadIndex(ctx, db); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			_, stats, err := LoadIndex(ctx, db)
			if err != nil || stats.Cached != n {
				b.Fatalf("%+v %v", stats, err)
			}
		}
	})
}

func copyFile(b *testing.B, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}
