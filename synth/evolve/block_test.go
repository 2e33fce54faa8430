package evolve

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/synth"
)

const seBlockCode = `from __future__ import annotations
import torch
from torch import nn


class SEBlock(nn.Module):
    def __init__(self, channels: int, reduction=4):
        super().__init__()
        self.fc = nn.Conv2d(channels, max(1, channels // reduction), 1)
        self.up = nn.Conv2d(max(1, channels // reduction), channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.up(torch.relu(self.fc(s))))
`

const resnetBlocks = `import torch.nn as nn


def conv3x3(a, b, stride=1):
    return nn.Conv2d(a, b, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.c = conv3x3(inplanes, planes, stride)

    def forward(self, x):
        return self.c(x)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()

    def forward(self, x):
        return x


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()

    def forward(self, x):
        return x


class Mixer(nn.Module):
    def __init__(self, dim, depth, *args, **kw):
        super().__init__()


class Head(nn.Module):
    def __init__(self, hidden=8):
        super().__init__()
`

func TestBlockSignature(t *testing.T) {
	tests := []struct {
		name, code string
		call, err  string
	}{
		{"blocks.SEBlock", seBlockCode, "SEBlock(channels=32)", ""},
		{"torchvision.models.resnet.BasicBlock", resnetBlocks, "BasicBlock(inplanes=32, planes=32, stride=1)", ""},
		{"torchvision.models.resnet.Bottleneck", resnetBlocks, "", "expansion = 4"},
		{"torchvision.models.resnet.ResNet", resnetBlocks, "", "no channel parameter"},
		{"torchvision.models.resnet.Mixer", resnetBlocks, "", "needs depth"},
		{"torchvision.models.resnet.Head", resnetBlocks, "", "no channel parameter"},
		{"torchvision.models.resnet.Missing", resnetBlocks, "", "defines no class Missing"},
		{"x.Bad", "class Bad(:\n", "", "does not parse"},
	}
	for _, tc := range tests {
		sig, _, err := blockSignature(Block{Name: tc.name, Code: tc.code})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := sig.call("32"); got != tc.call {
			t.Errorf("%s: call %s, want %s", tc.name, got, tc.call)
		}
	}
}

func TestBlockInserter(t *testing.T) {
	blocks := []Block{
		{Name: "blocks.SEBlock", Code: seBlockCode},
		{Name: "torchvision.models.resnet.BasicBlock", Code: resnetBlocks},
		{Name: "torchvision.models.resnet.ResNet", Code: resnetBlocks}, // refused: needs block, layers
	}
	g := &BlockInserter{Source: zooSource(), Blocks: blocks}
	var cands []*synth.Candidate
	for c, err := range g.Generate(context.Background(), synth.Request{N: 4, Seed: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		cands = append(cands, c)
	}
	if len(cands) != 4 {
		t.Fatalf("%d candidates", len(cands))
	}
	for i, c := range cands {
		b := blocks[i%2]
		class := b.Name[strings.LastIndex(b.Name, ".")+1:]
		if len(c.Operators) != 1 || !strings.HasPrefix(c.Operators[0], "block:"+b.Name+" after line ") || len(c.Parents) != 1 || c.Generator != Name {
			t.Errorf("candidate %d: operators %v parents %v", i, c.Operators, c.Parents)
		}
		a := pyast.Analyze([]byte(c.Code))
		if len(a.Syntax) > 0 || !a.Contract.OK() {
			t.Errorf("candidate %d: syntax %v contract %v\n%s", i, a.Syntax, a.Contract.Problems, c.Code)
		}
		if !strings.Contains(c.Code, "class "+class+"(nn.Module)") || !strings.Contains(c.Code, class+"(") || strings.Contains(c.Code, "__future__") {
			t.Errorf("candidate %d lacks the block or its instance:\n%s", i, c.Code)
		}
		if strings.Count(c.Code, "class "+class+"(") != 1 {
			t.Errorf("candidate %d defines %s more than once", i, class)
		}
	}
	forward(t, cands)
}

func TestBlockInserterRefusesUnusableBlocks(t *testing.T) {
	g := &BlockInserter{Source: zooSource(), Blocks: []Block{{Name: "torchvision.models.resnet.ResNet", Code: resnetBlocks}}}
	for _, err := range g.Generate(context.Background(), synth.Request{N: 1, Seed: 1}) {
		if err == nil || !strings.Contains(err.Error(), "no block can be inserted") || !strings.Contains(err.Error(), "no channel parameter") {
			t.Errorf("error %v", err)
		}
		break
	}
}

// forward builds each model and runs a batch through it, in one python
// process, when python with torch is at hand: the inserted block must keep
// the shapes working.
func forward(t *testing.T, cands []*synth.Candidate) {
	t.Helper()
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import torch").Run() != nil {
		t.Log("no python with torch: forward check skipped")
		return
	}
	var codes []string
	for _, c := range cands {
		codes = append(codes, strconv.Quote(c.Code))
	}
	script := `
import torch
for i, code in enumerate([` + strings.Join(codes, ", ") + `]):
    ns = {}
    exec(compile(code, "model%d.py" % i, "exec"), ns)
    prm = {k: 0.1 for k in ns["supported_hyperparameters"]()}
    y = ns["Net"]((2, 3, 32, 32), (10,), prm, torch.device("cpu"))(torch.randn(2, 3, 32, 32))
    assert tuple(y.shape) == (2, 10), (i, y.shape)
`
	if out, err := exec.Command(py, "-c", script).CombinedOutput(); err != nil {
		t.Errorf("forward: %v\n%s", err, out)
	}
}
