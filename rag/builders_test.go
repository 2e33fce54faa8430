package rag

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nngpt/nngpt/runner"
)

// zoo is a small repository that builds its networks the ways real ones
// do: a factory, a partial, a registry of argument dicts, a config dict
// indexed by name, a genotype constant, a README example and a __main__
// block; Unit is only ever built by Net with a config dict and called with
// a float, so no guess from its signature works.
var zoo = map[string]string{
	"README.md":              "# zoo\n\n```python\nimport zoo\nmodel = zoo.models.Seg(encoder_depth=3, classes=2)\n```\n",
	"zoo/__init__.py":        "from . import models\n",
	"zoo/models/__init__.py": "from .net import *\nfrom .seg import Seg\n",
	"zoo/models/net.py": `import functools
from collections import namedtuple
import torch
import torch.nn as nn

class Unit(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.conv = nn.Conv2d(cfg["cin"], cfg["cout"], 3, cfg["stride"], 1)

    def forward(self, x, scale):
        assert isinstance(scale, float), "scale must be a float"
        return self.conv(x) * scale

class Net(nn.Module):
    def __init__(self, block, widths, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1)
        layers, c = [], widths[0]
        for w in widths:
            layers.append(block({"cin": c, "cout": w, "stride": 1 if w == c else 2}))
            c = w
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x, 0.5)
        return self.head(x.mean((2, 3)))

def net_tiny():
    return Net(Unit, [8, 16])

def net_large():
    return Net(Unit, [64, 128, 256, 512])

class Head(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        assert isinstance(classes, list), "classes: a list of class counts"
        self.fc = nn.ModuleList(nn.Linear(channels, n) for n in classes)

    def forward(self, x):
        return [fc(x) for fc in self.fc]

small_head = functools.partial(Head, 16, [10, 2])

class Enc(nn.Module):
    def __init__(self, out_channels, depth):
        super().__init__()
        assert len(out_channels) == depth + 1, "one width per stage"
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, 2, 1) for a, b in zip(out_channels, out_channels[1:]))

    def forward(self, x):
        for c in self.convs:
            x = c(x)
        return x

encoders = {"enc-a": {"encoder": Enc, "params": {"out_channels": (3, 8, 16), "depth": 2}}}

CFG = {"A": [8, "M", 16]}

class VGGish(nn.Module):
    def __init__(self, name):
        super().__init__()
        layers, c = [], 3
        for v in CFG[name]:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(nn.Conv2d(c, v, 3, padding=1))
                c = v
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x)

Genotype = namedtuple("Genotype", "ops")
PLAIN = Genotype(ops=["conv", "pool"])

class Cell(nn.Module):
    def __init__(self, genotype, C):
        super().__init__()
        ops = []
        for op in genotype.ops:
            ops.append(nn.Conv2d(C, C, 3, padding=1) if op == "conv" else nn.MaxPool2d(3, 1, 1))
        self.ops = nn.Sequential(*ops)

    def forward(self, x):
        return self.ops(x)

class Odd(nn.Module):
    def __init__(self, k):
        super().__init__()
        assert k == 5, "k must be 5"
        self.fc = nn.Linear(4, k)

    def forward(self, x):
        return self.fc(x)

if __name__ == "__main__":
    k = 5
    m = Odd(k)
    print(m(torch.randn(1, 4)).shape)
`,
	"zoo/models/seg.py": `import torch.nn as nn

class Seg(nn.Module):
    def __init__(self, encoder_depth, classes):
        super().__init__()
        assert encoder_depth == 3, "encoder_depth must be 3"
        self.conv = nn.Conv2d(3, classes, 1)

    def forward(self, x):
        return self.conv(x)
`,
}

func TestBuilders(t *testing.T) {
	idx, err := Open(context.Background(), writeRepo(t, zoo), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		target string
		want   []string // kind|label substring|expr, in order
	}{
		{"Net", []string{"factory|net_tiny() at zoo/models/net.py:32|net_tiny()", "factory|net_large()|net_large()",
			"call|Net(Unit, [8, 16]) at zoo/models/net.py:33|_nngpt_build_2()", "call|Net(Unit, [64, 128, 256, 512])|_nngpt_build_3()"}},
		{"Unit", []string{"factory|net_tiny()|net_tiny()", "factory|net_large()|net_large()"}},
		{"Head", []string{"partial|small_head at zoo/models/net.py:47|small_head()"}},
		{"Enc", []string{"registry|encoders|__nngpt_registry__(encoders, Enc)"}},
		{"Odd", []string{"main|__main__ block at zoo/models/net.py:|_nngpt_build_0()"}},
		{"Seg", []string{"readme|Seg(encoder_depth=3, classes=2) in README.md|_nngpt_build_0()"}},
		{"VGGish", nil},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			b, err := idx.Extract(context.Background(), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			var got []Builder
			if b.Builders != nil {
				got = b.Builders.Ways
				if b.Builders.Class != tc.target || !strings.Contains(b.Builders.Code, "class "+tc.target) {
					t.Fatalf("builders module names the class %q", b.Builders.Class)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d builders, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				p := strings.Split(w, "|")
				if got[i].Kind != p[0] || !strings.Contains(got[i].Label, p[1]) || got[i].Expr != p[2] {
					t.Errorf("builder %d = %+v, want %s", i, got[i], w)
				}
			}
		})
	}
	// The module of the builders offers the class's own module's
	// constants and block classes, never a network built at import time.
	b, err := idx.Extract(context.Background(), "Cell")
	if err != nil {
		t.Fatal(err)
	}
	if b.Builders == nil || !strings.Contains(b.Builders.Code, "PLAIN = Genotype(") || !strings.Contains(b.Builders.Code, "class Unit(") {
		t.Fatalf("offers missing from the builders module:\n%v", b.Builders)
	}
}

