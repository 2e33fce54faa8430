package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/workspace"
)

// journalWorkspace makes a workspace with one loop of two cycles, written
// through the store API, and corpus rows for the fine-tuning export.
func journalWorkspace(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ws, err := workspace.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.Store.PutLoop(ctx, store.Loop{ID: "L7", Status: "done", Seed: 3, Cycles: 2, CycleDone: 2}); err != nil {
		t.Fatal(err)
	}
	p := lemur.Pipeline{Task: "img-classification", Dataset: "shapes", Metric: "acc"}
	for i, c := range []struct {
		cycle  int
		state  string
		acc    float64
		admit  bool
		reason string
	}{
		{1, store.StateDone, 0.42, true, ""}, {1, store.StateRejected, 0, false, "import"},
		{2, store.StateDone, 0.58, true, ""}, {2, store.StateDone, 0.20, false, ""}, {2, store.StateDuplicate, 0, false, ""},
	} {
		code := fmt.Sprintf("class Net: pass  # %d\n", i)
		row := store.CandidateRow{ID: fmt.Sprintf("L7-c%d-%d", c.cycle, i), LoopID: "L7", Cycle: c.cycle, Index: i, State: c.state,
			Name: lemur.ModelName("evolve", code), Code: code, Generator: "evolve", Pipeline: p, Reason: c.reason, Admitted: c.admit,
			Prm: lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "transform", Value: "norm"}}, Params: int64(10000 * (i + 1))}
		if c.acc > 0 {
			row.Epochs = []float64{c.acc}
		}
		if err := ws.Store.PutCandidate(ctx, row); err != nil {
			t.Fatal(err)
		}
		if c.admit {
			pp := p
			pp.NN = row.Name
			if _, err := ws.Store.PutCode(ctx, store.Code{Kind: store.KindNN, Name: row.Name, Code: code, ID: lemur.CodeID(code)}); err != nil {
				t.Fatal(err)
			}
			if _, err := ws.Store.AddStats(ctx, []lemur.Record{lemur.NewRecord(pp, 1, c.acc, nil, row.Prm)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestReportCommand(t *testing.T) {
	dir := journalWorkspace(t)
	code, out, errOut := run(t, "report", "-w", dir, "--threshold", "0.24")
	if code != 0 {
		t.Fatalf("report: %d %s", code, errOut)
	}
	md := filepath.Join(dir, "reports", "L7", "report.md")
	for _, want := range []string{"loop L7 (done, seed 3): 2/2 cycles, 5 candidates, 3 trained, 2 admitted", "rejected: import 1", "report: " + md} {
		if !strings.Contains(out, want) {
			t.Errorf("output misses %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"report.md", "report.json", "accuracy_per_cycle.png", "accuracy_vs_params.svg", "learning_curves.png"} {
		if _, err := os.Stat(filepath.Join(dir, "reports", "L7", f)); err != nil {
			t.Error(err)
		}
	}

	outDir := filepath.Join(t.TempDir(), "elsewhere")
	code, out, _ = run(t, "report", "-w", dir, "--loop", "L7", "--out", outDir, "--json")
	var r struct {
		Loop        store.Loop `json:"loop"`
		Leaderboard []struct {
			Name     string  `json:"name"`
			Accuracy float64 `json:"accuracy"`
		} `json:"leaderboard"`
	}
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Loop.ID != "L7" || len(r.Leaderboard) != 2 || r.Leaderboard[0].Accuracy != 0.58 {
		t.Fatalf("report --json: %d %v %+v", code, err, r)
	}
	if _, err := os.Stat(filepath.Join(outDir, "report.md")); err != nil {
		t.Errorf("--out: %v", err)
	}

	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report", "--list"}, 0, "L7    done    2/2"},
		{[]string{"report", "--loop", "nope"}, 1, `no loop "nope"`},
		{[]string{"report", "--threshold", "2"}, 2, "--threshold 2"},
	}
	for _, tc := range tests {
		code, out, errOut := run(t, append(tc.args, "-w", dir)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%v: %d %q %q, want %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
	if code, _, errOut := run(t, "report", "-w", t.TempDir()); code != 1 || !strings.Contains(errOut, "nngpt run") {
		t.Errorf("report in an empty workspace: %d %q", code, errOut)
	}
}

func TestFinetuneCommands(t *testing.T) {
	dir := journalWorkspace(t)
	out := filepath.Join(t.TempDir(), "ft.jsonl")
	code, stdout, errOut := run(t, "finetune", "export", out, "-w", dir, "--json")
	var st struct {
		Path  string `json:"path"`
		Pairs int    `json:"pairs"`
	}
	// The two admitted models (0.42, 0.58) make one pair.
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil || st.Pairs != 1 {
		t.Fatalf("finetune export: %d %q %q", code, stdout, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), `"role":"assistant","content":"<hp>{\"lr\": 0.01}</hp>\n<tr>norm</tr>`) {
		t.Fatalf("export file: %v\n%s", err, b)
	}
	code, stdout, errOut = run(t, "finetune", "hook", "--data", out, "--model", "base", "--cycle", "4",
		"--cmd", `echo "tuning {{.Model}} on $(wc -l < {{.Data}}) pairs" >&2; echo base-c{{.Cycle}}`)
	if code != 0 || strings.TrimSpace(stdout) != "base-c4" || !strings.Contains(errOut, "tuning base on 1 pairs") {
		t.Fatalf("finetune hook: %d %q %q", code, stdout, errOut)
	}
	code, _, errOut = run(t, "finetune", "hook", "--data", out, "--cmd", "echo oops >&2; exit 5")
	if code != 1 || !strings.Contains(errOut, "exit status 5") || !strings.Contains(errOut, "oops") {
		t.Fatalf("failing hook: %d %q", code, errOut)
	}
}
