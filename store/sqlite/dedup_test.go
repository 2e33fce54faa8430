package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/store"
)

func TestDedupEntries(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "ws.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := func(c byte) string { return strings.Repeat(string(c), 32) }
	in := []store.DedupEntry{
		{CodeID: id('a'), Normalised: id('b'), Structure: id('c'), Name: "cand-1", Source: store.DedupCandidate, Version: 1},
		{CodeID: id('d'), Normalised: id('e'), Structure: id('f'), Name: "ResNet", Source: store.DedupCorpus, Version: 1},
		{CodeID: id('a'), Normalised: id('9'), Structure: id('9'), Name: "old", Source: store.DedupCorpus, Version: 0},
	}
	if err := db.PutDedupEntries(ctx, in); err != nil {
		t.Fatal(err)
	}
	// The same code again as a candidate changes nothing; as a corpus model
	// (the candidate was trained and registered) it takes the corpus name.
	if err := db.PutDedupEntries(ctx, []store.DedupEntry{
		{CodeID: id('d'), Normalised: id('e'), Structure: id('f'), Name: "cand-2", Source: store.DedupCandidate, Version: 1},
		{CodeID: id('a'), Normalised: id('b'), Structure: id('c'), Name: "gen-aaaa", Source: store.DedupCorpus, Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string]store.DedupEntry{}
	for e, err := range db.DedupEntries(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		got[e.CodeID] = e
	}
	if len(got) != 2 {
		t.Fatalf("version 1 has %d entries, want 2: %v", len(got), got)
	}
	if e := got[id('a')]; e.Name != "gen-aaaa" || e.Source != store.DedupCorpus || e.Normalised != id('b') {
		t.Errorf("promoted entry = %+v", e)
	}
	if e := got[id('d')]; e.Name != "ResNet" || e.Source != store.DedupCorpus {
		t.Errorf("corpus entry = %+v", e)
	}
	bad := []store.DedupEntry{{CodeID: id('x'), Normalised: id('y'), Structure: id('z'), Name: "n", Source: "somewhere", Version: 1}}
	if err := db.PutDedupEntries(ctx, bad); err == nil || !strings.Contains(err.Error(), "source") {
		t.Fatalf("bad source: err = %v", err)
	}
}
