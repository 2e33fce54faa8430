package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
	"github.com/nngpt/nngpt/zoo"
)

func model(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "pyast", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cnn is a LEMUR-style model as an LLM writes it: a docstring, comments,
// a helper block and all three of NNGPT's usual hyperparameters.
const cnn = `"""Small CNN with a squeeze-and-excitation block for CIFAR-10."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=4):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        w = F.adaptive_avg_pool2d(x, 1).flatten(1)
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(w))))
        return x * w[:, :, None, None]


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        # feature extractor
        self.features = nn.Sequential(
            nn.Conv2d(in_shape[1], 32, kernel_size=3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            SEBlock(64),
            nn.AdaptiveAvgPool2d(1),
        )
        self.dropout = nn.Dropout(prm['dropout'])
        self.classifier = nn.Linear(64, out_shape[0])

    def forward(self, x):
        x = self.features(x).flatten(1)
        return self.classifier(self.dropout(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss().to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
`

func edit(src string, pairs ...string) string {
	out := strings.NewReplacer(pairs...).Replace(src)
	if out == src {
		panic("edit changed nothing: " + pairs[0])
	}
	return out
}

func TestStatic(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		code    string
		reason  Reason
		problem string // substring of Detail
	}{
		{"cnn", nil, cnn, ReasonAccepted, ""},
		{"resnet", nil, model(t, "resnet.py"), ReasonAccepted, ""},
		{"vit", nil, model(t, "vit.py"), ReasonAccepted, ""},
		{"mobilenet with prm.get", nil, model(t, "mobilenet.py"), ReasonAccepted, ""},
		{"too many bytes", func(c *Config) { c.MaxBytes = 1000 }, cnn, ReasonTooLarge, "limits are 1000 bytes"},
		{"too many lines", func(c *Config) { c.MaxLines = 20 }, cnn, ReasonTooLarge, "lines"},
		{"truncated reply", nil, cnn[:strings.Index(cnn, "momentum=prm['momentum'])")+14], ReasonSyntax, "does not parse"},
		{"truncated at a line end", nil, cnn[:strings.Index(cnn, "    def train_setup")], ReasonContract, "no method train_setup"},
		{"unbalanced paren", nil, edit(cnn, "nn.Linear(64, out_shape[0])", "nn.Linear(64, out_shape[0]"), ReasonSyntax, "line"},
		{"no Net", nil, edit(cnn, "class Net(nn.Module)", "class Model(nn.Module)"), ReasonContract, "no module-level class Net"},
		{"learn without data", nil, edit(cnn, "def learn(self, train_data):", "def learn(self):"), ReasonContract, "Net.learn(self) cannot be called with 1"},
		{"hp not literal", nil, edit(cnn, "return {'lr', 'momentum', 'dropout'}", "return HP"), ReasonContract, "not a literal set or list"},
		{"import os", nil, edit(cnn, "import torch\n", "import torch\nimport os\n"), ReasonForbiddenImport, "line 3: import of os; allowed: torch"},
		{"from subprocess in a method", nil, edit(cnn, "        self.to(self.device)\n", "        from subprocess import run\n        self.to(self.device)\n"), ReasonForbiddenImport, "import of subprocess"},
		{"relative import", nil, edit(cnn, "import torch\n", "from .blocks import SEBlock2\nimport torch\n"), ReasonForbiddenImport, "relative import"},
		{"dynamic import", nil, edit(cnn, "        self.to(self.device)\n", "        __import__('socket')\n        self.to(self.device)\n"), ReasonForbiddenImport, "import of socket"},
		{"numpy allowed", nil, edit(cnn, "import torch\n", "import numpy as np\nimport torch\n"), ReasonAccepted, ""},
		{"numpy not allowed here", func(c *Config) { c.AllowedImports = []string{"torch"} }, edit(cnn, "import torch\n", "import numpy as np\nimport torch\n"), ReasonForbiddenImport, "numpy"},
		{"eval", nil, edit(cnn, "        self.to(self.device)\n", "        eval('1 + 1')\n        self.to(self.device)\n"), ReasonForbiddenCall, "call of eval()"},
		{"open", nil, edit(cnn, "        self.to(self.device)\n", "        open('/etc/passwd').read()\n        self.to(self.device)\n"), ReasonForbiddenCall, "open()"},
		{"torch.hub", nil, edit(cnn, "        self.to(self.device)\n", "        self.m = torch.hub.load('pytorch/vision', 'resnet18')\n        self.to(self.device)\n"), ReasonForbiddenCall, "no network"},
		{"pretrained weights", nil, edit(cnn, "import torch\n", "import torch\nimport torchvision\n", "        self.to(self.device)\n", "        self.m = torchvision.models.resnet18(weights='IMAGENET1K_V1')\n        self.to(self.device)\n"), ReasonForbiddenCall, "pass weights=None"},
		{"no pretrained weights", nil, edit(cnn, "import torch\n", "import torch\nfrom torchvision import models\n", "        self.to(self.device)\n", "        self.m = models.resnet18(weights=None, num_classes=10)\n        self.to(self.device)\n"), ReasonAccepted, ""},
		{"sdpa", nil, edit(cnn, "        return x * w[:, :, None, None]", "        return F.scaled_dot_product_attention(x, x, x)"), ReasonTorch2API, "needs torch 2.0"},
		{"torch.compile", nil, edit(cnn, "        self.to(self.device)\n", "        self.net = torch.compile(self)\n        self.to(self.device)\n"), ReasonTorch2API, "torch.compile"},
		{"RMSNorm", nil, edit(cnn, "nn.BatchNorm2d(64)", "nn.RMSNorm(64)"), ReasonTorch2API, "torch.nn.RMSNorm needs torch 2.4"},
		{"unused dropout", nil, edit(cnn, "nn.Dropout(prm['dropout'])", "nn.Dropout(0.2)"), ReasonUnusedHyperparameter, `"dropout" is returned by supported_hyperparameters() (line 7) but never read`},
		{"dynamic read covers keys", nil, edit(cnn, "nn.Dropout(prm['dropout'])", "nn.Dropout(*[prm[k] for k in prm if k == 'dropout'])"), ReasonAccepted, ""},
		{"dynamic read under strict", func(c *Config) { c.StrictHyperparameters = true }, edit(cnn, "nn.Dropout(prm['dropout'])", "nn.Dropout(*[prm[k] for k in prm if k == 'dropout'])"), ReasonUnusedHyperparameter, "dropout"},
		{"undeclared key", nil, edit(cnn, "momentum=prm['momentum'])", "momentum=prm['momentum'], weight_decay=prm['wd'])"), ReasonUndeclaredHyperparameter, `prm["wd"] is not in supported_hyperparameters()`},
		{"harness keys are fine", nil, edit(cnn, "momentum=prm['momentum'])", "momentum=prm['momentum'] * prm['batch'] / 64)"), ReasonAccepted, ""},
		{"too many parameters", func(c *Config) { c.MaxParams = 10000 }, cnn, ReasonTooManyParameters, "over the limit of 1e+04"},
		{"within parameter limit", func(c *Config) { c.MaxParams = 1e6 }, cnn, ReasonAccepted, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			g, err := New(cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := g.Static(Candidate{Name: tc.name, Code: tc.code})
			if v.Reason != tc.reason {
				t.Fatalf("reason = %s (%s), want %s", v.Reason, v.Detail, tc.reason)
			}
			if !strings.Contains(v.Detail, tc.problem) {
				t.Fatalf("detail %q does not contain %q", v.Detail, tc.problem)
			}
			if !v.Accepted() && len(v.Problems) == 0 && v.Reason != ReasonTooLarge && v.Reason != ReasonTooManyParameters {
				t.Fatalf("rejection without problems: %+v", v)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{AllowedImports: []string{"torch.nn"}}, {MaxBytes: -1}} {
		if _, err := New(cfg, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
		}
	}
}

func TestDedupBatch(t *testing.T) {
	g, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cands := []Candidate{
		{"a", cnn},
		{"b-same", cnn},
		{"c-whitespace", edit(cnn, "    def forward(self, x):\n        x = self.features(x)", "    def forward(self,x):\n        x=self.features(x)")},
		{"d-comments", edit(cnn, "# feature extractor", "# the feature extractor, two conv stages", `"""Small CNN`, `"""A small CNN`)},
		{"e-renamed", edit(cnn, "SEBlock", "Squeeze", "self.classifier", "self.head", "reduction", "r")},
		{"f-wider", edit(cnn, "nn.Conv2d(32, 64,", "nn.Conv2d(32, 96,", "nn.BatchNorm2d(64)", "nn.BatchNorm2d(96)", "SEBlock(64)", "SEBlock(96)", "nn.Linear(64, out_shape[0])", "nn.Linear(96, out_shape[0])")},
		{"g-broken", cnn[:300]},
		{"h-wider-again", edit(cnn, "nn.Conv2d(32, 64,", "nn.Conv2d(32, 96,", "nn.BatchNorm2d(64)", "nn.BatchNorm2d(96)", "SEBlock(64)", "SEBlock(96)", "nn.Linear(64, out_shape[0])", "nn.Linear(96, out_shape[0])", "# feature extractor", "")},
	}
	rep, err := g.Run(context.Background(), cands)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		r  Reason
		of string
	}{
		{ReasonAccepted, ""}, {ReasonDuplicateCode, "a"}, {ReasonDuplicateCode, "a"}, {ReasonDuplicateNormalised, "a"},
		{ReasonDuplicateStructure, "a"}, {ReasonAccepted, ""}, {ReasonSyntax, ""}, {ReasonDuplicateNormalised, "f-wider"},
	}
	for i, v := range rep.Verdicts {
		if v.Reason != want[i].r {
			t.Errorf("%s: reason %s (%s), want %s", v.Name, v.Reason, v.Detail, want[i].r)
			continue
		}
		if want[i].of != "" && (v.Duplicate == nil || v.Duplicate.Name != want[i].of || v.Duplicate.Source != SourceBatch) {
			t.Errorf("%s: duplicate of %+v, want %s from this batch", v.Name, v.Duplicate, want[i].of)
		}
	}
	if rep.Counts.Accepted() != 2 || rep.TrainingsSaved() != 5 || rep.Counts[ReasonSyntax] != 1 || rep.Counts.Total() != len(cands) {
		t.Fatalf("counts %s, saved %d", rep.Counts, rep.TrainingsSaved())
	}
	if got := rep.Counts.String(); got != "accepted=2 syntax=1 duplicate_code=2 duplicate_normalised=2 duplicate_structure=1" {
		t.Fatalf("Counts.String() = %q", got)
	}
	b, err := json.Marshal(rep.Counts)
	if err != nil || !strings.Contains(string(b), `"duplicate_structure":1`) {
		t.Fatalf("counts JSON %s, %v", b, err)
	}
}

func TestNoDedup(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NoDedup = true
	g, _ := New(cfg, nil, nil)
	rep, err := g.Run(context.Background(), []Candidate{{"a", cnn}, {"b", cnn}})
	if err != nil || rep.Counts.Accepted() != 2 || g.Index() != nil {
		t.Fatalf("NoDedup: counts %s err %v", rep.Counts, err)
	}
	// The nil index is usable.
	if err := g.Index().Flush(context.Background()); err != nil || g.Index().Len() != 0 {
		t.Fatalf("nil index: %v", err)
	}
	g.Index().Add("x", pyast.IDs{Code: "c"}, SourceBatch)
}

func TestDynamicCheck(t *testing.T) {
	calls := 0
	fail := true
	dyn := DynamicFunc(func(ctx context.Context, c Candidate, a *pyast.Analysis) (*Rejection, error) {
		calls++
		if a == nil || a.Contract.NetLine == 0 {
			t.Error("dynamic check got no analysis")
		}
		if fail {
			return &Rejection{ReasonForward, "RuntimeError: mat1 and mat2 shapes cannot be multiplied"}, nil
		}
		return nil, nil
	})
	g, _ := New(DefaultConfig(), nil, dyn)
	ctx := context.Background()
	v, err := g.Check(ctx, Candidate{"a", cnn})
	if err != nil || v.Reason != ReasonForward || !strings.Contains(v.Detail, "mat1") {
		t.Fatalf("verdict %v, err %v", v, err)
	}
	// The failed candidate did not enter the index: a later copy that
	// builds (the failure was, say, a timeout) is accepted.
	fail = false
	if v, _ := g.Check(ctx, Candidate{"b", cnn}); !v.Accepted() {
		t.Fatalf("second copy: %v", v)
	}
	// Static rejections and duplicates never reach the dynamic check.
	before := calls
	g.Check(ctx, Candidate{"c", cnn})
	g.Check(ctx, Candidate{"d", "class Net:\n"})
	if calls != before {
		t.Fatalf("dynamic check ran %d more times, want 0", calls-before)
	}
}

func TestLoadIndex(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ws.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	corpus := map[string]string{"ResNet-S": model(t, "resnet.py"), "VGG-S": model(t, "vgg.py"), "ViT-T": model(t, "vit.py")}
	for name, code := range corpus {
		if _, err := db.PutCode(ctx, store.Code{Kind: store.KindNN, Name: name, Code: code}); err != nil {
			t.Fatal(err)
		}
	}
	g, stats, err := Open(ctx, db, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := g.Index()
	if stats.Corpus != 3 || stats.Computed != 3 || stats.Cached != 0 || ix.Len() != 3 {
		t.Fatalf("first load %+v, len %d", stats, ix.Len())
	}
	renamedVGG := edit(model(t, "vgg.py"), "layers", "blocks", "channels", "width")
	rep, err := g.Run(ctx, []Candidate{{"gen-1", renamedVGG}, {"gen-2", cnn}})
	if err != nil {
		t.Fatal(err)
	}
	if v := rep.Verdicts[0]; v.Reason != ReasonDuplicateStructure || v.Duplicate.Name != "VGG-S" || v.Duplicate.Source != SourceCorpus {
		t.Fatalf("renamed VGG: %v %+v", v, v.Duplicate)
	}
	if !rep.Verdicts[1].Accepted() {
		t.Fatalf("cnn: %v", rep.Verdicts[1])
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A new start reads every id from the cache and knows gen-2.
	ix2, stats2, err := LoadIndex(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if stats2.Corpus != 3 || stats2.Cached != 3 || stats2.Computed != 0 || stats2.Candidates != 1 {
		t.Fatalf("second load %+v", stats2)
	}
	g2, _ := New(DefaultConfig(), ix2, nil)
	v, _ := g2.Check(ctx, Candidate{"gen-3", edit(cnn, "# feature extractor", "")})
	if v.Reason != ReasonDuplicateNormalised || v.Duplicate.Name != "gen-2" || v.Duplicate.Source != SourceCandidate {
		t.Fatalf("copy of an earlier candidate: %v %+v", v, v.Duplicate)
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if seen[s] || strings.HasPrefix(s, "reason(") {
			t.Fatalf("bad or repeated name %q", s)
		}
		seen[s] = true
		back, err := ParseReason(s)
		if err != nil || back != r {
			t.Fatalf("ParseReason(%q) = %v, %v", s, back, err)
		}
	}
	if _, err := ParseReason("nope"); err == nil || !strings.Contains(err.Error(), "duplicate_code") {
		t.Fatalf("ParseReason(nope) error %v should list the names", err)
	}
	var r Reason
	if err := json.Unmarshal([]byte(`"torch2_api"`), &r); err != nil || r != ReasonTorch2API {
		t.Fatalf("unmarshal: %v %v", r, err)
	}
	if ReasonSyntax.Stage() != "parse" || ReasonDuplicateStructure.Stage() != "dedup" || ReasonAccepted.Stage() != "static" {
		t.Fatal("Stage names wrong")
	}
	if !ReasonDuplicateNormalised.Duplicate() || ReasonSyntax.Duplicate() || !ReasonForward.Dynamic() || ReasonContract.Dynamic() {
		t.Fatal("Duplicate/Dynamic classification wrong")
	}
}

// TestZoo runs the gate on the project's seed zoo: every model passes, no
// two are duplicates of each other, and each gets a family.
func TestZoo(t *testing.T) {
	g, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cands []Candidate
	for _, m := range zoo.Models() {
		cands = append(cands, Candidate{m.Name, m.Code})
	}
	if len(cands) < 10 {
		t.Fatalf("zoo has %d models", len(cands))
	}
	rep, err := g.Run(context.Background(), cands)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Verdicts {
		if !v.Accepted() {
			t.Errorf("%s: %v", v.Name, v)
			continue
		}
		if f := v.Analysis.Features; f.Family == pyast.FamilyUnknown || f.Params <= 0 {
			t.Errorf("%s: family %s, params %v", v.Name, f.Family, f.Params)
		}
	}
}

func TestConcurrentCopies(t *testing.T) {
	// Eight goroutines check the same model at once: exactly one wins.
	g, _ := New(DefaultConfig(), nil, nil)
	results := make(chan Verdict, 8)
	for i := range 8 {
		go func() {
			v, err := g.Check(context.Background(), Candidate{Name: fmt.Sprint("copy", i), Code: cnn})
			if err != nil {
				t.Error(err)
			}
			results <- v
		}()
	}
	counts := Counts{}
	for range 8 {
		counts.Add(<-results)
	}
	if counts.Accepted() != 1 || counts[ReasonDuplicateCode] != 7 {
		t.Fatalf("counts %s", counts)
	}
}
