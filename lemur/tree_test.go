package lemur

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

const goodEpoch = `[
    {"accuracy": 0.6, "batch": 4, "duration": 100, "lr": 0.01, "momentum": 0.9, "transform": "norm_32", "uid": "u1", "pretrained": 1.0},
    {"accuracy": 0.5, "batch": 8, "lr": 1e-05, "momentum": 0.5, "transform": "echo", "uid": "u2"}
]`

// writeTree writes files (slash paths) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseStatFileProblems(t *testing.T) {
	p := Pipeline{"img-classification", "cifar-10", "acc", "Net"}
	tests := []struct {
		name, data, reason string
	}{
		{"truncated", `[{"accuracy": 0.5, "lr": 0.1`, ReasonBadJSON},
		{"object not array", `{"accuracy": 0.5}`, ReasonNotArray},
		{"NaN", `[{"accuracy": NaN, "uid": "a"}]`, ReasonNaN},
		{"string accuracy", `[{"accuracy": "0.5", "uid": "a"}]`, ReasonBadType},
		{"string lr", `[{"accuracy": 0.5, "lr": "0.1", "uid": "a"}]`, ReasonBadType},
		{"record not object", `[1, 2]`, ReasonBadRecord},
		{"no accuracy", `[{"lr": 0.1, "uid": "a"}]`, ReasonBadRecord},
		{"fractional duration", `[{"accuracy": 0.5, "duration": 1.5, "uid": "a"}]`, ReasonBadType},
		{"trailing garbage", `[] x`, ReasonBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, prob := ParseStatFile(p, 1, []byte(tc.data))
			if prob == nil {
				t.Fatalf("accepted %s", tc.data)
			}
			if prob.Reason != tc.reason {
				t.Fatalf("reason %q (%s), want %q", prob.Reason, prob.Detail, tc.reason)
			}
		})
	}
	recs, prob := ParseStatFile(p, 3, []byte(goodEpoch))
	if prob != nil {
		t.Fatal(prob)
	}
	if len(recs) != 2 || recs[0].UID != "u1" || recs[1].Duration != nil || *recs[0].Duration != 100 {
		t.Fatalf("records %+v", recs)
	}
	if v, _ := recs[0].Prm.Get("pretrained"); v != 1.0 {
		t.Errorf("unknown key pretrained not kept: %v", recs[0].Prm)
	}
	if recs[0].Epoch != 3 || recs[0].Transform() != "norm_32" {
		t.Errorf("epoch/transform wrong: %+v", recs[0])
	}
}

func TestReadLayouts(t *testing.T) {
	stat := map[string]string{
		"img-classification_cifar-10_acc_NetA/1.json": goodEpoch,
		"img-classification_cifar-10_acc_NetA/2.json": goodEpoch,
		"img-classification_mnist_acc_NetB/1.json":    goodEpoch,
	}
	prefixed := func(prefix string, m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[prefix+k] = v
		}
		return out
	}
	checkout := prefixed("ab/nn/stat/", stat)
	checkout["ab/nn/nn/NetA.py"] = "class Net: pass\n"
	checkout["ab/nn/nn/__init__.py"] = ""
	checkout["ab/nn/transform/norm_32.py"] = "def transform(): pass\n"
	checkout["ab/nn/stat/nn/NetA.json"] = `{"total_params": 1}` // model statistics: not training records
	checkout["ab/nn/util/nn/x.py"] = "ignored = 1\n"
	layouts := map[string]map[string]string{
		"stat folder":      stat,
		"parent of stat":   prefixed("stat/", stat),
		"train layout":     prefixed("stat/train/", stat),
		"LEMUR checkout":   checkout,
		"stat train alone": prefixed("train/", stat),
	}
	for name, files := range layouts {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, files)
			root := dir
			if name == "stat folder" || name == "stat train alone" {
				root = dir // the folder itself holds pipelines (or train/)
			}
			tree, err := Load(context.Background(), root)
			if err != nil {
				t.Fatal(err)
			}
			if len(tree.Problems) != 0 {
				t.Fatalf("problems: %+v", tree.Problems)
			}
			if len(tree.Records) != 6 {
				t.Fatalf("%d records, want 6", len(tree.Records))
			}
			if name == "LEMUR checkout" {
				if tree.Codes["nn"]["NetA"] == "" || tree.Codes["transform"]["norm_32"] == "" || len(tree.Codes["nn"]) != 1 {
					t.Fatalf("codes %v", tree.Codes)
				}
			}
			// The same tree as a .tar.gz reads the same.
			tgz := filepath.Join(t.TempDir(), "tree.tar.gz")
			writeTarGz(t, tgz, files)
			tree2, err := Load(context.Background(), tgz)
			if err != nil {
				t.Fatal(err)
			}
			if len(tree2.Records) != 6 || len(tree2.Problems) != 0 {
				t.Fatalf("tar: %d records, problems %+v", len(tree2.Records), tree2.Problems)
			}
			for i := range tree.Records {
				if tree.Records[i].ID != tree2.Records[i].ID {
					t.Fatalf("tar and folder disagree at %d", i)
				}
			}
		})
	}
}

func TestReadReportsBadFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"stat/img-classification_cifar-10_acc_Good/1.json":   goodEpoch,
		"stat/img-classification_cifar-10_acc/1.json":        goodEpoch, // three parts
		"stat/img-classification_cifar-10_acc_x_y/1.json":    goodEpoch, // five parts
		"stat/img-classification_cifar-10_acc_Bad/1.json":    `[{"accuracy": 0.5`,
		"stat/img-classification_cifar-10_acc_Bad/2.json":    `{"a": 1}`,
		"stat/img-classification_cifar-10_acc_Bad/3.json":    "[{\"accuracy\": 0.5, \"transform\": \"\xff\xfe\"}]",
		"stat/img-classification_cifar-10_acc_Bad/4.json":    `[{"accuracy": NaN}]`,
		"stat/img-classification_cifar-10_acc_Bad/5.json":    `[{"accuracy": 0.5, "batch": "64"}]`,
		"stat/img-classification_cifar-10_acc_Bad/best.json": `[]`,
	})
	unreadable := filepath.Join(dir, "stat/img-classification_cifar-10_acc_Bad/6.json")
	writeTree(t, dir, map[string]string{"stat/img-classification_cifar-10_acc_Bad/6.json": goodEpoch})
	os.Chmod(unreadable, 0)
	canRead := false
	if f, err := os.Open(unreadable); err == nil { // root ignores permissions
		canRead = true
		f.Close()
	}
	tree, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, p := range tree.Problems {
		reasons = append(reasons, p.Reason)
		if p.Path == "" || p.Detail == "" {
			t.Errorf("problem without path or detail: %+v", p)
		}
	}
	sort.Strings(reasons)
	want := []string{ReasonBadFolder, ReasonBadFolder, ReasonBadJSON, ReasonBadType, ReasonNaN, ReasonNotArray, ReasonNotEpochFile, ReasonNotUTF8}
	if !canRead {
		want = append(want, ReasonUnreadable)
		sort.Strings(want)
	}
	if len(reasons) != len(want) {
		t.Fatalf("reasons %v, want %v", reasons, want)
	}
	for i := range want {
		if reasons[i] != want[i] {
			t.Fatalf("reasons %v, want %v", reasons, want)
		}
	}
	wantRecs := 2
	if canRead {
		wantRecs = 4
	}
	if len(tree.Records) != wantRecs {
		t.Fatalf("%d records imported, want %d (the good files only)", len(tree.Records), wantRecs)
	}
}

func TestReadMissingPath(t *testing.T) {
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("no error for a missing path")
	}
	f := filepath.Join(t.TempDir(), "x.tar.gz")
	os.WriteFile(f, []byte("not gzip"), 0o644)
	if _, err := Load(context.Background(), f); err == nil {
		t.Fatal("no error for a file that is not an archive")
	}
}

func writeTarGz(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: "./" + n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
}

func TestJSONRoundTrip(t *testing.T) {
	in := `{"b": [1, 2.5, 1e-05, "x\u00e9\"", true, null], "a": {"n": -0.0, "big": 123456789012345678901234567890}}`
	v, err := DecodeJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodeJSON(v, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b": [1, 2.5, 1e-05, "x\u00e9\"", true, null], "a": {"n": -0.0, "big": 123456789012345678901234567890}}`
	if string(out) != want {
		t.Fatalf("round trip\n got %s\nwant %s", out, want)
	}
	if Repr(v) != `{'b': [1, 2.5, 1e-05, 'xé"', True, None], 'a': {'n': -0.0, 'big': 123456789012345678901234567890}}` {
		t.Fatalf("repr %s", Repr(v))
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{goodEpoch, `[1,`, `{"a":NaN}`, `"\ud800"`, `-`, `1e999`, `[[[[]]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeJSON(data)
		if err != nil {
			return
		}
		out, err := EncodeJSON(v, 0, false)
		if err != nil {
			return // infinities from overflowing floats cannot be written
		}
		v2, err := DecodeJSON(out)
		if err != nil {
			t.Fatalf("re-decoding our own output %q: %v", out, err)
		}
		if Repr(v) != Repr(v2) {
			t.Fatalf("round trip changed %s into %s", Repr(v), Repr(v2))
		}
	})
}
