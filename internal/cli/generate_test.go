package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/synth"
)

func TestGenerateEvolve(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	run := func(args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := Execute(context.Background(), append([]string{"-w", ws, "generate", "--dynamic", "off"}, args...), &out, &errb)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	out, _ := run("--n", "6", "--seed", "3", "--json")
	var cands []synth.Candidate
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c synth.Candidate
		var line struct {
			Dir string `json:"dir"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		cands = append(cands, c)
		if c.Generator != "evolve" || len(c.Parents) == 0 || len(c.Operators) == 0 || c.Code == "" {
			t.Errorf("candidate %s: generator %q parents %v operators %v", c.Name, c.Generator, c.Parents, c.Operators)
		}
		if c.Verdict.Status != synth.StatusAccepted || c.Verdict.Stage != "static" {
			t.Errorf("candidate %s: verdict %v, want accepted @static", c.Name, c.Verdict)
		}
		if line.Dir != filepath.Join(ws, CandidatesDir, c.ID) {
			t.Errorf("dir %q, want the candidate's folder", line.Dir)
		}
		back, err := synth.ReadDir(line.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if back.Code != c.Code || back.Verdict != c.Verdict {
			t.Errorf("candidate folder differs from the printed candidate")
		}
		if _, err := os.Stat(filepath.Join(line.Dir, synth.FileHP)); err != nil {
			t.Errorf("no %s: %v", synth.FileHP, err)
		}
	}
	if len(cands) != 6 {
		t.Fatalf("%d JSON lines, want 6:\n%s", len(cands), out)
	}
	// The same seed again: evolve skips what the workspace already holds
	// (the earlier candidates were recorded for dedup), so nothing repeats.
	out, _ = run("--n", "6", "--seed", "3")
	for _, c := range cands {
		if strings.Contains(out, c.Name) {
			t.Errorf("second run repeated %s:\n%s", c.Name, out)
		}
	}
	if !strings.Contains(out, "6 candidates in") || !strings.Contains(out, "accepted 6") {
		t.Errorf("summary missing:\n%s", out)
	}
}

func TestGenerateBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--n", "0"}, {"--dynamic", "maybe"}, {"--generator", "gpt"}, {"--workers", "0"}} {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), append([]string{"-w", t.TempDir(), "generate"}, args...), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and a message naming the flag", args, code, errb.String())
		}
	}
}
