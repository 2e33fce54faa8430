package prompt_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
)

var task = prompt.Task{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", Classes: 10, InShape: [4]int{64, 3, 32, 32}, Epochs: 1, MaxParams: 2_500_000}

func model(name, code string, acc float64) prompt.Model {
	return prompt.Model{Name: name, Code: code, Accuracy: acc, Epoch: 1, Transform: "norm_32", HP: `{"lr": 0.01}`}
}

var ragBlock = prompt.Block{
	Name:  "blocks.SEBlock",
	Code:  "import torch\nfrom torch import nn\n\n\nclass SEBlock(nn.Module):\n    def __init__(self, channels=16):\n        super().__init__()\n        self.fc = nn.Conv2d(channels, channels, 1)\n\n    def forward(self, x):\n        return x * torch.sigmoid(self.fc(x.mean((2, 3), keepdim=True)))\n",
	Input: "SEBlock(channels=16) on 2x16x32x32 tensor",
}

func nshotData(n int) prompt.Data {
	main := model("mainnet", llmtest.GoodCode, 0.61)
	d := prompt.Data{Task: task, Main: &main}
	for i := range n {
		d.Supporting = append(d.Supporting, model("sup"+string(rune('a'+i)), strings.ReplaceAll(llmtest.GoodCode, "64", string(rune('1'+i))+"6"), 0.5-float64(i)/100))
	}
	return d
}

func TestRenderEveryKindStatesTheRules(t *testing.T) {
	s := prompt.Builtin()
	data := map[prompt.Kind]prompt.Data{
		prompt.ZeroShot: {Task: task},
		prompt.NShot:    nshotData(3),
		prompt.Repair: {Task: task, Previous: &prompt.Previous{Code: llmtest.GoodCode, HP: `{"lr": 0.5}`, Transform: "norm",
			Stage: "forward", Reason: "runtime_error", Error: "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x256 and 64x10)", Try: 2}},
		prompt.RAG: {Task: task, Block: &ragBlock},
	}
	common := []string{"<hp>", "</hp>", "<tr>", "</tr>", "<nn>", "</nn>", "supported_hyperparameters()", "class Net(nn.Module)",
		"train_setup(self, prm)", "learn(self, train_data)", "PyTorch 1.13", "scaled_dot_product_attention", "torch.compile", "nn.RMSNorm",
		"2500000 trainable parameters", "cifar-10", "(64, 3, 32, 32)", "10 classes", "echo, norm or complex", "_flip"}
	specific := map[prompt.Kind][]string{
		prompt.ZeroShot: {"Design a new neural network"},
		prompt.NShot: {"Main model, mainnet: acc 0.6100", "Supporting model 1, supa: acc 0.5000", "Supporting model 3, supc: acc 0.4800",
			"beat its acc of 0.6100", "transform norm_32", llmtest.GoodCode[:200]},
		prompt.Repair: {`"forward" stage (runtime_error)`, "attempt 2 of 3", "mat1 and mat2 shapes", "Its hyperparameters were {\"lr\": 0.5}", llmtest.GoodCode[:200]},
		prompt.RAG: {"built around the PyTorch block `blocks.SEBlock`", "SEBlock(channels=16) on 2x16x32x32 tensor",
			ragBlock.Code, "copy the block's code above", "self-contained"},
	}
	hashes := map[string]bool{}
	for kind, d := range data {
		p, err := s.Render(kind, d)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if len(p.Messages) != 2 || p.Messages[0].Role != llm.System || p.Messages[1].Role != llm.User {
			t.Fatalf("%s: messages %+v", kind, p.Messages)
		}
		for _, want := range append(common, specific[kind]...) {
			if !strings.Contains(p.Messages[1].Content, want) {
				t.Errorf("%s prompt lacks %q", kind, want)
			}
		}
		if len(p.Hash) != 64 || len(p.TemplateHash) != 64 || hashes[p.Hash] {
			t.Errorf("%s: hash %q template hash %q", kind, p.Hash, p.TemplateHash)
		}
		hashes[p.Hash] = true
		again, _ := s.Render(kind, d)
		if again.Hash != p.Hash {
			t.Errorf("%s: hash not stable", kind)
		}
	}
}

func TestRenderRejectsIncompleteData(t *testing.T) {
	s := prompt.Builtin()
	tests := []struct {
		kind prompt.Kind
		d    prompt.Data
		want string
	}{
		{prompt.NShot, prompt.Data{Task: task}, "main model"},
		{prompt.Repair, prompt.Data{Task: task}, "previous attempt"},
		{prompt.ZeroShot, prompt.Data{Task: prompt.Task{Dataset: "x"}}, "parameter limit"},
		{prompt.RAG, prompt.Data{Task: task}, "without a block"},
		{prompt.RAG, prompt.Data{Task: task, Block: &prompt.Block{Name: "x.B", Code: " \n"}}, "without a block"},
		{"fewshot", prompt.Data{Task: task}, "unknown prompt kind"},
	}
	for _, tc := range tests {
		if _, err := s.Render(tc.kind, tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.kind, err, tc.want)
		}
	}
}

