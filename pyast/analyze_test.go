package pyast

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	sitter "github.com/tree-sitter/go-tree-sitter"
)

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tiny is a minimal valid model; cases below edit it.
const tiny = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.fc = nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], out_shape[0])

    def forward(self, x):
        return self.fc(x.flatten(1))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss().to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        for inputs, labels in train_data:
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(inputs), labels)
            loss.backward()
            self.optimizer.step()
`

func TestContract(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		problem string // substring of the joined problems; "" means the contract holds
		note    string // substring of the notes
	}{
		{"tiny", tiny, "", ""},
		{"resnet", readTestdata(t, "resnet.py"), "", ""},
		{"vit", readTestdata(t, "vit.py"), "", ""},
		{"no Net", strings.Replace(tiny, "class Net(", "class Model(", 1), "no module-level class Net", ""},
		{"Net not a module", strings.Replace(tiny, "class Net(nn.Module)", "class Net(object)", 1), "does not derive from nn.Module", ""},
		{"Net is a Sequential", strings.Replace(tiny, "class Net(nn.Module)", "class Net(nn.Sequential)", 1), "", ""},
		{"Net from an imported Module", strings.Replace(strings.Replace(tiny, "class Net(nn.Module)", "class Net(Module)", 1), "import torch\n", "import torch\nfrom torch.nn import Module\n", 1), "", ""},
		{"Net via local base", strings.Replace(tiny, "class Net(nn.Module):", "class Base(torch.nn.Module):\n    pass\n\n\nclass Net(Base):", 1), "", ""},
		{"no learn", strings.Replace(tiny, "def learn(self, train_data):", "def fit(self, train_data):", 1), "has no method learn", ""},
		{"no forward", strings.Replace(tiny, "def forward(self, x):", "def predict(self, x):", 1), "has no method forward", ""},
		{"init missing device", strings.Replace(tiny, "prm, device):", "prm):", 1), "cannot be called with 4 argument(s)", ""},
		{"init extra required", strings.Replace(tiny, "prm, device):", "prm, device, width):", 1), "cannot be called with 4", ""},
		{"init extra default ok", strings.Replace(tiny, "prm, device):", "prm, device, width=64):", 1), "", ""},
		{"init *args ok", strings.Replace(tiny, "in_shape, out_shape, prm, device):", "*args):", 1), "", ""},
		{"required keyword-only", strings.Replace(tiny, "def forward(self, x):", "def forward(self, x, *, mask):", 1), "Net.forward", ""},
		{"forward two inputs", strings.Replace(tiny, "def forward(self, x):", "def forward(self, images, captions):", 1), "cannot be called with 1", ""},
		{"renamed learn param", strings.Replace(tiny, "def learn(self, train_data):\n        for inputs, labels in train_data:", "def learn(self, loader):\n        for inputs, labels in loader:", 1), "", `"loader" where LEMUR says "train_data"`},
		{"method inherited from local base", strings.Replace(strings.Replace(tiny, "class Net(nn.Module):", "class Base(nn.Module):\n    def learn(self, train_data):\n        pass\n\n\nclass Net(Base):", 1), "def learn(self, train_data):", "def fit(self, train_data):", 1), "", ""},
		{"decorated method", strings.Replace(tiny, "    def forward(self, x):", "    @torch.no_grad()\n    def forward(self, x):", 1), "", ""},
		{"no supported_hyperparameters", strings.Replace(tiny, "def supported_hyperparameters():", "def hyperparameters():", 1), "no module-level function supported_hyperparameters", ""},
		{"supported returns a name", strings.Replace(tiny, "return {'lr', 'momentum'}", "keys = {'lr', 'momentum'}\n    return keys", 1), "must only return a literal", ""},
		{"supported returns call", strings.Replace(tiny, "return {'lr', 'momentum'}", "return set(['lr', 'momentum'])", 1), "not a literal set or list", ""},
		{"supported non-string element", strings.Replace(tiny, "return {'lr', 'momentum'}", "return {'lr', 0.9}", 1), "every element must be a string literal", ""},
		{"supported f-string element", strings.Replace(tiny, "return {'lr', 'momentum'}", "return {'lr', f'mom{1}'}", 1), "every element must be a string literal", ""},
		{"supported empty", strings.Replace(tiny, "return {'lr', 'momentum'}", "return []", 1), "returns no names", ""},
		{"supported list with docstring", strings.Replace(tiny, "return {'lr', 'momentum'}", "\"\"\"Keys.\"\"\"\n    return ['lr', \"momentum\",]", 1), "", ""},
		{"supported takes an argument", strings.Replace(tiny, "def supported_hyperparameters():", "def supported_hyperparameters(model):", 1), "must take no arguments", ""},
		{"supported in a class only", strings.Replace(tiny, "def supported_hyperparameters():\n    return {'lr', 'momentum'}", "class H:\n    def supported_hyperparameters():\n        return {'lr', 'momentum'}", 1), "no module-level function supported_hyperparameters", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyze([]byte(tc.src))
			if len(a.Syntax) > 0 {
				t.Fatalf("test source does not parse: %v", a.Syntax)
			}
			var probs []string
			for _, p := range a.Contract.Problems {
				probs = append(probs, p.String())
			}
			joined := strings.Join(probs, "; ")
			switch {
			case tc.problem == "" && !a.Contract.OK():
				t.Fatalf("unexpected problems: %s", joined)
			case tc.problem != "" && !strings.Contains(joined, tc.problem):
				t.Fatalf("problems %q do not mention %q", joined, tc.problem)
			}
			if tc.note != "" && !strings.Contains(strings.Join(a.Contract.Notes, "; "), tc.note) {
				t.Fatalf("notes %q do not mention %q", a.Contract.Notes, tc.note)
			}
		})
	}
}

func TestSupportedKeys(t *testing.T) {
	a := Analyze([]byte(strings.Replace(tiny, "return {'lr', 'momentum'}", "return ['momentum', 'lr', 'momentum', \"dropout\"]", 1)))
	if want := []string{"momentum", "lr", "dropout"}; !reflect.DeepEqual(a.Contract.Supported, want) {
		t.Fatalf("Supported = %v, want %v", a.Contract.Supported, want)
	}
}

func TestHyperparameters(t *testing.T) {
	// train_setup's body is replaced by each case's lines.
	base := strings.Replace(tiny, "return {'lr', 'momentum'}", "return {'lr', 'momentum', 'dropout'}", 1)
	withSetup := func(body string) string {
		start := strings.Index(base, "    def train_setup(self, prm):")
		end := strings.Index(base, "    def learn(")
		return base[:start] + "    def train_setup(self, prm):\n" + body + "\n" + base[end:]
	}
	tests := []struct {
		name       string
		src        string
		unused     []string
		undeclared []string
		dynamic    bool
	}{
		{"subscripts", withSetup("        self.opt = (prm['lr'], prm[\"momentum\"], prm['dropout'])"), nil, nil, false},
		{"get and pop", withSetup("        lr = prm.get('lr', 0.01)\n        m = prm.pop('momentum')\n        d = prm.setdefault('dropout', 0.1)"), nil, nil, false},
		{"one unused", withSetup("        self.opt = (prm['lr'], prm['momentum'])"), []string{"dropout"}, nil, false},
		{"in-test only is not a use", withSetup("        self.opt = (prm['lr'], prm['momentum'])\n        if 'dropout' in prm:\n            pass"), []string{"dropout"}, nil, false},
		{"string in other dict is not a use", withSetup("        self.opt = (prm['lr'], prm['momentum'])\n        cfg = {'dropout': 0.5}\n        x = cfg['dropout']"), []string{"dropout"}, nil, false},
		{"alias self.prm", withSetup("        self.prm = prm\n        self.opt = (self.prm['lr'], self.prm['momentum'], self.prm.get('dropout'))"), nil, nil, false},
		{"alias dict copy", withSetup("        hp = dict(prm)\n        cfg = hp.copy()\n        self.opt = (hp['lr'], cfg['momentum'], {**prm}['dropout'])"), nil, nil, false},
		{"renamed prm parameter", strings.Replace(withSetup("        self.opt = (hp['lr'], hp['momentum'], hp['dropout'])"), "def train_setup(self, prm):", "def train_setup(self, hp):", 1), nil, nil, false},
		{"string constant key", withSetup("        self.opt = (prm[LR], prm['momentum'], prm['dropout'])") + "\nLR = 'lr'\n", nil, nil, false},
		{"undeclared subscript", withSetup("        self.opt = (prm['lr'], prm['momentum'], prm['dropout'], prm['weight_decay'], prm['batch'])"), nil, []string{"weight_decay"}, false},
		{"undeclared get is fine", withSetup("        self.opt = (prm['lr'], prm['momentum'], prm['dropout'], prm.get('weight_decay', 0))"), nil, nil, false},
		{"loop over literal keys", withSetup("        for k in ('lr', 'momentum', 'dropout'):\n            setattr(self, k, prm[k])"), nil, nil, false},
		{"comprehension over literal keys", withSetup("        self.hp = {k: prm[k] for k in ['lr', 'momentum']}"), []string{"dropout"}, nil, false},
		{"dynamic key", withSetup("        for k in KEYS:\n            setattr(self, k, prm[k])"), []string{"lr", "momentum", "dropout"}, nil, true},
		{"splat", withSetup("        self.opt = torch.optim.SGD(self.parameters(), **prm)"), []string{"lr", "momentum", "dropout"}, nil, true},
		{"items", withSetup("        for k, v in prm.items():\n            pass"), []string{"lr", "momentum", "dropout"}, nil, true},
		{"passed to a helper", withSetup("        self.opt = make_optimizer(self.parameters(), prm)") + "\n\ndef make_optimizer(params, cfg):\n    return torch.optim.SGD(params, lr=cfg['lr'], momentum=cfg['momentum'], weight_decay=cfg.get('dropout'))\n", nil, nil, false},
		{"passed to a block by keyword", withSetup("        self.opt = (prm['lr'], prm['momentum'])\n        self.block = Block(channels=3, hp=prm)") + "\n\nclass Block(nn.Module):\n    def __init__(self, channels, hp):\n        super().__init__()\n        self.drop = nn.Dropout(hp['dropout'])\n", nil, nil, false},
		{"passed to a method", withSetup("        self.opt = (prm['lr'], prm['momentum'])\n        self._head(prm)\n\n    def _head(self, p):\n        self.drop = nn.Dropout(p['dropout'])"), nil, nil, false},
		{"init prm", strings.Replace(withSetup("        pass"), "self.device = device", "self.device = device\n        self.lr, self.m, self.p = prm['lr'], prm['momentum'], prm['dropout']", 1), nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyze([]byte(tc.src))
			if len(a.Syntax) > 0 {
				t.Fatalf("test source does not parse: %v\n%s", a.Syntax, tc.src)
			}
			h := a.Hparams
			if !reflect.DeepEqual(h.Unused, tc.unused) {
				t.Errorf("Unused = %v, want %v", h.Unused, tc.unused)
			}
			if !reflect.DeepEqual(h.Undeclared, tc.undeclared) {
				t.Errorf("Undeclared = %v, want %v", h.Undeclared, tc.undeclared)
			}
			if got := len(h.Dynamic) > 0; got != tc.dynamic {
				t.Errorf("Dynamic = %v, want dynamic %v", h.Dynamic, tc.dynamic)
			}
		})
	}
}

func TestImports(t *testing.T) {
	src := `import torch, math
