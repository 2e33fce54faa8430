package pyast

import (
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

func TestIDs(t *testing.T) {
	base := readTestdata(t, "tinycnn.py")
	r := strings.NewReplacer
	tests := []struct {
		name                      string
		src                       string
		sameCode, sameNorm, sameS bool
	}{
		{"identical", base, true, true, true},
		{"whitespace only", r("    def forward(self, x):", "    def forward(self,x):", "= nn.Conv2d(16, 32, 3, padding=1)", "=nn.Conv2d(16,32,3,padding=1)").Replace(base), true, true, true},
		{"comments and docstrings", r("class Net(nn.Module):\n", "class Net(nn.Module):\n    \"\"\"A tiny CNN.\"\"\"\n\n    # two convolutions\n",
			"        x = F.max_pool2d(F.relu(self.conv1(x)), 2)\n", "        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 16x16\n        'a bare string'\n").Replace(base), false, true, true},
		{"quotes and trailing commas", r("return {'lr', 'momentum'}", "return {\"lr\", \"momentum\",}", "nn.Conv2d(16, 32, 3, padding=1)", "nn.Conv2d(\n            16,\n            32,\n            3,\n            padding=1,\n        )").Replace(base), false, true, true},
		{"set order", r("return {'lr', 'momentum'}", "return {'momentum', 'lr'}").Replace(base), false, true, true},
		{"type annotations", r("def __init__(self, in_shape, out_shape, prm, device):", "def __init__(self, in_shape: tuple, out_shape: tuple, prm: dict, device: torch.device) -> None:",
			"def forward(self, x):", "def forward(self, x: torch.Tensor) -> torch.Tensor:").Replace(base), false, true, true},
		{"renamed identifiers", r("conv1", "first", "conv2", "second", "self.fc", "self.head", "(self, x)", "(self, inp)", "(x)", "(inp)", "x = ", "inp = ", "(x, 1)", "(inp, 1)",
			"inputs", "images", "labels", "targets", "loss", "objective").Replace(base), false, false, true},
		{"renamed import alias", r("import torch.nn as nn\n", "import torch.nn as tnn\n", " nn.", " tnn.", "(nn.", "(tnn.").Replace(base), false, false, true},
		{"changed width", r("nn.Conv2d(16, 32, 3, padding=1)", "nn.Conv2d(16, 48, 3, padding=1)", "nn.Linear(32 * 8 * 8", "nn.Linear(48 * 8 * 8").Replace(base), false, false, false},
		{"changed kernel", r("nn.Conv2d(16, 32, 3, padding=1)", "nn.Conv2d(16, 32, 5, padding=2)").Replace(base), false, false, false},
		{"changed activation", r("F.relu(self.conv2(x))", "F.gelu(self.conv2(x))").Replace(base), false, false, false},
		{"changed keyword name", r("padding=1)\n        self.conv2", "dilation=1)\n        self.conv2").Replace(base), false, false, false},
		{"changed hyperparameter key", r("prm['momentum']", "prm['beta']", "'momentum'}", "'beta'}").Replace(base), false, false, false},
		{"statement split differs", r("        return self.fc(torch.flatten(x, 1))", "        return\n        self.fc(torch.flatten(x, 1))").Replace(base), true, false, false},
		{"indentation differs", r("            loss.backward()\n            self.optimizer.step()", "            loss.backward()\n        self.optimizer.step()").Replace(base), true, false, false},
		{"one-tuple comma kept", r("self.criteria = (nn.CrossEntropyLoss().to(self.device),)", "self.criteria = (nn.CrossEntropyLoss().to(self.device))").Replace(base), false, false, false},
	}
	ref := Analyze([]byte(base)).IDs
	if ref.Code != lemur.CodeID(base) {
		t.Fatalf("Code id %s is not lemur.CodeID %s", ref.Code, lemur.CodeID(base))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "identical" && tc.src == base {
				t.Fatal("the replacement did not change the source; fix the test")
			}
			a := Analyze([]byte(tc.src))
			if len(a.Syntax) > 0 {
				t.Fatalf("variant does not parse: %v\n%s", a.Syntax, tc.src)
			}
			got := a.IDs
			if (got.Code == ref.Code) != tc.sameCode {
				t.Errorf("code id same = %v, want %v", got.Code == ref.Code, tc.sameCode)
			}
			if (got.Normalised == ref.Normalised) != tc.sameNorm {
				t.Errorf("normalised id same = %v, want %v", got.Normalised == ref.Normalised, tc.sameNorm)
			}
			if (got.Structure == ref.Structure) != tc.sameS {
				t.Errorf("structure id same = %v, want %v", got.Structure == ref.Structure, tc.sameS)
			}
		})
	}
}

func TestIDsDistinctAcrossModels(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"resnet.py", "vgg.py", "mobilenet.py", "densenet.py", "vit.py", "mlp.py", "squeeze.py", "tinycnn.py"} {
		ids := Analyze([]byte(readTestdata(t, name))).IDs
		for _, id := range []string{ids.Code, ids.Normalised, ids.Structure} {
			if !lemur.IsHexID(id) {
				t.Fatalf("%s: id %q is not 32 hex digits", name, id)
			}
			if other, dup := seen[id]; dup {
				t.Fatalf("%s and %s share id %s", name, other, id)
			}
			seen[id] = name
		}
	}
}