func TestOverrides(t *testing.T) {
	custom := `{{template "task" .}} Make it tiny. {{template "contract" .}} {{template "format" .}}`
	s, err := prompt.Load(fstest.MapFS{"zeroshot.tmpl": {Data: []byte(custom)}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Render(prompt.ZeroShot, prompt.Data{Task: task})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Messages[1].Content, "Make it tiny.") || len(s.Overridden) != 1 {
		t.Errorf("override not used: %v\n%s", s.Overridden, p.Messages[1].Content)
	}
	if p.TemplateHash == prompt.Builtin().Hash() {
		t.Errorf("template hash does not change with an override")
	}
	bad := []struct {
		fs   fstest.MapFS
		want string
	}{
		{fstest.MapFS{"zeroshoot.tmpl": {Data: []byte("x")}}, "not a known template"},
		{fstest.MapFS{"nshot.tmpl": {Data: []byte("{{.Nope")}}, "nshot.tmpl"},
		{fstest.MapFS{"repair.tmpl": {Data: []byte("{{.Task.Nope}}")}}, "Nope"},
	}
	for _, tc := range bad {
		if _, err := prompt.Load(tc.fs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestLoadWorkspace(t *testing.T) {
	dir := t.TempDir()
	s, err := prompt.LoadWorkspace(dir)
	if err != nil || len(s.Overridden) != 0 {
		t.Fatalf("no prompts folder: %v %v", s, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, prompt.Dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, prompt.Dir, "system.tmpl"), []byte("You are terse."), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = prompt.LoadWorkspace(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Render(prompt.ZeroShot, prompt.Data{Task: task})
	if p.Messages[0].Content != "You are terse.\n" {
		t.Errorf("system message %q", p.Messages[0].Content)
	}
}

func TestTruncateError(t *testing.T) {
	short := "SyntaxError: invalid syntax"
	if got := prompt.TruncateError(short, 100); got != short {
		t.Errorf("short error changed: %q", got)
	}
	long := "Traceback (most recent call last):\n" + strings.Repeat("  File \"x.py\", line 1, in f\n", 500) + "RuntimeError: the real cause"
	got := prompt.TruncateError(long, 1000)
	if len(got) > 1100 || !strings.HasPrefix(got, "Traceback") || !strings.HasSuffix(got, "RuntimeError: the real cause") || !strings.Contains(got, "characters left out") {
		t.Errorf("truncated error (%d bytes):\n%s", len(got), got)
	}
}

func TestFitDropsSupportingModelsFirst(t *testing.T) {
	s := prompt.Builtin()
	d := nshotData(4)
	full, err := s.Render(prompt.NShot, d)
	if err != nil {
		t.Fatal(err)
	}
	b := llm.Budget{ReplyTokens: 1000}
	n, _, _ := b.Count(context.Background(), full.Messages)
	two, _ := s.Render(prompt.NShot, prompt.Data{Task: d.Task, Main: d.Main, Supporting: d.Supporting[:2]})
	nTwo, _, _ := b.Count(context.Background(), two.Messages)
	zero, _ := s.Render(prompt.NShot, prompt.Data{Task: d.Task, Main: d.Main})
	nZero, _, _ := b.Count(context.Background(), zero.Messages)

	tests := []struct {
		ctx     int
		shots   int
		tooLong bool
	}{
		{n + 1000, 4, false},
		{nTwo + 1000, 2, false},
		{nZero + 1000, 0, false},
		{nZero + 999, 0, true},
	}
	for _, tc := range tests {
		b.ContextLength = tc.ctx
		p, err := s.Fit(context.Background(), b, prompt.NShot, d)
		if tc.tooLong {
			var tl *llm.TooLongError
			if !errors.As(err, &tl) || !strings.Contains(err.Error(), "dropping all 4 supporting models") {
				t.Errorf("ctx %d: error %v, want a TooLongError after dropping all", tc.ctx, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ctx %d: %v", tc.ctx, err)
		}
		if p.Shots != tc.shots || p.Dropped != 4-tc.shots || p.Tokens > tc.ctx-1000 {
			t.Errorf("ctx %d: shots %d dropped %d tokens %d, want %d shots", tc.ctx, p.Shots, p.Dropped, p.Tokens, tc.shots)
		}
		// The kept ones are the first ones, whole.
		for i, m := range d.Supporting {
			if in := strings.Contains(p.Messages[1].Content, m.Code); in != (i < tc.shots) {
				t.Errorf("ctx %d: supporting model %d present=%v", tc.ctx, i, in)
			}
		}
		if !strings.Contains(p.Messages[1].Content, d.Main.Code) {
			t.Errorf("main model's code cut")
		}
	}
}

func TestSelect(t *testing.T) {
	code := func(i int) string { return "class Net:\n    width = " + string(rune('0'+i)) + "\n" }
	pool := []prompt.Model{
		model("a", code(1), 0.50), model("b", code(2), 0.70), model("c", code(3), 0.60),
		model("d", code(4), 0.65), model("e", code(5), -1), model("f", "", 0.9), model("g", code(2), 0.40), // e: no run, f: no code, g: b's code
	}
	// Fingerprint: b and d are "the same architecture".
	fp := func(c string) string {
		if c == code(4) {
			return code(2)
		}
		return c
	}
	names := func(ms []prompt.Model) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Name)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		sel        prompt.Selector
		n          int
		main, supp string
	}{
		{prompt.Selector{Strategy: prompt.Best}, 2, "b", "d,c"},
		{prompt.Selector{Strategy: prompt.Best}, 10, "b", "d,c,a"},
		{prompt.Selector{Strategy: prompt.Best}, 0, "b", ""},
		{prompt.Selector{Strategy: prompt.Diverse, Fingerprint: fp}, 2, "b", "c,a"},
		{prompt.Selector{Strategy: prompt.Diverse, Fingerprint: fp}, 3, "b", "c,a,d"}, // topped up
	}
	for _, tc := range tests {
		m, s, err := tc.sel.Select(pool, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != tc.main || names(s) != tc.supp {
			t.Errorf("%s n=%d: main %s supporting %s, want %s and %s", tc.sel.Strategy, tc.n, m.Name, names(s), tc.main, tc.supp)
		}
	}
	// Random: reproducible with a seed, main is the best drawn, no repeats.
	seen := map[string]bool{}
	for seed := range uint64(20) {
		sel := prompt.Selector{Strategy: prompt.Random, Rand: rand.New(rand.NewPCG(seed, 0))}
		m, s, err := sel.Select(pool, 2)
		if err != nil {
			t.Fatal(err)
		}
		m2, s2, _ := prompt.Selector{Strategy: prompt.Random, Rand: rand.New(rand.NewPCG(seed, 0))}.Select(pool, 2)
		if m2.Name != m.Name || names(s2) != names(s) {
			t.Errorf("seed %d not reproducible", seed)
		}
		if len(s) != 2 || s[0].Accuracy > m.Accuracy || s[1].Accuracy > s[0].Accuracy || s[0].Name == s[1].Name {
			t.Errorf("seed %d: main %s supporting %s", seed, m.Name, names(s))
		}
		seen[m.Name+"|"+names(s)] = true
	}
	if len(seen) < 3 {
		t.Errorf("random selection drew only %d distinct sets in 20 seeds", len(seen))
	}
	if _, _, err := (prompt.Selector{}).Select(pool[4:6], 2); !errors.Is(err, prompt.ErrNoExamples) {
		t.Errorf("pool without usable models: %v", err)
	}
}

func TestDiverseUsesStructuralFingerprint(t *testing.T) {
	renamed := strings.NewReplacer("self.features", "self.backbone", "self.classifier", "self.head").Replace(llmtest.GoodCode)
	wider := strings.ReplaceAll(llmtest.GoodCode, "64", "96")
	pool := []prompt.Model{model("good", llmtest.GoodCode, 0.7), model("renamed", renamed, 0.69), model("wider", wider, 0.6)}
	_, s, err := prompt.Selector{Strategy: prompt.Diverse}.Select(pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Name != "wider" {
		t.Errorf("diverse chose %v, want the wider model (the renamed copy shares the main model's structure)", s)
	}
}

func TestFromCorpus(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc"}
	for i, name := range []string{"alpha", "beta", "nocode"} {
		if name != "nocode" {
			if _, err := db.PutCode(ctx, store.Code{Kind: store.KindNN, Name: name, Code: strings.ReplaceAll(llmtest.GoodCode, "64", string(rune('5'+i))+"4"), ID: ""}); err != nil {
				t.Fatal(err)
			}
		}
		p.NN = name
		prm := lemur.Dict{{Key: "batch", Value: int64(32)}, {Key: "lr", Value: 0.01}, {Key: "transform", Value: "norm_32"}}
		if _, err := db.AddStats(ctx, []lemur.Record{lemur.NewRecord(p, 1, 0.4+float64(i)/10, nil, prm), lemur.NewRecord(p, 2, 0.3, nil, prm)}); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := prompt.FromCorpus(ctx, db, "img-classification", "cifar-10", "acc")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("%d models, want alpha and beta: %+v", len(ms), ms)
	}
	for _, m := range ms {
		if m.Transform != "norm_32" || m.HP != `{"batch": 32, "lr": 0.01}` || m.Epoch != 1 || m.Code == "" {
			t.Errorf("model %+v", m)
		}
	}
}
