package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/runner"
)

func TestRAGExtractListShow(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	files := map[string]string{
		"lib/__init__.py":     "",
		"lib/layers.py":       "import torch.nn as nn\nSCALE = 2\nclass Block(nn.Module):\n    def forward(self, x):\n        return x * SCALE\n",
		"lib/models/net.py":   "from ..layers import Block as B\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.b = B()\n",
		"lib/models/other.py": "class Block:\n    pass\n",
	}
	for p, src := range files {
		full := filepath.Join(repo, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws := filepath.Join(dir, "ws")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), append([]string{"-w", ws}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	tests := []struct {
		name string
		args []string
		code int
		out  []string // substrings of stdout
		err  string   // substring of stderr
	}{
		{"neither --block nor --all", []string{"rag", "extract", "--repo", repo}, 2, nil, "--block NAME"},
		{"no repo", []string{"rag", "extract", "--all", "--level", "0"}, 1, nil, "--repo is required"},
		{"all nn.Modules", []string{"rag", "extract", "--repo", repo, "--all", "--level", "0"}, 0,
			[]string{"lib.layers.Block", "lib.models.net.Net", "2 of 2 stored"}, ""},
		{"ambiguous class", []string{"rag", "extract", "--repo", repo, "--block", "Block", "--level", "0"}, 1,
			[]string{"lib.layers.Block, lib.models.other.Block"}, ""},
		{"list", []string{"rag", "list"}, 0, []string{"lib.models.net.Net", "NAME"}, ""},
		{"show by class", []string{"rag", "show", "Net"}, 0, []string{"class Net(nn.Module):", "self.b = Block()", "SCALE = 2", "lib/layers.py:3-5"}, ""},
		{"show missing", []string{"rag", "show", "Nope"}, 1, nil, "no block named Nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if !strings.Contains(errs, tc.err) {
				t.Errorf("stderr lacks %q:\n%s", tc.err, errs)
			}
		})
	}
	code, out, _ := run("rag", "show", "lib.layers.Block", "--json")
	var b struct {
		Name  string   `json:"name"`
		Level int      `json:"level"`
		Paths []string `json:"paths"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &b) != nil || b.Name != "lib.layers.Block" || b.Level != -1 || len(b.Paths) != 1 {
		t.Errorf("show --json: exit %d, %+v from %s", code, b, out)
	}
}

// TestRAGShowBuilt extracts a class that only its factory builds and shows
// how level 2 built it.
func TestRAGShowBuilt(t *testing.T) {
	if _, _, err := runner.FindPython(context.Background(), runner.PythonOptions{}); err != nil {
		t.Skipf("skipping: needs python3 with torch: %v", err)
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	os.MkdirAll(filepath.Join(repo, "m"), 0o755)
	src := `import torch.nn as nn

class Wide(nn.Module):
    def __init__(self, widths):
        super().__init__()
        assert isinstance(widths, list) and len(widths) == 3, "widths: three ints"
        self.fc = nn.Sequential(*[nn.Linear(a, b) for a, b in zip(widths, widths[1:])])

    def forward(self, x):
        return self.fc(x)

def wide_small():
    return Wide([6, 5, 4])
`
	if err := os.WriteFile(filepath.Join(repo, "m", "wide.py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, "ws")
	var out, errb bytes.Buffer
	if code := Execute(context.Background(), []string{"-w", ws, "rag", "extract", "--repo", repo, "--block", "Wide"}, &out, &errb); code != 0 {
		t.Fatalf("extract: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := Execute(context.Background(), []string{"-w", ws, "rag", "show", "Wide"}, &out, &errb); code != 0 {
		t.Fatalf("show: exit %d\n%s", code, errb.String())
	}
	for _, want := range []string{"# constructor: Wide([6, 5, 4])\n", "# input: 2x16x6 tensor\n", "# built by: factory wide_small() at m/wide.py:12\n", "class Wide(nn.Module):"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, out.String())
		}
	}
}
