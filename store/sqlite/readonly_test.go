package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/store"
)

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nngpt.db")
	if _, err := OpenReadOnly(ctx, path); err == nil || !strings.Contains(err.Error(), "nngpt run") {
		t.Fatalf("missing file: err %v, want one that says how to create it", err)
	}
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.PutLoop(ctx, store.Loop{ID: "L1", Status: "running", Config: "{}", Cycles: 2}); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ls, err := ro.Loops(ctx)
	if err != nil || len(ls) != 1 || ls[0].ID != "L1" {
		t.Fatalf("loops %+v, %v", ls, err)
	}
	if err := ro.PutLoop(ctx, store.Loop{ID: "L2", Status: "running", Config: "{}"}); err == nil {
		t.Fatal("a write through the read-only store succeeded")
	}
	ch, err := ro.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	v0, err := ch.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ch.Version(ctx); v != v0 {
		t.Fatalf("version moved from %d to %d with no write", v0, v)
	}
	if err := w.PutLoop(ctx, store.Loop{ID: "L1", Status: "done", Config: "{}", Cycles: 2, CycleDone: 2}); err != nil {
		t.Fatal(err)
	}
	if v, _ := ch.Version(ctx); v == v0 {
		t.Fatal("version unchanged after another connection committed")
	}
}

func TestCandidatesSince(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if err := db.PutLoop(ctx, store.Loop{ID: "L", Status: "running", Config: "{}"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := db.PutCandidate(ctx, store.CandidateRow{ID: fmt.Sprintf("L-c01-%02d", i), LoopID: "L", Cycle: 1, Index: i, State: store.StateGenerated}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	for _, tc := range []struct {
		since time.Time
		want  int
	}{
		{now.Add(-time.Minute), 3},
		{now.Truncate(time.Second), 3}, // a bound within the rows' second keeps them
		{now.Add(time.Minute), 0},
	} {
		got, err := db.CandidatesSince(ctx, "L", tc.since)
		if err != nil || len(got) != tc.want {
			t.Fatalf("since %v: %d rows, %v; want %d", tc.since, len(got), err, tc.want)
		}
	}
	var plan, detail string
	var a, b int
	if err := db.r.QueryRowContext(ctx, `EXPLAIN QUERY PLAN SELECT id, code FROM nngpt_candidate WHERE loop_id = ? AND updated >= ?`, "L", "x").
		Scan(&a, &b, &plan, &detail); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "idx_nngpt_candidate_updated") {
		t.Fatalf("query plan %q does not use the updated index", detail)
	}
}
