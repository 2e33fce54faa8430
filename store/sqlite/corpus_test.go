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

func TestStatsFilters(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	recs := []lemur.Record{
		rec("A", 1, 0.5, 0.1), rec("A", 1, 0.6, 0.2), rec("A", 1, 0.6, 0.3), // tie for best
		rec("A", 2, 0.7, 0.1), rec("B", 1, 0.4, 0.1),
	}
	if _, err := db.AddStats(ctx, recs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    store.Filter
		want int
	}{
		{"all", store.Filter{}, 5},
		{"nn", store.Filter{NN: "A"}, 4},
		{"epoch", store.Filter{Epoch: 1, EpochSet: true}, 4},
		{"best keeps ties", store.Filter{BestOnly: true}, 4},
		{"best of A epoch 1", store.Filter{BestOnly: true, NN: "A", Epoch: 1, EpochSet: true}, 2},
		{"max rows", store.Filter{MaxRows: 2}, 2},
		{"no match", store.Filter{Dataset: "mnist"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(t, db, tc.f)
			if len(got) != tc.want {
				t.Fatalf("%d rows, want %d", len(got), tc.want)
			}
		})
	}
	got := collect(t, db, store.Filter{NN: "A", Epoch: 1, EpochSet: true})
	if got[0].Accuracy != 0.6 || got[2].Accuracy != 0.5 {
		t.Fatalf("not sorted by accuracy descending: %v %v", got[0].Accuracy, got[2].Accuracy)
	}
	if lr, _ := got[2].Prm.Float("lr"); lr != 0.1 || got[2].Prm[0].Key != "lr" {
		t.Fatalf("hyperparameters not read back in order: %v", got[2].Prm)
	}
	sum, err := db.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1 || sum[0].Models != 2 || sum[0].Records != 5 || sum[0].BestAccuracy != 0.7 || sum[0].MaxEpoch != 2 {
		t.Fatalf("summary %+v", sum)
	}
}

func TestPutCode(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	tests := []struct {
		code           string
		added, present int
	}{
		{"x = 1", 1, 0},
		{"x = 1", 0, 1},
		{"x = 2", 1, 0}, // new code under the same name replaces it, as LEMUR does
	}
	for i, tc := range tests {
		res, err := db.PutCode(ctx, store.Code{Kind: store.KindNN, Name: "M", Code: tc.code})
		if err != nil {
			t.Fatal(err)
		}
		if res.Added != tc.added || res.Present != tc.present {
			t.Fatalf("step %d: %+v", i, res)
		}
	}
	c, ok, err := db.Code(ctx, store.KindNN, "M")
	if err != nil || !ok || c.Code != "x = 2" || c.ID != lemur.CodeID("x = 2") {
		t.Fatalf("code %+v %v %v", c, ok, err)
	}
	if c2, ok, _ := db.CodeByID(ctx, store.KindNN, lemur.CodeID("x=2")); !ok || c2.Name != "M" {
		t.Fatal("CodeByID did not find the code by its whitespace-free id")
	}
	if _, err := db.PutCode(ctx, store.Code{Kind: "bogus", Name: "M"}); err == nil {
		t.Fatal("accepted an unknown code table")
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
