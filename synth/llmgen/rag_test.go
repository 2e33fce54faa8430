package llmgen_test

import (
	"strings"
	"testing"

	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/llmgen"
)

var blocks = []prompt.Block{
	{Name: "blocks.SEBlock", Input: "SEBlock(channels=16) on 2x16x32x32 tensor",
		Code: "import torch\nfrom torch import nn\n\n\nclass SEBlock(nn.Module):\n    def __init__(self, channels=16):\n        super().__init__()\n        self.fc = nn.Conv2d(channels, channels, 1)\n\n    def forward(self, x):\n        return x * torch.sigmoid(self.fc(x.mean((2, 3), keepdim=True)))\n"},
	{Name: "blocks.Mix", Input: "Mix() on 2x3x32x32 tensor",
		Code: "from torch import nn\n\n\nclass Mix(nn.Module):\n    def forward(self, x):\n        return x.flip(1)\n"},
}

func TestRAGPromptsTakeBlocksInTurn(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyGood.Text), llmtest.Reply(llmtest.ReplyResidual.Text), llmtest.Reply(llmtest.ReplyGood.Text))
	// Examples are given too: blocks take precedence over n-shot.
	g := &llmgen.Generator{Client: client(t, srv, 16384), Blocks: blocks, Examples: examples(3)}
	cs, err := collect(t, g, synth.Request{N: 3, Shots: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Fatalf("%d candidates", len(cs))
	}
	for i, c := range cs {
		b := blocks[i%len(blocks)]
		other := blocks[(i+1)%len(blocks)]
		if c.Operators[0] != "rag:"+b.Name || len(c.Parents) != 0 {
			t.Errorf("candidate %d: operators %v parents %v, want rag:%s first", i, c.Operators, c.Parents, b.Name)
		}
		sent := srv.Requests()[i].Messages[1].Content
		for _, want := range []string{b.Code, b.Input, "`" + b.Name + "`", "copy the block's code above"} {
			if !strings.Contains(sent, want) {
				t.Errorf("candidate %d: prompt lacks %q", i, want)
			}
		}
		if strings.Contains(sent, other.Code) || strings.Contains(sent, "Main model") {
			t.Errorf("candidate %d: prompt carries another block or corpus models:\n%s", i, sent)
		}
		if !strings.Contains(c.Prompt, b.Code) {
			t.Errorf("candidate %d: recorded prompt lacks the block", i)
		}
	}
}

func TestRAGBlockTooLongForTheContext(t *testing.T) {
	srv := llmtest.NewServer(t)
	big := prompt.Block{Name: "blocks.Huge", Code: "from torch import nn\n" + strings.Repeat("# padding padding padding padding\n", 2000)}
	g := &llmgen.Generator{Client: client(t, srv, 4096), Blocks: []prompt.Block{big}}
	_, err := collect(t, g, synth.Request{N: 1})
	if err == nil || !strings.Contains(err.Error(), "blocks.Huge") || !strings.Contains(err.Error(), "block's code is too long") {
		t.Errorf("error %v, want one naming the block that does not fit", err)
	}
	if len(srv.Requests()) != 0 {
		t.Errorf("%d requests sent for a prompt that does not fit", len(srv.Requests()))
	}
}
