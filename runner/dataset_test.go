package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrepareRealDatasetFromFiles builds a tiny CIFAR-10 in its standard
// python-pickle layout, prepares it through the sandboxed worker, and checks
// the cache: labels readable by the coordinator only, a seeded subset, and
// an error naming the expected files when they are missing.
func TestPrepareRealDatasetFromFiles(t *testing.T) {
	py, sb := needTorch(t)
	data := filepath.Join(testCache, "realdata")
	base := filepath.Join(data, "cifar-10-batches-py")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o755)
	script := `import pickle, sys, numpy as np
base = sys.argv[1]
rng = np.random.default_rng(0)
for f in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
    with open(base + "/" + f, "wb") as fh:
        pickle.dump({b"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, 8))}, fh)
`
	if out, err := exec.Command(py.Path, "-c", script, base).CombinedOutput(); err != nil {
		t.Fatalf("writing fake CIFAR-10: %v\n%s", err, out)
	}
	filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			os.Chmod(p, fi.Mode()|0o444|(fi.Mode()&0o100)>>6|(fi.Mode()&0o100)>>3)
		}
		return nil
	})
	ds := Datasets{CacheDir: filepath.Join(testCache, "realcache"), Sandbox: sb}
	d, err := ds.Prepare(context.Background(), py, DatasetSpec{Name: "cifar-10", DataDir: data, NTest: 6, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if d.NTrain != 40 || d.NTest != 6 || d.Channels != 3 || d.Height != 32 || d.Name != "cifar-10" {
		t.Fatalf("dataset %+v", d)
	}
	labels, err := d.Labels()
	if err != nil || len(labels) != 6 {
		t.Fatalf("labels %v %v", labels, err)
	}
	st, err := os.Stat(filepath.Join(d.Dir, "private"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("private folder %v %v: want mode 0700", st.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(d.Public(), "test_y.npy")); err == nil {
		t.Fatal("test labels in the public folder")
	}
	// The second call is served from the cache.
	d2, err := ds.Prepare(context.Background(), nil, DatasetSpec{Name: "cifar-10", DataDir: data, NTest: 6, Seed: 2})
	if err != nil || d2.Dir != d.Dir || d2.SplitID() != d.SplitID() {
		t.Fatalf("cached prepare: %v %v", d2, err)
	}
	empty := filepath.Join(testCache, "emptydata")
	os.MkdirAll(empty, 0o755)
	_, err = ds.Prepare(context.Background(), py, DatasetSpec{Name: "cifar-100", DataDir: empty})
	if err == nil || !strings.Contains(err.Error(), "cifar-100-python") || !strings.Contains(err.Error(), empty) {
		t.Fatalf("missing files: %v", err)
	}
}
