package corpus

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nngpt/nngpt/store"
)

// TestImportKeepsStoredCodeUnlessReplaceCode: a tree whose model code
// differs from the stored code under the same name does not silently swap
// it under its stats; with ReplaceCode it does, and says so.
func TestImportKeepsStoredCodeUnlessReplaceCode(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	tree := makeTree(t, 1, nil)
	if _, err := Import(ctx, st, tree, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	orig, _, _ := st.Code(ctx, store.KindNN, "Net0")
	os.WriteFile(filepath.Join(tree, "ab", "nn", "nn", "Net0.py"), []byte("import torch\nclass Net:\n    width = 999\n"), 0o644)
	cases := []struct {
		name     string
		opt      ImportOptions
		conflict int
		replaced int
		want     string
	}{
		{"kept", ImportOptions{}, 1, 0, orig.Code},
		{"replaced", ImportOptions{ReplaceCode: true}, 0, 1, "import torch\nclass Net:\n    width = 999\n"},
	}
	for _, c := range cases {
		rep, err := Import(ctx, st, tree, c.opt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _, _ := st.Code(ctx, store.KindNN, "Net0")
		if rep.Skipped[ReasonCodeConflict] != c.conflict || len(rep.Replaced) != c.replaced || got.Code != c.want {
			t.Fatalf("%s: skipped %v, replaced %v, code %q", c.name, rep.Skipped, rep.Replaced, got.Code)
		}
	}
}
