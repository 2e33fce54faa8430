package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/llm/llmtest"
)

func TestPromptsExportAndShow(t *testing.T) {
	ws := t.TempDir()
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), append([]string{"--workspace", ws}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	if out, errs, code := run("prompts", "export"); code != 0 || strings.Count(out, "wrote") != 6 {
		t.Fatalf("export: %d %s %s", code, out, errs)
	}
	if out, _, _ := run("prompts", "export"); strings.Count(out, "kept") != 6 {
		t.Errorf("second export overwrote: %s", out)
	}
	if err := os.WriteFile(filepath.Join(ws, "prompts", "system.tmpl"), []byte("You only write tiny CNNs."), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := run("prompts", "show", "--kind", "zeroshot", "--dataset", "mnist")
	if code != 0 || !strings.Contains(out, "You only write tiny CNNs.") || !strings.Contains(out, "mnist dataset (10 classes") ||
		!strings.Contains(errs, "overridden: [") {
		t.Errorf("show: %d\n%s\n%s", code, out, errs)
	}
	out, _, code = run("prompts", "show", "--kind", "repair", "--json")
	var p struct {
		Kind     string
		Messages []struct{ Role, Content string }
		Hash     string
	}
	if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil || p.Kind != "repair" || len(p.Messages) != 2 || len(p.Hash) != 64 {
		t.Errorf("show --json: %d %v %+v", code, err, p)
	}
	if _, errs, code := run("prompts", "show", "--kind", "nshot"); code == 0 || !strings.Contains(errs, "--kind zeroshot") {
		t.Errorf("n-shot on an empty corpus: %d %s", code, errs)
	}
	if _, errs, code := run("prompts", "show", "--kind", "zeroshot", "--context-length", "1000", "--max-tokens", "500"); code == 0 || !strings.Contains(errs, "context_length") {
		t.Errorf("too small a context: %d %s", code, errs)
	}
}

func TestPromptsShowRAG(t *testing.T) {
	ws := ragWorkspace(t)
	tests := []struct {
		args []string
		code int
		want string // in stdout, or stderr when code != 0
	}{
		{[]string{"--kind", "rag"}, 0, "class SEBlock"},
		{[]string{"--kind", "rag", "--block", "SEBlock"}, 0, "blocks.SEBlock"},
		{[]string{"--kind", "rag", "--block", "blocks.Broken"}, 1, "level 1, not 2"},
		{[]string{"--kind", "rag", "--block", "Nope"}, 1, "no block named Nope"},
		{[]string{"--kind", "grid"}, 1, "want zeroshot, nshot, repair or rag"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), append([]string{"-w", ws, "prompts", "show"}, tc.args...), &out, &errb)
		text := out.String()
		if tc.code != 0 {
			text = errb.String()
		}
		if code != tc.code || !strings.Contains(text, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q in:\n%s", tc.args, code, tc.code, tc.want, text)
		}
	}
	var out, errb bytes.Buffer
	if code := Execute(context.Background(), []string{"-w", t.TempDir(), "prompts", "show", "--kind", "rag"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "nngpt rag extract") {
		t.Errorf("empty library: exit %d, %s", code, errb.String())
	}
}

// TestPromptSaysConfiguredEpochs: the prompt sent to the LLM states the
// configured epochs, and `prompts show` previews exactly what is sent.
func TestPromptSaysConfiguredEpochs(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyGood.Text))
	ws := filepath.Join(t.TempDir(), "ws")
	var out, errb bytes.Buffer
	if code := Execute(context.Background(), []string{"-w", ws, "generate", "--dynamic", "off", "--llm", srv.URL, "--model", "scripted",
		"--n", "1", "--epochs", "3", "--dataset", "mnist", "--no-write"}, &out, &errb); code != 0 {
		t.Fatalf("generate: exit %d\n%s%s", code, out.String(), errb.String())
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || len(reqs[0].Messages) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	sent := reqs[0].Messages
	if !strings.Contains(sent[1].Content, "after 3 training epoch(s)") || strings.Contains(sent[1].Content, "after 1 training epoch(s)") {
		t.Fatalf("the prompt does not say 3 epochs:\n%s", sent[1].Content)
	}
	out.Reset()
	if code := Execute(context.Background(), []string{"-w", ws, "prompts", "show", "--kind", "zeroshot", "--epochs", "3", "--dataset", "mnist", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("prompts show: exit %d\n%s", code, errb.String())
	}
	var p struct {
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Messages) != 2 || p.Messages[0].Content != sent[0].Content || p.Messages[1].Content != sent[1].Content {
		t.Errorf("the preview differs from what was sent:\npreview %+v\nsent %+v", p.Messages, sent)
	}
}
