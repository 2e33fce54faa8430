package rag

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeRepo writes files (slash paths) under a fresh folder.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, src := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fixture is a small repository with every import form the extractor must
// follow. It uses only the standard library, so blocks execute with any
// python3; `Module` stands in for nn.Module.
var fixture = map[string]string{
	"pkg/__init__.py": `from .core.base import Base as PublicBase
from .core import *
`,
	"pkg/core/__init__.py": `from .base import Base, helper
from . import consts
__all__ = ["Base", "helper", "scaled"]
from .util import scaled
`,
	"pkg/core/base.py": `import math as m
from ..registry import register
from .consts import WIDTH as W, EPS

def helper(x, eps=EPS):
    return m.sqrt(x + eps)

@register("base")
class Base:
    width = W
    def __init__(self, n=W):
        self.n = helper(n)
    def forward(self, x):
        return x * self.n
`,
	"pkg/core/consts.py": `WIDTH = 4
EPS = 1e-6
`,
	"pkg/core/util.py": `from .base import helper
def scaled(x):
    return 2 * helper(x)
`,
	"pkg/registry.py": `REGISTRY = {}
def register(name):
    def wrap(cls):
        REGISTRY[name] = cls
        return cls
    return wrap
`,
	// Two packages away from the base class, through a re-export and an alias.
	"pkg/models/deep/net.py": `from ... import PublicBase as B
from ...core import scaled
from . import blocks
try:
    from json import dumps as _dump
except ImportError:
    _dump = repr
if False:
    def late():
        return 0
else:
    def late():
        return 1

def helper(x):  # clashes with pkg.core.base.helper
    return -x

class Net(B):
    kind = _dump({"k": 1})
    def __init__(self):
        super().__init__(n=3)
        self.block = blocks.Block()
        self.h = helper(1)
        self.s = scaled(1.0)
        self.l = late()
    def forward(self, x):
        return self.block(super().forward(x)) + self.h
`,
	"pkg/models/deep/blocks.py": `from .net import helper as neg  # import cycle with net.py
class Block:
    def __call__(self, x):
        return neg(neg(x))
`,
	"pkg/models/deep/__init__.py": ``,
	"pkg/models/__init__.py":      ``,
	"pkg/models/other.py": `from pkg.core.base import *
class Wide(Base):
    pass
class Unknown(Missing):
    pass
`,
	// Script-style sibling imports (the folder is not a package).
	"scripts/layers.py": `K = 7
def act(x):
    return x + K
`,
	"scripts/train.py": `from layers import act
import layers as L
class Runner:
    def go(self):
        return act(1) + L.K
`,
	"pkg/torchy.py": `import torch.nn as nn
from torch import nn as tnn
import torch
class A(nn.Module):
    pass
class B(A):
    pass
class C(torch.nn.Conv2d):
    pass
class D(tnn.Sequential):
    pass
class E(object):
    pass
`,
}

func python(t *testing.T) string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("no python3: blocks are not executed")
	return ""
}

// runBlock executes code as a module and then the script after it.
func runBlock(t *testing.T, code, script string) string {
	t.Helper()
	py := python(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "block.py")
	if err := os.WriteFile(f, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", "import importlib.util,sys\ns=importlib.util.spec_from_file_location('block',sys.argv[1]);m=importlib.util.module_from_spec(s);sys.modules['block']=m;s.loader.exec_module(m)\n"+script, f)
	cmd.Dir = dir // never the fixture: the block must not import it
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("block does not run: %v\n%s\n--- code ---\n%s", err, out, code)
	}
	return strings.TrimSpace(string(out))
}

