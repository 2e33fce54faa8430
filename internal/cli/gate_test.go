package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGateCmd(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(filepath.Join("..", "..", "pyast", "testdata", "tinycnn.py"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Good.py":   string(good),
		"Copy.py":   "# a copy\n" + string(good),
		"Broken.py": strings.Replace(string(good), "nn.Linear(32 * 8 * 8, out_shape[0])", "nn.Linear(32 * 8 * 8, out_shape[0]", 1),
		"Torch2.py": strings.Replace(string(good), "x = F.max_pool2d(F.relu(self.conv1(x)), 2)", "x = torch.compile(self.conv1)(x)", 1),
	}
	var paths []string
	for _, name := range []string{"Good.py", "Copy.py", "Broken.py", "Torch2.py"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	ws := filepath.Join(dir, "ws") // no workspace database: dedup among the files
	var out, errb bytes.Buffer
	code := Execute(context.Background(), append([]string{"-w", ws, "gate", "--features"}, paths...), &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2 (rejections)\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"Good.py: accepted", "family plain-cnn", "Copy.py: duplicate_normalised", "Broken.py: syntax", "Torch2.py: torch2_api",
		"4 files: accepted=1 syntax=1 torch2_api=1 duplicate_normalised=1; trainings saved by dedup: 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(ws); err == nil {
		t.Error("gate created a workspace")
	}
	out.Reset()
	if code := Execute(context.Background(), []string{"-w", ws, "gate", "--json", paths[0]}, &out, &errb); code != 0 {
		t.Fatalf("exit %d for a good file: %s", code, errb.String())
	}
	var line struct {
		Verdict struct {
			Reason string `json:"reason"`
		} `json:"verdict"`
		Stage string `json:"stage"`
	}
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || line.Verdict.Reason != "accepted" || line.Stage != "static" {
		t.Fatalf("json %s: %+v %v", out.String(), line, err)
	}
}
