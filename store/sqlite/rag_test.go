package sqlite

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/store"
)

func TestRAGBlocksRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "rag.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := store.RAGBlock{Name: "tv.models.resnet.BasicBlock", Class: "BasicBlock", Module: "tv.models.resnet", Code: "class BasicBlock: pass\n",
		ID: "id1", Repo: "/r", Commit: "c1", Paths: []string{"tv/models/resnet.py"}, Sources: `[{"path":"tv/models/resnet.py"}]`,
		Level: 2, Input: "2x16x32x32 tensor", UpdatedAt: t0}
	b := store.RAGBlock{Name: "tv.models.video.resnet.BasicBlock", Class: "BasicBlock", Module: "tv.models.video.resnet", Code: "x = 1\n",
		ID: "id2", Repo: "/r", Level: 1, Error: "forward failed", ErrorKind: "forward", Unresolved: []string{"Missing (m:3): not defined"}, UpdatedAt: t0}
	for _, blk := range []store.RAGBlock{a, b} {
		if err := db.PutBlock(ctx, blk); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := db.Block(ctx, a.Name)
	if err != nil || !ok {
		t.Fatalf("Block: %v %v", ok, err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
	}
	// Replacing keeps one row per name.
	a.Level, a.Code = 1, "class BasicBlock:\n    pass\n"
	if err := db.PutBlock(ctx, a); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    store.RAGFilter
		want string
	}{
		{store.RAGFilter{}, "tv.models.resnet.BasicBlock,tv.models.video.resnet.BasicBlock"},
		{store.RAGFilter{MinLevel: 2}, ""},
		{store.RAGFilter{MinLevel: 1, Class: "BasicBlock"}, "tv.models.resnet.BasicBlock,tv.models.video.resnet.BasicBlock"},
		{store.RAGFilter{Repo: "/other"}, ""},
	}
	for _, tc := range tests {
		bs, err := db.Blocks(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range bs {
			names = append(names, x.Name)
		}
		if strings.Join(names, ",") != tc.want {
			t.Errorf("Blocks(%+v) = %v, want %s", tc.f, names, tc.want)
		}
	}
	if _, ok, err := db.Block(ctx, "nope"); ok || err != nil {
		t.Errorf("missing block: ok=%v err=%v", ok, err)
	}
	if err := db.PutBlock(ctx, store.RAGBlock{Name: "x"}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("incomplete block: err = %v", err)
	}
}
