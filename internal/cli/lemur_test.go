package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// run executes the CLI in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const epochFile = `[{"accuracy": 0.61, "batch": 4, "duration": 69935059891, "lr": 0.02487720458587122, "momentum": 0.3867297180491852, "transform": "norm_299", "uid": "b434ec3c199583d55f1345795243c03a", "dropout": 0.3234668619290789},
{"accuracy": 0.4, "batch": 64, "lr": 0.1, "momentum": 0.9, "transform": "echo", "uid": "x2"}]`

func TestHashCommands(t *testing.T) {
	code, out, _ := run(t, "hash", "prm", `{"lr": 0.02487720458587122, "momentum": 0.3867297180491852, "batch": 4, "dropout": 0.3234668619290789, "transform": "norm_299"}`)
	if code != 0 || strings.TrimSpace(out) != "b434ec3c199583d55f1345795243c03a" {
		t.Fatalf("hash prm: %d %q", code, out)
	}
	f := filepath.Join(t.TempDir(), "m.py")
	os.WriteFile(f, []byte("x = 1\n"), 0o644)
	code, out, _ = run(t, "hash", "code", f)
	// md5 of "x=1", the file without its whitespace
	if code != 0 || strings.TrimSpace(out) != "a255512f9d61a6777bd5a304235bd26d" {
		t.Fatalf("hash code: %d %q", code, out)
	}
	if code, _, errOut := run(t, "hash", "prm", `[1, 2]`); code == 0 || !strings.Contains(errOut, "JSON object") {
		t.Fatalf("hash prm of a list: %d %q", code, errOut)
	}
}

func TestImportDataExportCommands(t *testing.T) {
	tree := t.TempDir()
	writeFiles(t, tree, map[string]string{
		"stat/img-classification_cifar-10_acc_NetA/1.json": epochFile,
		"stat/img-classification_cifar-10_acc_NetA/2.json": epochFile,
		"stat/img-classification_mnist_acc_NetB/1.json":    epochFile,
		"stat/img-classification_mnist_acc/1.json":         epochFile,
		"nn/NetA.py": "import torch\n",
	})
	ws := filepath.Join(t.TempDir(), "ws")

	code, out, errOut := run(t, "-w", ws, "lemur", "import", tree, "--json")
	if code != 2 {
		t.Fatalf("import with a bad folder: exit %d, want 2 (stderr %s)", code, errOut)
	}
	var rep struct {
		Pipelines, Models, Records, New, Present int
		Skipped                                  map[string]int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if rep.Pipelines != 2 || rep.Models != 2 || rep.Records != 6 || rep.New != 6 || rep.Skipped["bad_folder_name"] != 1 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(errOut, "img-classification_mnist_acc") {
		t.Fatalf("skipped file not named on stderr: %s", errOut)
	}
	os.RemoveAll(filepath.Join(tree, "stat/img-classification_mnist_acc"))
	code, out, _ = run(t, "-w", ws, "lemur", "import", tree)
	if code != 0 || !strings.Contains(out, "0 new, 6 already present") {
		t.Fatalf("re-import: %d %s", code, out)
	}

	code, out, _ = run(t, "-w", ws, "data", "--best", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("data --best --json: %d, %d lines:\n%s", code, len(lines), out)
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil {
		t.Fatal(err)
	}
	if row["accuracy"] != 0.61 || row["uid"] != "b434ec3c199583d55f1345795243c03a" || row["prm"].(map[string]any)["transform"] != "norm_299" {
		t.Fatalf("row %v", row)
	}
	code, out, _ = run(t, "-w", ws, "data", "--dataset", "mnist", "--csv")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 || !strings.HasPrefix(out, "task,dataset,metric,nn,epoch") {
		t.Fatalf("data --csv: %d\n%s", code, out)
	}
	code, out, _ = run(t, "-w", ws, "data", "--nn", "NetA", "--epoch", "2")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Fatalf("data table: %d\n%s", code, out)
	}
	code, out, _ = run(t, "-w", ws, "data", "--summary")
	if code != 0 || !strings.Contains(out, "cifar-10") || !strings.Contains(out, "mnist") {
		t.Fatalf("data --summary: %d\n%s", code, out)
	}

	exp := filepath.Join(t.TempDir(), "export")
	if code, out, errOut := run(t, "-w", ws, "lemur", "export", exp); code != 0 {
		t.Fatalf("export: %d %s %s", code, out, errOut)
	}
	ws2 := filepath.Join(t.TempDir(), "ws2")
	if code, _, errOut := run(t, "-w", ws2, "lemur", "import", exp); code != 0 {
		t.Fatalf("import of the export: %d %s", code, errOut)
	}
	// LEMUR writes keys sorted, so compare rows, not key order.
	_, a, _ := run(t, "-w", ws, "data", "--json")
	_, b, _ := run(t, "-w", ws2, "data", "--json")
	if !reflect.DeepEqual(jsonLines(t, a), jsonLines(t, b)) {
		t.Fatalf("export then import changed the rows:\n%s\n---\n%s", a, b)
	}
}

func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestImportStrict(t *testing.T) {
	tree := t.TempDir()
	writeFiles(t, tree, map[string]string{
		"img-classification_cifar-10_acc_NetA/1.json": epochFile,
		"img-classification_cifar-10_acc_NetA/2.json": `[{"accuracy": NaN}]`,
	})
	ws := filepath.Join(t.TempDir(), "ws")
	code, _, errOut := run(t, "-w", ws, "lemur", "import", "--strict", tree)
	if code == 0 || !strings.Contains(errOut, "nan") {
		t.Fatalf("strict: %d %s", code, errOut)
	}
	_, out, _ := run(t, "-w", ws, "data", "--json")
	if strings.TrimSpace(out) != "" {
		t.Fatalf("strict import wrote rows: %s", out)
	}
}

func TestHelpReads(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"lemur", "import", "--help"}, {"data", "--help"}, {"hash", "--help"}} {
		code, out, _ := run(t, args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: %d %s", args, code, out)
		}
	}
}