func TestExtractFixture(t *testing.T) {
	repo := writeRepo(t, fixture)
	idx, err := Open(context.Background(), repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target  string
		script  string // run after the block; prints what is compared
		want    string
		has     []string // substrings the code must contain
		hasNot  []string
		unres   []string // names reported unresolved
		sources int      // statements copied, 0: not checked
	}{
		{
			target: "Net",
			script: "n=m.Net(); print(m.Net.kind, round(n.forward(2.0), 4), n.s > 0, n.l, m.REGISTRY['base'].__name__)",
			want:   `{"k": 1} 2.4641 True 1 Base`,
			has:    []string{"class Base:", "def helper(x", "def helper_2(x", "from json import dumps as _dump\n", "import math as m", "WIDTH = 4", "class Net(Base):", "@register(\"base\")"},
			hasNot: []string{"from .", "from pkg", "import pkg"},
		},
		{target: "pkg.core.Base", script: "print(round(m.Base().n, 4))", want: "2.0", sources: 6},
		{target: "pkg.models.other.Wide", script: "print(round(m.Wide(9).forward(1), 4))", want: "3.0"},
		{target: "Unknown", script: "", want: "", unres: []string{"Missing"}},
		{target: "Runner", script: "print(m.Runner().go())", want: "15", hasNot: []string{"import layers"}},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			b, err := idx.Extract(context.Background(), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.has {
				if !strings.Contains(b.Code, s) {
					t.Errorf("code lacks %q:\n%s", s, b.Code)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(b.Code, s) {
					t.Errorf("code has %q:\n%s", s, b.Code)
				}
			}
			var unres []string
			for _, u := range b.Unresolved {
				unres = append(unres, u.Name)
			}
			if strings.Join(unres, ",") != strings.Join(tc.unres, ",") {
				t.Errorf("unresolved = %v, want %v", b.Unresolved, tc.unres)
			}
			if tc.sources > 0 && len(b.Sources) != tc.sources {
				t.Errorf("%d sources, want %d: %+v", len(b.Sources), tc.sources, b.Sources)
			}
			if !strings.HasPrefix(b.Code, "# Self-contained block") || !strings.Contains(b.Code, "# sources:\n#   ") {
				t.Errorf("header does not name the sources:\n%s", b.Code[:min(400, len(b.Code))])
			}
			if len(tc.unres) > 0 {
				return
			}
			if got := runBlock(t, b.Code, tc.script); got != tc.want {
				t.Errorf("block printed %q, want %q\n%s", got, tc.want, b.Code)
			}
		})
	}
}

func TestFind(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"a/__init__.py": "",
		"a/x.py":        "class Same:\n    pass\nclass Only:\n    pass\n",
		"a/y.py":        "class Same:\n    pass\n",
	})
	idx, err := Open(context.Background(), repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Find("Only"); err != nil {
		t.Errorf("Only: %v", err)
	}
	if _, err := idx.Find("Same"); err == nil || !strings.Contains(err.Error(), "a.x.Same") || !strings.Contains(err.Error(), "a.y.Same") {
		t.Errorf("ambiguous name: err = %v, want both qualified names", err)
	}
	if c, err := idx.Find("a.y.Same"); err != nil || c.Module != "a.y" {
		t.Errorf("qualified: %+v, %v", c, err)
	}
	if _, err := idx.Find("Nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing class: err = %v, want ErrNotFound", err)
	}
}

