package runner

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestProbeBlockLevels(t *testing.T) {
	_, sb := needTorch(t)
	l := newTestLocal(t, sb, Limits{})
	// Needs inferred arguments: an int, a layer factory from its
	// annotation and a config object built from its own signature.
	inferred := `from dataclasses import dataclass
from typing import Callable, List
import torch
import torch.nn as nn

@dataclass
class Cfg:
    width: int
    depth: int

class Net(nn.Module):
    def __init__(self, in_channels: int, cfg: Cfg, norm_layer: Callable[..., nn.Module], num_classes: int):
        super().__init__()
        layers = [nn.Conv2d(in_channels, cfg.width, 3, padding=1), norm_layer(cfg.width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(cfg.width, num_classes)

    def forward(self, x):
        return self.head(self.body(x).mean((2, 3)))

class Heads(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 1)

    def forward(self, feats: List[torch.Tensor]):
        return [self.conv(f) for f in feats]

class Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)

    def forward(self, input_ids):
        return self.emb(input_ids).sum(1)

class Picky(nn.Module):
    def __init__(self, spec: str):
        super().__init__()
`
	cases := []struct {
		name, code, class string
		level             int
		kind              FailKind // failure kind when the file itself fails
		input             string   // substring of the input forward ran on
		reason            string   // substring of why level 2 was missed
	}{
		{name: "inferred args", code: inferred, class: "Net", level: 2, input: "tensor"},
		{name: "list of feature maps", code: inferred, class: "Heads", level: 2, input: "list"},
		{name: "tokens", code: inferred, class: "Tokens", level: 2, input: "tokens"},
		{name: "cannot build", code: inferred, class: "Picky", level: 1, reason: "no guess for spec"},
		{name: "import error", code: "import not_a_module_anywhere\n", class: "X", level: 0, kind: FailImport},
		{name: "syntax", code: "def f(:\n", class: "X", level: 0, kind: FailSyntax},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := l.ProbeBlock(context.Background(), BlockProbeJob{Name: "block", Code: tc.code, Class: tc.class, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if res.Level != tc.level {
				t.Fatalf("level %d, want %d: reason %q failure %+v\n%s", res.Level, tc.level, res.Reason, res.Failure, res.LogTail)
			}
			if tc.kind != "" && (res.Failure == nil || res.Failure.Kind != tc.kind) {
				t.Fatalf("failure %+v, want kind %s", res.Failure, tc.kind)
			}
			if !strings.Contains(res.Input, tc.input) || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("input %q (want %q), reason %q (want %q)", res.Input, tc.input, res.Reason, tc.reason)
			}
		})
	}
}

// TestProbeBlockBuilders builds a class through the repository's builders:
// a failing one is passed over, the factory's arguments become the
// constructor, and a builders' module that does not execute leaves
// inference to do the work.
func TestProbeBlockBuilders(t *testing.T) {
	_, sb := needTorch(t)
	l := newTestLocal(t, sb, Limits{})
	block := `import torch.nn as nn

class Stack(nn.Module):
    def __init__(self, widths, act):
        super().__init__()
        assert isinstance(widths, list) and len(widths) == 3, "widths: three ints"
        self.fc = nn.Sequential(nn.Linear(widths[0], widths[1]), act(), nn.Linear(widths[1], widths[2]))

    def forward(self, x):
        return self.fc(x)
`
	builders := block + `

def broken():
    raise RuntimeError("needs a dataset")

def stack_small():
    return Stack([6, 5, 4], nn.ReLU)
`
	cases := []struct {
		name      string
		builders  *BlockBuilders
		level     int
		via, ctor string
		reason    string
	}{
		{name: "factory", builders: &BlockBuilders{Code: builders, Class: "Stack", Ways: []BlockBuilder{
			{Kind: "test", Label: "test broken()", Expr: "broken()"},
			{Kind: "factory", Label: "factory stack_small()", Expr: "stack_small()"}}},
			level: 2, via: "factory stack_small()", ctor: "Stack([6, 5, 4], nn.ReLU)"},
		{name: "module fails", builders: &BlockBuilders{Code: "raise ImportError('no such package')\n", Class: "Stack",
			Ways: []BlockBuilder{{Kind: "factory", Label: "factory stack_small()", Expr: "stack_small()"}}},
			level: 1, reason: "the repository's builders do not execute: ImportError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := l.ProbeBlock(context.Background(), BlockProbeJob{Name: "block", Code: block, Class: "Stack", Builders: tc.builders, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if res.Level != tc.level || res.Via != tc.via || res.Constructor != tc.ctor || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("level %d via %q constructor %q reason %q; want %d %q %q %q\n%s", res.Level, res.Via, res.Constructor, res.Reason,
					tc.level, tc.via, tc.ctor, tc.reason, res.LogTail)
			}
		})
	}
}
