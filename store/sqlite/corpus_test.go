package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "nngpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rec(nn string, epoch int, acc float64, lr float64) lemur.Record {
	return lemur.NewRecord(lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: nn}, epoch, acc, nil,
		lemur.Dict{{Key: "lr", Value: lr}, {Key: "batch", Value: int64(32)}, {Key: "transform", Value: "norm_32"}})
}

func collect(t *testing.T, db *DB, f store.Filter) []lemur.Record {
	t.Helper()
	var out []lemur.Record
	for r, err := range db.Stats(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestAddStatsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	recs := []lemur.Record{rec("A", 1, 0.5, 0.1), rec("A", 1, 0.6, 0.2), rec("A", 2, 0.7, 0.1), rec("B", 1, 0.4, 0.1)}
	res, err := db.AddStats(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 4 || res.Present != 0 {
		t.Fatalf("first add %+v", res)
	}
	res, err = db.AddStats(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 0 || res.Present != 4 {
		t.Fatalf("second add %+v, want everything present", res)
	}
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Records != 4 || c.Pipelines != 2 || c.Models != 2 {
		t.Fatalf("counts %+v", c)
	}
	// LEMUR's prm table: one row per key of each trial, Python types kept.
	var n int
	var typ string
	db.r.QueryRow(`SELECT COUNT(*) FROM prm`).Scan(&n)
	db.r.QueryRow(`SELECT typeof(value) FROM prm WHERE name = 'batch' LIMIT 1`).Scan(&typ)
	if n != 6 || typ != "integer" {
		t.Fatalf("prm rows %d (want 2 trials x 3 keys), batch stored as %s", n, typ)
	}
}

func TestBulkAddStatsRollsBack(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	boom := errors.New("boom")
	_, err := db.BulkAddStats(ctx, func(add func([]lemur.Record) error) error {
		if err := add([]lemur.Record{rec("A", 1, 0.5, 0.1)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if got := collect(t, db, store.Filter{}); len(got) != 0 {
		t.Fatalf("%d rows landed from a failed import", len(got))
	}
	// The indexes dropped for the bulk load are back.
	var idx int
	db.r.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND tbl_name='stat' AND sql IS NOT NULL`).Scan(&idx)
	if idx != 8 {
		t.Fatalf("%d stat indexes after rollback, want 8", idx)
	}
	if _, err := db.AddStats(ctx, []lemur.Record{rec("A", 1, 0.5, 0.1)}); err != nil {
		t.Fatal(err)
	}
	db.r.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND tbl_name='stat' AND sql IS NOT NULL`).Scan(&idx)
	if idx != 8 {
		t.Fatalf("%d stat indexes after a bulk load, want 8", idx)
	}
}

func TestMigrationsReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nngpt.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.AddStats(ctx, []lemur.Record{rec("A", 1, 0.5, 0.1)})
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if got := collect(t, db, store.Filter{}); len(got) != 1 {
		t.Fatalf("%d rows after reopening", len(got))
	}
}