func TestTorchModuleClasses(t *testing.T) {
	repo := writeRepo(t, fixture)
	idx, err := Open(context.Background(), repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range idx.Classes(true) {
		got = append(got, c.Qualified())
	}
	want := "pkg.torchy.A,pkg.torchy.B,pkg.torchy.C,pkg.torchy.D"
	if strings.Join(got, ",") != want {
		t.Errorf("nn.Module classes = %v, want %s", got, want)
	}
}

func TestIndexCache(t *testing.T) {
	repo := writeRepo(t, fixture)
	cache := t.TempDir()
	if _, err := Open(context.Background(), repo, Options{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(cache)
	if len(ents) != 1 {
		t.Fatalf("cache holds %d files, want 1", len(ents))
	}
	// A changed file is parsed again, not served from the cache.
	p := filepath.Join(repo, "pkg", "core", "consts.py")
	if err := os.WriteFile(p, []byte("WIDTH = 5\nEPS = 1e-6\nNEW = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := Open(context.Background(), repo, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !bindsAnywhere(idx.Modules["pkg.core.consts"], "NEW") {
		t.Error("changed module served stale from the cache")
	}
}

func TestReadTargets(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("# comment\n\nResNet\n  torchvision.ops.misc.MLP \n"), 0o644)
	got, err := ReadTargets(good)
	if err != nil || strings.Join(got, ",") != "ResNet,torchvision.ops.misc.MLP" {
		t.Errorf("ReadTargets = %v, %v", got, err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("models/resnet.py\n"), 0o644)
	if _, err := ReadTargets(bad); err == nil || !strings.Contains(err.Error(), "bad:1") {
		t.Errorf("bad line: err = %v", err)
	}
}

func TestRecord(t *testing.T) {
	b := &Block{Name: "Net", Module: "pkg.net", Code: "class Net: pass\n", Repo: "/r",
		Sources:    []Source{{Module: "pkg.net", Path: "pkg/net.py", Names: "Net", StartLine: 1, EndLine: 1}},
		Unresolved: []Unresolved{{Name: "X", Module: "pkg.net", Line: 3, Reason: "not defined in pkg.net"}}}
	r := Record(b, &Validation{Level: 2, Kwargs: map[string]any{"width": 16.0, "act": "ReLU"}, Input: "2x3x32x32 tensor"})
	if r.Name != "pkg.net.Net" || r.Class != "Net" || r.Level != 2 || r.ID == "" || len(r.Paths) != 1 {
		t.Errorf("record %+v", r)
	}
	if r.Input != "Net(act=ReLU, width=16) on 2x3x32x32 tensor" {
		t.Errorf("input %q", r.Input)
	}
	if len(r.Unresolved) != 1 || !strings.Contains(r.Unresolved[0], "X (pkg.net:3)") {
		t.Errorf("unresolved %v", r.Unresolved)
	}
	if r := Record(b, nil); r.Level != -1 || r.Input != "" {
		t.Errorf("not validated: level %d input %q", r.Level, r.Input)
	}
}

func TestExtractEdgeCases(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"m/__init__.py": "",
		"m/types.py":    "class Cfg:\n    size = 3\n",
		"m/impl.py":     "def twice(x):\n    return 2 * x\n",
		"m/a.py": `from __future__ import annotations
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from .types import Cfg
from . import impl

class Lazy:
    def run(self, cfg: Cfg) -> Cfg:
        from .impl import twice
        from .types import Cfg as C
        return twice(C.size)

class UsesModule:
    def get(self):
        return impl
`,
	})
	idx, err := Open(context.Background(), repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := idx.Extract(context.Background(), "Lazy")
	if err != nil {
		t.Fatal(err)
	}
	// Annotations are never evaluated here, so the TYPE_CHECKING import is
	// not needed; the function-local imports become assignments (or
	// nothing, when the name is already right).
	if len(b.Unresolved) != 0 {
		t.Errorf("unresolved %v", b.Unresolved)
	}
	for _, s := range []string{"from __future__ import annotations", "C = Cfg", "def twice(x):", "class Cfg:"} {
		if !strings.Contains(b.Code, s) {
			t.Errorf("code lacks %q:\n%s", s, b.Code)
		}
	}
	if strings.Contains(b.Code, "from .") || strings.Contains(b.Code, "TYPE_CHECKING") {
		t.Errorf("relative import or TYPE_CHECKING block left:\n%s", b.Code)
	}
	if got := runBlock(t, b.Code, "print(m.Lazy().run(None))"); got != "6" {
		t.Errorf("Lazy().run() printed %q, want 6", got)
	}
	// A repository module used as a value cannot be inlined: reported.
	b, err = idx.Extract(context.Background(), "UsesModule")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Unresolved) != 1 || !strings.Contains(b.Unresolved[0].Reason, "m.impl used as a value") {
		t.Errorf("unresolved %+v, want m.impl used as a value", b.Unresolved)
	}
}

func TestCompiledExtension(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"k/__init__.py":                          "",
		"k/_ops.cpython-311-x86_64-linux-gnu.so": "not really a library",
		"k/layer.py":                             "from ._ops import fused\nclass Layer:\n    def f(self):\n        return fused()\n",
	})
	idx, err := Open(context.Background(), repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := idx.Extract(context.Background(), "Layer")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.Code, "from k._ops import fused\n") || len(b.Unresolved) != 1 || !strings.Contains(b.Unresolved[0].Reason, "compiled extension k._ops") {
		t.Errorf("compiled extension not imported and reported: %+v\n%s", b.Unresolved, b.Code)
	}
}
