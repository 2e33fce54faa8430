package worker

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUnpackIdempotentAndComplete(t *testing.T) {
	cache := t.TempDir()
	d1, err := Unpack(cache)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Unpack(cache)
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Fatalf("second unpack gave %s, first %s", d2, d1)
	}
	for _, f := range []string{"__main__.py", "train.py", "prepare.py", "proto.py", "probe.py", "transforms.py"} {
		b, err := os.ReadFile(filepath.Join(d1, Package, f))
		if err != nil {
			t.Fatalf("unpacked %s: %v", f, err)
		}
		want, _ := FS.ReadFile(Package + "/" + f)
		if string(b) != string(want) {
			t.Fatalf("%s differs from the embedded copy", f)
		}
	}
	ents, _ := os.ReadDir(cache)
	if len(ents) != 1 {
		t.Fatalf("cache holds %d entries, want 1 (no temporary folders left)", len(ents))
	}
}

func TestHashStable(t *testing.T) {
	if Hash() != Hash() || len(Hash()) != 64 {
		t.Fatal("hash not stable")
	}
}