func TestRequiredParams(t *testing.T) {
	cases := []struct {
		def string
		n   int
	}{
		{"def f():\n    pass", 0},
		{"@register\ndef resnet18(pretrained=False, **kwargs):\n    pass", 0},
		{"def f(*, weights=None, progress: bool = True, **kw): pass", 0},
		{"def _resnet(arch, block, layers, pretrained, progress, **kwargs): pass", 5},
		{"def f(a: Tuple[int, int] = (1, 2), b=')', *args): pass", 0},
		{"def f(self, x, *, y): pass", 2},
	}
	for _, tc := range cases {
		if n, ok := requiredParams([]byte(tc.def)); !ok || n != tc.n {
			t.Errorf("%q: %d %v, want %d", tc.def, n, ok, tc.n)
		}
	}
}

func TestLessSize(t *testing.T) {
	cases := []struct{ a, b string }{
		{"resnet18", "resnet152"}, {"vit_tiny_patch16", "vit_base_patch16"}, {"efficientnet_b0", "efficientnet_b7"},
		{"ResNet18", "ResNet34"}, {"mobilenet_small", "mobilenet_large"},
	}
	for _, tc := range cases {
		if !lessSize(tc.a, tc.b) || lessSize(tc.b, tc.a) {
			t.Errorf("%s should sort before %s", tc.a, tc.b)
		}
	}
}

var (
	valOnce sync.Once
	valExec *runner.Local
	valErr  error
)

// sandboxValidator is the real validator (python3 with torch in the
// sandbox), or a skip.
func sandboxValidator(t *testing.T) SandboxValidator {
	t.Helper()
	valOnce.Do(func() {
		ctx := context.Background()
		cache, err := os.MkdirTemp("", "nngpt-rag-test-")
		if err != nil {
			valErr = err
			return
		}
		_ = os.Chmod(cache, 0o755)
		py, _, err := runner.FindPython(ctx, runner.PythonOptions{CacheDir: cache})
		if err != nil {
			valErr = err
			return
		}
		sb, err := runner.NewSandbox(ctx, runner.SandboxAuto)
		if err != nil {
			valErr = err
			return
		}
		scr := filepath.Join(cache, "scratch")
		_ = os.MkdirAll(scr, 0o755)
		valExec, valErr = runner.NewLocal(ctx, runner.LocalConfig{Python: py, Sandbox: sb, Slots: 2, Threads: 1, CacheDir: cache, ScratchRoot: scr})
	})
	if valErr != nil {
		t.Skipf("skipping: needs python3 with torch: %v", valErr)
	}
	return SandboxValidator{Exec: valExec, Timeout: time.Minute}
}

// TestLevel2AsTheRepositoryBuilds validates the zoo's classes in the
// sandbox: each reaches level 2 through its own builder, and the record
// says which and with what call.
func TestLevel2AsTheRepositoryBuilds(t *testing.T) {
	v := sandboxValidator(t)
	idx, err := Open(context.Background(), writeRepo(t, zoo), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		target, via, ctor, input string
		builders                 bool // the stored code is the builders' module
	}{
		// The block alone lacks Unit, which the factory passes: the stored
		// code becomes the builders' module.
		{target: "Net", via: "factory net_tiny()", ctor: "Net(Unit, [8, 16])", input: "x32x32 tensor", builders: true},
		// Built by the parent, called as the parent calls it.
		{target: "Unit", via: "factory net_tiny()", ctor: "Unit({'cin': 8, 'cout': 8, 'stride': 1})", input: "2x8x32x32 tensor + float (as the repository calls it)"},
		{target: "Head", via: "partial small_head", ctor: "Head(16, [10, 2])"},
		{target: "Enc", via: "registry encoders", ctor: "Enc(out_channels=(3, 8, 16), depth=2)"},
		{target: "Odd", via: "__main__ block", ctor: "Odd(5)", input: "1x4 tensor (as the repository calls it)"},
		{target: "Seg", via: "readme Seg(encoder_depth=3", ctor: "Seg(encoder_depth=3, classes=2)"},
		// Inference with the module's own constants: a key of the dict
		// the class indexes, a genotype constant.
		{target: "VGGish", via: "inferred", ctor: "VGGish(name='A')"},
		{target: "Cell", via: "inferred", ctor: "Cell(genotype=Genotype(['conv', 'pool']), C=16)", builders: true},
	}
	var targets []string
	for _, tc := range cases {
		targets = append(targets, "zoo.models.net."+tc.target)
	}
	targets[5] = "zoo.models.seg.Seg"
	outs, err := Process(context.Background(), idx, targets, v, 2, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		o := outs[i]
		if o.Level() != 2 {
			t.Errorf("%s: level %d: %s %s", tc.target, o.Level(), o.Error, o.Validation.Error)
			continue
		}
		vd := o.Validation
		if !strings.Contains(vd.Via, tc.via) || vd.Constructor != tc.ctor || !strings.Contains(vd.Input, tc.input) {
			t.Errorf("%s: via %q constructor %q input %q; want %q, %q, %q", tc.target, vd.Via, vd.Constructor, vd.Input, tc.via, tc.ctor, tc.input)
		}
		rec := Record(o.Block, vd)
		if !strings.HasPrefix(rec.Input, tc.ctor+" on ") || !strings.Contains(rec.Input, "; built by "+vd.Via) {
			t.Errorf("%s: recorded %q", tc.target, rec.Input)
		}
		if got := rec.Code != o.Block.Code; got != tc.builders {
			t.Errorf("%s: stored code replaced by the builders' module: %v, want %v", tc.target, got, tc.builders)
		}
	}
}
