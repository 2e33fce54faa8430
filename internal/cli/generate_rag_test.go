package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/workspace"
)

const seBlock = "import torch\nfrom torch import nn\n\n\nclass SEBlock(nn.Module):\n    def __init__(self, channels=16):\n        super().__init__()\n        self.fc = nn.Conv2d(channels, channels, 1)\n\n    def forward(self, x):\n        return x * torch.sigmoid(self.fc(x.mean((2, 3), keepdim=True)))\n"

// ragWorkspace is a workspace whose library holds one usable block and
// one that only executes (level 1).
func ragWorkspace(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ws")
	ctx := context.Background()
	ws, err := workspace.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, b := range []store.RAGBlock{
		{Name: "blocks.SEBlock", Class: "SEBlock", Module: "blocks", Code: seBlock, ID: lemur.CodeID(seBlock), Level: 2, Input: "SEBlock() on 2x16x32x32 tensor"},
		{Name: "blocks.Broken", Class: "Broken", Module: "blocks", Code: "x = 1\n", ID: lemur.CodeID("x = 1\n"), Level: 1, Error: "needs arguments"},
	} {
		if err := ws.Store.PutBlock(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestGenerateRAG(t *testing.T) {
	ws := ragWorkspace(t)
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyGood.Text))
	var out, errb bytes.Buffer
	code := Execute(context.Background(), []string{"-w", ws, "generate", "--dynamic", "off", "--llm", srv.URL, "--model", "scripted", "--n", "1", "--rag", "SEBlock"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "rag:blocks.SEBlock") {
		t.Errorf("the candidate line does not name the block:\n%s", out.String())
	}
	c, err := synth.ReadDir(filepath.Join(ws, CandidatesDir, lemur.CodeID(llmtest.GoodCode)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Operators) == 0 || c.Operators[0] != "rag:blocks.SEBlock" || !strings.Contains(c.Prompt, seBlock) {
		t.Errorf("operators %v; prompt carries the block: %v", c.Operators, strings.Contains(c.Prompt, seBlock))
	}
}

func TestGenerateRAGBadBlocks(t *testing.T) {
	ws := ragWorkspace(t)
	llmArgs := []string{"--llm", "http://127.0.0.1:1/v1", "--model", "m"}
	tests := []struct {
		args []string
		want string
	}{
		{append([]string{"--rag", "Nope"}, llmArgs...), "no block named Nope"},
		{append([]string{"--rag", "blocks.Broken"}, llmArgs...), "level 1, not 2"},
		{[]string{"--generator", "evolve", "--rag", "all,SEBlock"}, "names or all, not both"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), append([]string{"-w", ws, "generate", "--dynamic", "off", "--n", "1"}, tc.args...), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

func TestGenerateEvolveInsertsBlocks(t *testing.T) {
	ws := ragWorkspace(t)
	var out, errb bytes.Buffer
	code := Execute(context.Background(), []string{"-w", ws, "generate", "--dynamic", "off", "--generator", "evolve", "--rag", "all", "--n", "2", "--seed", "3", "--no-write"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if n := strings.Count(out.String(), "block:blocks.SEBlock after line"); n != 2 {
		t.Errorf("%d candidates name the inserted block, want 2:\n%s", n, out.String())
	}
}
