package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

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
