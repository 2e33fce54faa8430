package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/storetest"
)

// serverURL is the test server (scripts/services.sh starts one); tests
// skip without it.
func serverURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("NNGPT_TEST_POSTGRES")
	if u == "" {
		why := os.Getenv("NNGPT_TEST_POSTGRES_MISSING")
		if why == "" {
			why = "NNGPT_TEST_POSTGRES is not set"
		}
		t.Skipf("no PostgreSQL server: %s (scripts/services.sh start brings one up; ./scripts/test does it for you)", why)
	}
	return u
}

// freshSchema creates an empty schema and returns a URL whose connections
// use it, so every test has a corpus of its own on one server.
func freshSchema(t *testing.T) string {
	t.Helper()
	base := serverURL(t)
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) store.Store {
		u := freshSchema(t)
		return func(t *testing.T) store.Store {
			db, err := Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
	})
}

// TestLEMURTables: LEMUR's prm table keeps each hyperparameter's Python
// type, and coordinators opening a new database at once migrate it once.
func TestLEMURTables(t *testing.T) {
	ctx := context.Background()
	u := freshSchema(t)
	dbs := make(chan *DB, 3)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			db, err := Open(ctx, u)
			errs <- err
			dbs <- db
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
		db := <-dbs
		t.Cleanup(func() { db.Close() })
	}
	db, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM nngpt_migration`).Scan(&n); err != nil || n != len(mustMigrations(t)) {
		t.Fatalf("%d migrations recorded (%v), want %d", n, err, len(mustMigrations(t)))
	}
	rec := lemur.NewRecord(lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: "M"}, 1, 0.5, nil,
		lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "batch", Value: int64(32)}, {Key: "pretrained", Value: true}, {Key: "transform", Value: "norm"}})
	if _, err := db.AddStats(ctx, []lemur.Record{rec}); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, typ, text string }{
		{"lr", "number", "0.01"}, {"batch", "number", "32"}, {"pretrained", "number", "1"}, {"transform", "string", `"norm"`},
	}
	for _, tc := range tests {
		var typ, text string
		if err := db.pool.QueryRow(ctx, `SELECT jsonb_typeof(value), value::text FROM prm WHERE uid = $1 AND name = $2`, rec.UID, tc.name).Scan(&typ, &text); err != nil {
			t.Fatalf("prm %s: %v", tc.name, err)
		}
		if typ != tc.typ || text != tc.text {
			t.Errorf("prm %s stored as %s %s, want %s %s", tc.name, typ, text, tc.typ, tc.text)
		}
	}
	var transform, prmUID string
	if err := db.pool.QueryRow(ctx, `SELECT transform, prm FROM stat WHERE id = $1`, rec.ID).Scan(&transform, &prmUID); err != nil || transform != "norm" || prmUID != rec.UID {
		t.Fatalf("stat row: %q %q %v", transform, prmUID, err)
	}
}

func mustMigrations(t *testing.T) []migration {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct{ url, want string }{
		{"postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "is the server running"},
		{"postgres://u:secret@[bad", "want postgres://"},
	}
	for _, tc := range tests {
		_, err := Open(ctx, tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) = %v, want an error saying %q without the password", tc.url, err, tc.want)
		}
	}
}
