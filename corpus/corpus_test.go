package corpus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "nngpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// makeTree writes a small LEMUR checkout with models, a transform, and
// nPipelines x 3 epochs of records, plus the given extra files.
func makeTree(t testing.TB, nPipelines int, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nPipelines {
		nn := fmt.Sprintf("Net%d", i)
		write("ab/nn/nn/"+nn+".py", fmt.Sprintf("import torch\nclass Net:\n    width = %d\n", i))
		for e := 1; e <= 3; e++ {
			var recs []string
			for k := range 4 {
				acc := 0.1*float64(e) + 0.01*float64(k) + 0.001*float64(i)
				recs = append(recs, fmt.Sprintf(`{"accuracy": %v, "batch": %d, "duration": %d, "lr": %v, "momentum": 0.9, "transform": "norm_32", "uid": "u%d-%d"}`,
					acc, 1<<k, e*1000+k, 0.01*float64(k+1), i, k))
			}
			write(fmt.Sprintf("ab/nn/stat/img-classification_cifar-10_acc_%s/%d.json", nn, e), "["+strings.Join(recs, ",")+"]")
		}
	}
	write("ab/nn/transform/norm_32.py", "def transform(norm):\n    return norm\n")
	for k, v := range extra {
		write(k, v)
	}
	return dir
}

func rows(t *testing.T, st store.Store) []lemur.Record {
	t.Helper()
	var out []lemur.Record
	for r, err := range st.Stats(context.Background(), store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestImportTwiceAddsNothing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	tree := makeTree(t, 3, nil)
	rep, err := Import(ctx, st, tree, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pipelines != 3 || rep.Models != 3 || rep.Records != 36 || rep.New != 36 || rep.Files != 9 || rep.Codes.New != 4 {
		t.Fatalf("first import %+v", rep)
	}
	rep, err = Import(ctx, st, tree, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.New != 0 || rep.Present != 36 || rep.Codes.New != 0 || rep.Codes.Present != 4 {
		t.Fatalf("second import %+v, want nothing new", rep)
	}
}

func TestImportSkipsBadFilesAndStrictWritesNothing(t *testing.T) {
	ctx := context.Background()
	tree := makeTree(t, 2, map[string]string{
		"ab/nn/stat/img-classification_cifar-10_acc_Net0/4.json": `[{"accuracy": 0.5, "lr": "fast"}]`,
		"ab/nn/stat/img-classification_cifar-10_Net9/1.json":     `[]`,
	})
	st := openStore(t)
	rep, err := Import(ctx, st, tree, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped[lemur.ReasonBadType] != 1 || rep.Skipped[lemur.ReasonBadFolder] != 1 || rep.SkippedFiles() != 2 {
		t.Fatalf("skipped %v", rep.Skipped)
	}
	if got := len(rows(t, st)); got != 24 {
		t.Fatalf("%d rows, want the 24 of the good files", got)
	}
	strict := openStore(t)
	if _, err := Import(ctx, strict, tree, ImportOptions{Strict: true}); err == nil || !strings.Contains(err.Error(), "strict") {
		t.Fatalf("strict import error %v", err)
	}
	if got := len(rows(t, strict)); got != 0 {
		t.Fatalf("strict import left %d rows behind", got)
	}
}

func TestExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if _, err := Import(ctx, st, makeTree(t, 3, nil), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	rep, err := Export(ctx, st, out, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 36 || rep.Files != 9 || rep.Codes != 4 {
		t.Fatalf("export %+v", rep)
	}
	// Files are sorted by accuracy, descending, as LEMUR writes them.
	tr, err := lemur.Load(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(out, "stat", "img-classification_cifar-10_acc_Net1", "2.json"))
	recs, prob := lemur.ParseStatFile(lemur.Pipeline{}, 2, data)
	if prob != nil || len(recs) != 4 {
		t.Fatalf("exported file: %v", prob)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Accuracy > recs[i-1].Accuracy {
			t.Fatal("exported records not sorted by accuracy, descending")
		}
	}
	if len(tr.Problems) != 0 {
		t.Fatalf("export does not read back cleanly: %+v", tr.Problems)
	}
	st2 := openStore(t)
	if _, err := Import(ctx, st2, out, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	a, b := rows(t, st), rows(t, st2)
	if len(a) != len(b) {
		t.Fatalf("%d rows, re-imported %d", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].UID != b[i].UID || lemur.Repr(a[i].Prm) != lemur.Repr(b[i].Prm) || *a[i].Duration != *b[i].Duration {
			t.Fatalf("row %d differs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	c1, _ := st.Counts(ctx)
	c2, _ := st2.Counts(ctx)
	if c1 != c2 {
		t.Fatalf("counts %+v vs %+v", c1, c2)
	}
	// --nn keeps only the matching models.
	sub := filepath.Join(t.TempDir(), "sub")
	rep, err = Export(ctx, st, sub, "Net1")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Models != 1 || rep.Records != 12 {
		t.Fatalf("filtered export %+v", rep)
	}
	if _, err := Export(ctx, st, sub, "[bad"); err == nil {
		t.Fatal("accepted a malformed glob")
	}
}

// BenchmarkImport imports a generated tree of 120 pipelines x 3 epochs x 4
// records into a fresh store; `nngpt bench import` measures the real archive.
func BenchmarkImport(b *testing.B) {
	tree := makeTree(b, 120, nil)
	ctx := context.Background()
	for b.Loop() {
		dir, _ := os.MkdirTemp("", "bench")
		st, err := sqlite.Open(ctx, filepath.Join(dir, "nngpt.db"))
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Import(ctx, st, tree, ImportOptions{})
		if err != nil || rep.Records != 1440 {
			b.Fatal(err, rep.Records)
		}
		st.Close()
		os.RemoveAll(dir)
	}
	b.ReportMetric(1440, "records/op")
}

func TestModels(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if _, err := Import(ctx, st, makeTree(t, 2, nil), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	st.PutCode(ctx, store.Code{Kind: store.KindNN, Name: "Fresh", Code: "x = 1"})
	ms, err := Models(ctx, st, "img-classification", "cifar-10", "acc")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0].Name != "Fresh" || ms[0].Accuracy != -1 || ms[0].Prm != nil {
		t.Fatalf("models %+v", ms)
	}
	// Net1's best: epoch 3, the k=3 record: 0.3 + 0.03 + 0.001.
	if m := ms[2]; m.Name != "Net1" || m.Epoch != 3 || m.Accuracy < 0.3309 || m.Accuracy > 0.3311 || m.Prm == nil {
		t.Fatalf("best run of Net1: %+v", m)
	}
	if ms, _ := Models(ctx, st, "img-classification", "mnist", "acc"); ms[1].Accuracy != -1 {
		t.Fatal("a run on another dataset counted")
	}
}
