package lemur

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadRefusesHostileTrees: each hostile entry is skipped with its own
// reason while the good file beside it lands, and nothing is followed,
// waited on or read whole.
func TestReadRefusesHostileTrees(t *testing.T) {
	host := t.TempDir()
	secret := filepath.Join(host, "secret.py")
	os.WriteFile(secret, []byte("HOST = 'secret'"), 0o644)
	os.WriteFile(filepath.Join(host, "prm.json"), []byte(`[{"accuracy": 0.9, "uid": "host"}]`), 0o644)
	os.MkdirAll(filepath.Join(host, "dir"), 0o755)
	os.WriteFile(filepath.Join(host, "dir", "1.json"), []byte(`[{"accuracy": 0.9, "uid": "hostdir"}]`), 0o644)
	many := make([]string, 2000)
	for i := range many {
		many[i] = fmt.Sprintf(`"k%d": 1`, i)
	}
	cases := []struct {
		name   string
		make   func(t *testing.T, stat string)
		path   string // under stat/
		reason string
	}{
		{"symlinked model file", func(t *testing.T, stat string) {
			os.MkdirAll(filepath.Join(stat, "..", "nn"), 0o755)
			os.Symlink(secret, filepath.Join(stat, "..", "nn", "Stolen.py"))
		}, "../nn/Stolen.py", ReasonNotRegular},
		{"symlinked stat file", func(t *testing.T, stat string) {
			os.MkdirAll(filepath.Join(stat, "img-classification_cifar-10_acc_A"), 0o755)
			os.Symlink(filepath.Join(host, "prm.json"), filepath.Join(stat, "img-classification_cifar-10_acc_A", "1.json"))
		}, "img-classification_cifar-10_acc_A/1.json", ReasonNotRegular},
		{"symlinked pipeline folder", func(t *testing.T, stat string) {
			os.Symlink(filepath.Join(host, "dir"), filepath.Join(stat, "img-classification_cifar-10_acc_B"))
		}, "img-classification_cifar-10_acc_B", ReasonNotRegular},
		{"FIFO", func(t *testing.T, stat string) {
			os.MkdirAll(filepath.Join(stat, "img-classification_cifar-10_acc_C"), 0o755)
			if err := syscall.Mkfifo(filepath.Join(stat, "img-classification_cifar-10_acc_C", "1.json"), 0o644); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, "img-classification_cifar-10_acc_C/1.json", ReasonNotRegular},
		{"oversized", func(t *testing.T, stat string) {
			os.MkdirAll(filepath.Join(stat, "img-classification_cifar-10_acc_D"), 0o755)
			f, _ := os.Create(filepath.Join(stat, "img-classification_cifar-10_acc_D", "1.json"))
			f.Truncate(2 << 20) // sparse: nothing is written, and nothing must be read
			f.Close()
		}, "img-classification_cifar-10_acc_D/1.json", ReasonTooBig},
		{"accuracy 7.5", statFile("E", "1", `[{"accuracy": 7.5, "uid": "a"}]`), "img-classification_cifar-10_acc_E/1.json", ReasonOutOfRange},
		{"accuracy -5", statFile("F", "1", `[{"accuracy": -5, "uid": "a"}]`), "img-classification_cifar-10_acc_F/1.json", ReasonOutOfRange},
		{"epoch 9.2e18", statFile("G", "9200000000000000000", `[{"accuracy": 0.5, "uid": "a"}]`), "img-classification_cifar-10_acc_G/9200000000000000000.json", ReasonOutOfRange},
		{"epoch past the range", statFile("H", "100001", `[{"accuracy": 0.5, "uid": "a"}]`), "img-classification_cifar-10_acc_H/100001.json", ReasonOutOfRange},
		{"duration of centuries", statFile("I", "1", `[{"accuracy": 0.5, "duration": 9000000000000000000, "uid": "a"}]`), "img-classification_cifar-10_acc_I/1.json", ReasonOutOfRange},
		{"infinite lr", statFile("J", "1", `[{"accuracy": 0.5, "lr": 1e999, "uid": "a"}]`), "img-classification_cifar-10_acc_J/1.json", ReasonNaN},
		{"too many keys", statFile("K", "1", `[{"accuracy": 0.5, `+strings.Join(many, ", ")+`}]`), "img-classification_cifar-10_acc_K/1.json", ReasonBadRecord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			stat := filepath.Join(root, "stat")
			writeTree(t, root, map[string]string{"stat/img-classification_cifar-10_acc_Good/1.json": goodEpoch})
			tc.make(t, stat)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var files []*File
			var probs []Problem
			err := ReadTree(ctx, root, ReadOptions{Workers: 2, MaxEntry: 1 << 20}, func(f *File) error {
				files = append(files, f)
				return nil
			}, func(p *Problem) error {
				probs = append(probs, *p)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Clean(filepath.Join(stat, tc.path))
			if len(probs) != 1 || probs[0].Reason != tc.reason || probs[0].Path != want {
				t.Fatalf("problems %+v, want one %s for %s", probs, tc.reason, want)
			}
			if len(files) != 1 || files[0].Pipeline.NN != "Good" {
				t.Fatalf("files %+v, want the good file only", files)
			}
		})
	}
}

func statFile(nn, epoch, body string) func(t *testing.T, stat string) {
	return func(t *testing.T, stat string) {
		writeTree(t, stat, map[string]string{"img-classification_cifar-10_acc_" + nn + "/" + epoch + ".json": body})
	}
}

// TestReadArchiveBounds: links in an archive are refused, an entry over
// MaxEntry is skipped unread, and a stream that unpacks past MaxTotal
// stops the read.
func TestReadArchiveBounds(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(h *tar.Header, body []byte) {
		h.Size = int64(len(body))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	add(&tar.Header{Name: "stat/img-classification_cifar-10_acc_Good/1.json", Mode: 0o644, Typeflag: tar.TypeReg}, []byte(goodEpoch))
	add(&tar.Header{Name: "nn/Linked.py", Linkname: "/etc/passwd", Mode: 0o777, Typeflag: tar.TypeSymlink}, nil)
	add(&tar.Header{Name: "stat/img-classification_cifar-10_acc_H/1.json", Linkname: "stat/img-classification_cifar-10_acc_Good/1.json", Typeflag: tar.TypeLink}, nil)
	add(&tar.Header{Name: "stat/img-classification_cifar-10_acc_Big/1.json", Mode: 0o644, Typeflag: tar.TypeReg}, make([]byte, 8<<20))
	tw.Close()
	gz.Close()
	arc := filepath.Join(dir, "hostile.tar.gz")
	os.WriteFile(arc, buf.Bytes(), 0o644)

	reasons := map[string]string{}
	var files int
	err := ReadTree(context.Background(), arc, ReadOptions{MaxEntry: 1 << 20}, func(f *File) error {
		files++
		return nil
	}, func(p *Problem) error {
		reasons[strings.TrimPrefix(p.Path, arc+":")] = p.Reason
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"nn/Linked.py": ReasonNotRegular, "stat/img-classification_cifar-10_acc_H/1.json": ReasonNotRegular,
		"stat/img-classification_cifar-10_acc_Big/1.json": ReasonTooBig}
	if fmt.Sprint(reasons) != fmt.Sprint(want) || files != 1 {
		t.Fatalf("problems %v, files %d; want %v and the good file", reasons, files, want)
	}
	err = ReadTree(context.Background(), arc, ReadOptions{MaxEntry: 1 << 20, MaxTotal: 4 << 20}, func(*File) error { return nil }, func(*Problem) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "unpacks to more than") {
		t.Fatalf("err %v, want the unpacked-size bound", err)
	}
}

// TestDecodeJSONManyKeys: a record of 80,000 keys decodes with repeated
// keys resolved as Python does (first place, last value).
func TestDecodeJSONManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 80000 {
		fmt.Fprintf(&b, `"k%d": %d, `, i, i)
	}
	b.WriteString(`"k5": -1}`)
	v, err := DecodeJSON([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	d := v.(Dict)
	if len(d) != 80000 || d[5].Key != "k5" || d[5].Value != int64(-1) || d[79999].Value != int64(79999) {
		t.Fatalf("%d keys, k5 = %v", len(d), d[5])
	}
}

// FuzzReadTree feeds arbitrary bytes to the reader twice: as an archive
// and as a directory tree (the input split into path/body pairs). It must
// never panic or hang, and every file it returns must hold valid records.
func FuzzReadTree(f *testing.F) {
	var arc bytes.Buffer
	gz := gzip.NewWriter(&arc)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "stat/img-classification_cifar-10_acc_N/1.json", Mode: 0o644, Size: int64(len(goodEpoch)), Typeflag: tar.TypeReg})
	tw.Write([]byte(goodEpoch))
	tw.Close()
	gz.Close()
	f.Add(arc.Bytes())
	f.Add([]byte("stat/img-classification_cifar-10_acc_N/1.json\x00" + goodEpoch))
	f.Add([]byte("nn/A.py\x00x = 1\x00stat/train/img-classification_mnist_acc_A/2.json\x00[{\"accuracy\": 1.5}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		check := func(root string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = ReadTree(ctx, root, ReadOptions{Workers: 2, MaxEntry: 64 << 10, MaxTotal: 1 << 20}, func(fl *File) error {
				for _, r := range fl.Records {
					if r.Accuracy < 0 || r.Accuracy > 1 || r.Epoch > MaxEpoch || r.ID == "" {
						t.Fatalf("%s: record out of range: %+v", fl.Path, r)
					}
				}
				return nil
			}, func(*Problem) error { return nil })
			if ctx.Err() != nil {
				t.Fatalf("read of %s hung", root)
			}
		}
		arcPath := filepath.Join(dir, "a.tar.gz")
		os.WriteFile(arcPath, data, 0o644)
		check(arcPath)
		tree := filepath.Join(dir, "tree")
		parts := bytes.Split(data, []byte{0})
		for i := 0; i+1 < len(parts) && i < 40; i += 2 {
			rel := filepath.Clean(string(parts[i]))
			if rel == "." || filepath.IsAbs(rel) || strings.HasPrefix(rel, "..") || strings.ContainsRune(rel, 0) {
				continue
			}
			p := filepath.Join(tree, rel)
			if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
				os.WriteFile(p, parts[i+1], 0o644)
			}
		}
		os.MkdirAll(tree, 0o755)
		check(tree)
	})
}

// BenchmarkDecodeJSONWideRecord decodes one record of 80,000 keys (the
// issue's hostile record; quadratic key handling took 21 s on it).
func BenchmarkDecodeJSONWideRecord(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[{")
	for i := range 80000 {
		fmt.Fprintf(&sb, `"k%d": %d, `, i, i)
	}
	sb.WriteString(`"accuracy": 0.5}]`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}