import torch.nn as nn
import torch.nn.functional as F
from collections import OrderedDict as OD, defaultdict
from . import sibling
from .pkg.mod import thing
from __future__ import annotations
from typing import *


def f():
    import os
    m = __import__('subprocess')
    n = importlib.import_module(name)
`
	a := Analyze([]byte(src))
	type row struct {
		mod, kind string
		line      int
		top       string
	}
	var got []row
	for _, m := range a.Imports {
		got = append(got, row{m.Module, m.Kind, m.Line, m.Top()})
	}
	want := []row{
		{"torch", "import", 1, "torch"}, {"math", "import", 1, "math"},
		{"torch.nn", "import", 2, "torch"}, {"torch.nn.functional", "import", 3, "torch"},
		{"collections", "from", 4, "collections"}, {".", "from", 5, ""}, {".pkg.mod", "from", 6, ""},
		{"__future__", "future", 7, "__future__"}, {"typing", "from", 8, "typing"},
		{"os", "import", 12, "os"}, {"subprocess", "dynamic", 13, "subprocess"}, {"<dynamic>", "dynamic", 14, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("imports\n got %v\nwant %v", got, want)
	}
	for local, q := range map[string]string{"nn": "torch.nn", "F": "torch.nn.functional", "OD": "collections.OrderedDict", "defaultdict": "collections.defaultdict", "torch": "torch"} {
		if a.Aliases[local] != q {
			t.Errorf("alias %s = %q, want %q", local, a.Aliases[local], q)
		}
	}
	if !a.Imports[5].Relative() || a.Imports[4].Relative() {
		t.Error("Relative() wrong")
	}
}

func TestTorch2(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // APIs found, sorted
	}{
		{"clean", tiny, nil},
		{"compile", "import torch\nm = torch.compile(model)\n", []string{"torch.compile"}},
		{"sdpa through F", "import torch.nn.functional as F\ny = F.scaled_dot_product_attention(q, k, v)\n", []string{"torch.nn.functional.scaled_dot_product_attention"}},
		{"sdpa from-import", "from torch.nn.functional import scaled_dot_product_attention as sdpa\ny = sdpa(q, k, v)\n",
			[]string{"torch.nn.functional.scaled_dot_product_attention", "torch.nn.functional.scaled_dot_product_attention"}},
		{"RMSNorm", "from torch import nn\nn1 = nn.RMSNorm(64)\n", []string{"torch.nn.RMSNorm"}},
		{"torch.func module", "from torch.func import vmap\n", []string{"torch.func"}},
		{"LayerNorm bias kwarg", "import torch.nn as nn\na = nn.LayerNorm(64)\nb = nn.LayerNorm(64, bias=False)\n", []string{"torch.nn.LayerNorm"}},
		{"Buffer", "import torch\nself.b = torch.nn.Buffer(torch.zeros(3))\n", []string{"torch.nn.Buffer"}},
		{"GradScaler new spelling", "import torch\ns = torch.amp.GradScaler('cuda')\nt = torch.cuda.amp.GradScaler()\n", []string{"torch.amp.GradScaler"}},
		{"transforms v2", "from torchvision.transforms import v2\nimport torchvision.transforms.v2 as T\n", []string{"torchvision.transforms.v2", "torchvision.transforms.v2"}},
		{"local compile is fine", "def compile(x):\n    return x\nself.compile = 3\ny = compile(1)\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyze([]byte(tc.src))
			var got []string
			for _, u := range a.Torch2 {
				got = append(got, u.API)
				if !strings.Contains(u.Msg, "torch 1.13") || u.Line == 0 {
					t.Errorf("use %+v: want a line and a message naming torch 1.13", u)
				}
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Torch2 = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRiskyBuiltinsAndSize(t *testing.T) {
	src := "x = 1\n\n# c\ny = eval('1')\nexec(code)\n"
	a := Analyze([]byte(src))
	if got := a.Builtins["eval"]; !reflect.DeepEqual(got, []int{4}) {
		t.Errorf("eval lines = %v", got)
	}
	if got := a.Builtins["exec"]; !reflect.DeepEqual(got, []int{5}) {
		t.Errorf("exec lines = %v", got)
	}
	if a.Size.Lines != 5 || a.Size.Code != 3 || a.Size.Bytes != len(src) {
		t.Errorf("Size = %+v", a.Size)
	}
}

func TestSyntaxErrorsReported(t *testing.T) {
	a := Analyze([]byte("class Net(nn.Module:\n    def forward(self, x):\n        return x\n"))
	if len(a.Syntax) == 0 || a.Syntax[0].Line != 1 {
		t.Fatalf("Syntax = %v, want an error on line 1", a.Syntax)
	}
}

func TestTreeMatchesCTree(t *testing.T) {
	src := []byte(readTestdata(t, "resnet.py"))
	f := Parse(src)
	defer f.Close()
	tr := f.Tree()
	// Same pre-order as the C tree, with the same kinds and ranges.
	i := 0
	Walk(f.Root(), func(n *Node) bool {
		if i >= len(tr.Nodes) {
			t.Fatalf("Go tree has %d nodes, C tree more", len(tr.Nodes))
		}
		g := tr.Nodes[i]
		if g.Kind != n.Kind() || g.Start != uint32(n.StartByte()) || g.End != uint32(n.EndByte()) || int(g.Line) != int(n.StartPosition().Row)+1 {
			t.Fatalf("node %d: Go %s [%d,%d) line %d, C %s [%d,%d) line %d", i, g.Kind, g.Start, g.End, g.Line, n.Kind(), n.StartByte(), n.EndByte(), n.StartPosition().Row+1)
		}
		i++
		return true
	})
	if i != len(tr.Nodes) {
		t.Fatalf("C tree has %d nodes, Go tree %d", i, len(tr.Nodes))
	}
	from, to := tr.Subtree(tr.Nodes[0].First)
	if to <= from+1 || tr.Nodes[to].Parent != 0 {
		t.Fatalf("Subtree of the first statement = [%d,%d)", from, to)
	}
}

func TestParseStringMatchesParse(t *testing.T) {
	for _, src := range []string{readTestdata(t, "vit.py"), "", "class Net(:\n  x = (\n", "x = 'é' + \"\\u00e9\"\n"} {
		p := sitter.NewParser()
		if err := p.SetLanguage(language()); err != nil {
			t.Fatal(err)
		}
		want := p.Parse([]byte(src), nil)
		got := parseString(p, []byte(src))
		if g, w := got.RootNode().ToSexp(), want.RootNode().ToSexp(); g != w {
			t.Fatalf("parseString tree differs:\n got %s\nwant %s", g, w)
		}
		got.Close()
		want.Close()
		p.Close()
	}
}

func TestBracketError(t *testing.T) {
	tests := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"x = f(1,\ny = 2\n", 1, 6, `'(' is never closed`},
		{"x = [1, 2)\n", 1, 5, `'[' opened here is closed by ')' at line 1 col 10`},
		{"x = 1)\n", 1, 6, `')' closes nothing`},
		{"s = 'abc\n", 1, 5, "not closed on its line"},
		{"s = '''abc\n(\n", 1, 5, "never closed"},
		{"s = '(' + \"[\" + '''\n{''' # (\nt = (1)\n", 0, 0, ""},
		{"s = 'it\\'s (' + f(x)\n", 0, 0, ""},
	}
	for _, tc := range tests {
		e, ok := bracketError([]byte(tc.src))
		if ok != (tc.msg != "") || ok && (e.Line != tc.line || e.Col != tc.col || !strings.Contains(e.Msg, tc.msg)) {
			t.Errorf("bracketError(%q) = %+v, %v; want line %d col %d %q", tc.src, e, ok, tc.line, tc.col, tc.msg)
		}
	}
	// Analyze names the bracket before tree-sitter's coarse error.
	a := Analyze([]byte(strings.Replace(tiny, "out_shape[0])\n", "out_shape[0]\n", 1)))
	if len(a.Syntax) < 2 || a.Syntax[0].Line != 13 || !strings.Contains(a.Syntax[0].Msg, "never closed") {
		t.Fatalf("Syntax = %v", a.Syntax)
	}
}
