package zoo_test

import (
	"context"
	"testing"

	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/workspace"
	"github.com/nngpt/nngpt/zoo"
)

func TestNewWorkspaceHasZoo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	count := func() map[string]string {
		ws, err := workspace.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		got := map[string]string{}
		for c, err := range ws.Store.Codes(ctx, store.KindNN, "") {
			if err != nil {
				t.Fatal(err)
			}
			got[c.Name] = c.ID
		}
		return got
	}
	got := count()
	for _, m := range zoo.Models() {
		if got[m.Name] != m.ID() {
			t.Errorf("new workspace: zoo model %s has id %q, want %q", m.Name, got[m.Name], m.ID())
		}
	}
	if len(got) != len(zoo.Models()) {
		t.Errorf("new workspace has %d models, want the %d of the zoo", len(got), len(zoo.Models()))
	}
	// Reopening does not seed again (nor fail).
	if again := count(); len(again) != len(got) {
		t.Errorf("reopened workspace has %d models, want %d", len(again), len(got))
	}
}

func TestSeedTwiceCountsPresent(t *testing.T) {
	ctx := context.Background()
	ws, err := workspace.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	r, err := zoo.Seed(ctx, ws.Store)
	if err != nil {
		t.Fatal(err)
	}
	if r.Added != 0 || r.Present != len(zoo.Models()) {
		t.Errorf("second seed: %+v, want 0 added and %d present", r, len(zoo.Models()))
	}
}
