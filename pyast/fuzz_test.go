package pyast

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

// FuzzAnalyze checks that no input makes Analyze panic and that its
// outputs keep their invariants. The seed corpus runs in normal tests;
// go test -fuzz FuzzAnalyze ./pyast explores further.
func FuzzAnalyze(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.py")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2]) // truncated mid-model, as a cut LLM reply is
	}
	for _, s := range []string{
		"", "\x00", "class Net(", "def supported_hyperparameters(:\n", "x = [" + "[" + "(" + "{",
		"class Net(nn.Module):\n    def __init__(self, *a, **k): pass\n",
		"prm[prm[prm]]\nprm.get()\nprm.get(1)\n{**prm}\nfor k in prm: pass\n",
		"import torch.nn as nn\nclass A(B):\n    pass\nclass B(A):\n    pass\nclass Net(A):\n    pass\n",
		"import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, a, b, c, d):\n        x = [1] * 10**9\n        y = range(10**9)\n        z = 2 ** 10000\n        self.c = nn.Conv2d(x, y, z)\n",
		"def f(\n  a=lambda: (yield),\n  *, b):\n  return f'{a!r:>{b}}'\n",
		"s = '\\'' \"\\\"\" '''x''' r'\\d' b'\\x00' u'\\u00e9'\n",
		"\ufeffclass Net: pass\r\n\tx = 1\r\n",
		"if True:\n  x = 1\n else:\n  y = 2\n",
	} {
		f.Add([]byte(s))
	}
	names := len(FeatureNames())
	f.Fuzz(func(t *testing.T, src []byte) {
		a := Analyze(src)
		if !lemur.IsHexID(a.IDs.Code) || !lemur.IsHexID(a.IDs.Normalised) || !lemur.IsHexID(a.IDs.Structure) {
			t.Fatalf("ids %+v", a.IDs)
		}
		if a.Size.Bytes != len(src) {
			t.Fatalf("Size.Bytes = %d for %d bytes", a.Size.Bytes, len(src))
		}
		if len(a.Features.Vector()) != names {
			t.Fatal("vector length differs from FeatureNames")
		}
		for _, p := range a.Contract.Problems {
			if p.Msg == "" {
				t.Fatal("contract problem without a message")
			}
		}
	})
}
