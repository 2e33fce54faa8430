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

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm/llmtest"
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

func TestGenerateLLM(t *testing.T) {
	srv := llmtest.NewServer(t,
		llmtest.Reply(llmtest.ReplyGood.Text),
		llmtest.Reply(llmtest.ReplyGood.Text), // the same model again: a duplicate
		llmtest.Forever(llmtest.Reply("Sorry, I can't write code today.")),
	)
	ws := filepath.Join(t.TempDir(), "ws")
	var out, errb bytes.Buffer
	code := Execute(context.Background(), []string{"-w", ws, "generate", "--dynamic", "off", "--llm", srv.URL, "--model", "scripted", "--n", "3", "--shots", "2"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 3 candidate lines and a summary:\n%s", out.String())
	}
	got := map[string]bool{}
	for _, l := range lines[:3] {
		switch {
		case strings.Contains(l, "accepted @static"):
			got["accepted"] = true
		case strings.Contains(l, "duplicate @dedup duplicate_code"):
			got["duplicate"] = true
		case strings.Contains(l, "rejected @extract"):
			got["rejected"] = true
		}
	}
	if len(got) != 3 {
		t.Errorf("want one accepted, one duplicate and one rejected candidate:\n%s", out.String())
	}
	c, err := synth.ReadDir(filepath.Join(ws, CandidatesDir, lemur.CodeID(llmtest.GoodCode)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Generator != "llm" || c.Prompt == "" || c.Reply != llmtest.ReplyGood.Text || c.Verdict.Status != synth.StatusAccepted {
		t.Errorf("candidate folder: generator %q, prompt %d bytes, reply %q, verdict %v", c.Generator, len(c.Prompt), c.Reply, c.Verdict)
	}
	// The fresh workspace's zoo models have no recorded runs, so there is
	// nothing to rank for an n-shot prompt: zero-shot it is.
	if !strings.Contains(c.Prompt, "Design a new neural network") || !strings.Contains(c.Prompt, "shapes dataset (10 classes") {
		t.Errorf("a zero-shot prompt for shapes was expected:\n%s", c.Prompt)
	}
}

// TestGenerateLLMRepairsSetting: llm.repairs in nngpt.yaml caps the repair
// prompts a rejected candidate gets.
func TestGenerateLLMRepairsSetting(t *testing.T) {
	for _, tc := range []struct {
		yaml     string
		requests int
	}{
		{"", 4}, // the first prompt and 3 repairs
		{"llm:\n  repairs: 1\n", 2},
		{"llm:\n  repairs: 0\n", 1},
	} {
		srv := llmtest.NewServer(t, llmtest.Forever(llmtest.Reply(llmtest.ReplyBroken.Text)))
		ws := filepath.Join(t.TempDir(), "ws")
		os.MkdirAll(ws, 0o755)
		os.WriteFile(filepath.Join(ws, "nngpt.yaml"), []byte(tc.yaml), 0o644)
		var out, errb bytes.Buffer
		if code := Execute(context.Background(), []string{"-w", ws, "generate", "--dynamic", "off", "--llm", srv.URL, "--model", "scripted", "--n", "1", "--no-write"}, &out, &errb); code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", tc.yaml, code, out.String(), errb.String())
		}
		if got := len(srv.Requests()); got != tc.requests {
			t.Errorf("%q: %d requests, want %d", tc.yaml, got, tc.requests)
		}
	}
}
