package runner

import (
	"context"
	"strings"
	"testing"
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
			res, err := l.ProbeBlock(context.Background(), BlockProbeJob{Name: "block", Code: tc.code, Class: tc.class})
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
