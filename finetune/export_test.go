package finetune

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/synth/reply"
	"github.com/nngpt/nngpt/workspace"
)

type run struct {
	dataset string
	nn      string
	epoch   int
	acc     float64
}

// corpus fills a temp workspace through the store API: every model in
// codes gets an nn row; runs become stat rows.
func corpus(t testing.TB, codes map[string]string, runs []run) store.Store {
	t.Helper()
	ctx := context.Background()
	ws, err := workspace.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	for name, code := range codes {
		if _, err := ws.Store.PutCode(ctx, store.Code{Kind: store.KindNN, Name: name, Code: code, ID: lemur.CodeID(code)}); err != nil {
			t.Fatal(err)
		}
	}
	var recs []lemur.Record
	for i, r := range runs {
		p := lemur.Pipeline{Task: "img-classification", Dataset: r.dataset, Metric: "acc", NN: r.nn}
		prm := lemur.Dict{{Key: "batch", Value: int64(32)}, {Key: "lr", Value: 0.01 + float64(i)/1000},
			{Key: "momentum", Value: 0.9}, {Key: "pretrained", Value: false}, {Key: "transform", Value: "norm_32"}}
		recs = append(recs, lemur.NewRecord(p, r.epoch, r.acc, nil, prm))
	}
	if _, err := ws.Store.AddStats(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return ws.Store
}

func net(tag string) string {
	return fmt.Sprintf("import torch\nimport torch.nn as nn\n\ndef supported_hyperparameters():\n    return {'lr', 'momentum'}\n\n\nclass Net(nn.Module):\n    # %s\n    def __init__(self, in_shape, out_shape, prm, device):\n        super().__init__()\n", tag)
}

var codes = map[string]string{
	"A": net("A"), "B": net("B"), "C": net("C"), "D": net("D"), "E": net("E"),
	"Ccopy": net("C"), // same code as C under another name
	"Long":  net("L") + strings.Repeat("# pad\n", 5000),
}

var runs = []run{
	{"cifar-10", "A", 1, 0.300}, {"cifar-10", "A", 1, 0.250}, // A's best at epoch 1 is 0.30
	{"cifar-10", "B", 1, 0.305},
	{"cifar-10", "C", 1, 0.400},
	{"cifar-10", "Ccopy", 1, 0.450},
	{"cifar-10", "D", 1, 0.500},
	{"cifar-10", "E", 1, 0.600},
	{"cifar-10", "NoCode", 1, 0.900}, // stat rows without an nn row: never used
	{"cifar-10", "Long", 1, 0.950},   // longer than MaxCodeBytes
	{"cifar-10", "A", 2, 0.350}, {"cifar-10", "E", 2, 0.700},
	{"mnist", "A", 1, 0.970},
}

func TestSelectPairs(t *testing.T) {
	st := corpus(t, codes, runs)
	acc := map[string]float64{"A": 0.30, "B": 0.305, "C": 0.40, "Ccopy": 0.45, "D": 0.50, "E": 0.60}
	// Every valid epoch-1 cifar-10 pair for a margin: better by the margin,
	// different code (C and Ccopy never pair).
	allPairs := func(margin float64) int {
		n := 0
		for a, x := range acc {
			for b, y := range acc {
				if y-x >= margin-1e-12 && strings.TrimSuffix(a, "copy") != strings.TrimSuffix(b, "copy") {
					n++
				}
			}
		}
		return n
	}
	tests := []struct {
		name      string
		opt       Options
		wantPairs int
		groups    int
	}{
		{"defaults", Options{}, allPairs(DefaultMargin) + 1, 2}, // + the epoch-2 pair A->E
		{"wide margin", Options{Margin: 0.15, Epoch: 1}, allPairs(0.15), 1},
		{"any gain", Options{Margin: -1, Epoch: 1}, allPairs(1e-9), 1},
		{"cap per group", Options{PerGroup: 3}, 3 + 1, 2},
		{"epoch 2 only", Options{Epoch: 2}, 1, 1},
		{"one model per group", Options{Dataset: "mnist"}, 0, 0},
		{"no code limit", Options{MaxCodeBytes: -1, Epoch: 1}, allPairs(DefaultMargin) + 6, 1}, // Long beats all six
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pairs, stats, err := SelectPairs(context.Background(), st, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(pairs) != tc.wantPairs || stats.Groups != tc.groups {
				t.Fatalf("%d pairs in %d groups, want %d in %d", len(pairs), stats.Groups, tc.wantPairs, tc.groups)
			}
			margin := tc.opt.Margin
			if margin == 0 {
				margin = DefaultMargin
			}
			seen := map[string]bool{}
			for _, p := range pairs {
				key := fmt.Sprint(p.Epoch, p.Baseline.Name, p.Better.Name)
				if seen[key] {
					t.Errorf("pair %s twice", key)
				}
				seen[key] = true
				if g := p.Gain(); g <= 0 || (margin > 0 && g < margin-1e-12) {
					t.Errorf("%s -> %s gains %.3f, want at least %.3f", p.Baseline.Name, p.Better.Name, g, margin)
				}
				if p.Baseline.Code == p.Better.Code {
					t.Errorf("%s -> %s have the same code", p.Baseline.Name, p.Better.Name)
				}
				for _, m := range []Model{p.Baseline, p.Better} {
					if m.Name == "NoCode" || (m.Name == "Long" && tc.opt.MaxCodeBytes >= 0) {
						t.Errorf("pair uses %s", m.Name)
					}
					if p.Epoch == 1 && p.Dataset == "cifar-10" && m.Name != "Long" && m.Accuracy != acc[m.Name] {
						t.Errorf("%s accuracy %v, want its best run %v", m.Name, m.Accuracy, acc[m.Name])
					}
				}
			}
			if tc.opt.PerGroup == 3 {
				// The first round takes one pair per baseline.
				bases := map[string]bool{}
				for _, p := range pairs {
					if p.Epoch == 1 {
						bases[p.Baseline.Name] = true
					}
				}
				if len(bases) != 3 {
					t.Errorf("3 capped pairs use %d baselines, want 3 distinct", len(bases))
				}
			}
		})
	}
	_, stats, err := SelectPairs(context.Background(), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.NoCode != 1 || stats.TooLong != 1 || stats.Models != 6 {
		t.Errorf("stats %+v, want 1 without code, 1 too long, 6 models", stats)
	}
	if _, _, err := SelectPairs(context.Background(), st, Options{Epoch: -1}); err == nil {
		t.Error("negative epoch accepted")
	}
}

func TestUnknownDataset(t *testing.T) {
	rs := append([]run{{"celeba-gender", "A", 1, 0.6}, {"celeba-gender", "E", 1, 0.8}}, runs...)
	st := corpus(t, codes, rs)
	var b bytes.Buffer
	stats, err := Export(context.Background(), st, &b, Options{Epoch: 1})
	if err != nil || stats.UnknownDataset != 2 || strings.Contains(b.String(), "celeba-gender") {
		t.Fatalf("default prompt on an unknown dataset: %+v %v", stats, err)
	}
	// A custom template needs no classes or input shape.
	b.Reset()
	stats, err = Export(context.Background(), st, &b, Options{Epoch: 1, Dataset: "celeba-gender", Template: "improve {{.Baseline.Name}} on {{.Dataset}}"})
	if err != nil || stats.Pairs != 1 || !strings.Contains(b.String(), "improve A on celeba-gender") {
		t.Fatalf("custom template: %+v %v %s", stats, err, b.String())
	}
}

func TestShotsKeepPairs(t *testing.T) {
	st := corpus(t, codes, runs)
	plain, _, err := SelectPairs(context.Background(), st, Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	shot, _, err := SelectPairs(context.Background(), st, Options{Seed: 3, Shots: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != len(shot) {
		t.Fatalf("%d pairs with shots, %d without", len(shot), len(plain))
	}
	for i := range plain {
		if plain[i].Baseline.Name != shot[i].Baseline.Name || plain[i].Better.Name != shot[i].Better.Name {
			t.Fatalf("pair %d changed with shots", i)
		}
		for _, m := range shot[i].Supporting {
			if m.Code == shot[i].Baseline.Code || m.Code == shot[i].Better.Code {
				t.Errorf("pair %d: supporting model %s repeats the baseline or the answer", i, m.Name)
			}
		}
		if shot[i].Epoch == 1 && len(shot[i].Supporting) != 3 {
			t.Errorf("pair %d: %d supporting models, want 3", i, len(shot[i].Supporting))
		}
	}
	if _, _, err := SelectPairs(context.Background(), st, Options{Shots: -1}); err == nil {
		t.Error("negative shots accepted")
	}
}

func TestExportDeterministic(t *testing.T) {
	st := corpus(t, codes, runs)
	ctx := context.Background()
	export := func(seed int64) string {
		var b bytes.Buffer
		if _, err := Export(ctx, st, &b, Options{Seed: seed, PerGroup: 4}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b, c := export(1), export(1), export(2)
	if a != b {
		t.Error("the same seed gave different files")
	}
	if a == c {
		t.Error("seeds 1 and 2 chose the same pairs in the same order")
	}
}

func TestExportFormat(t *testing.T) {
	st := corpus(t, codes, runs)
	path := filepath.Join(t.TempDir(), "sub", "ft.jsonl")
	stats, err := ExportFile(context.Background(), st, path, Options{Epoch: 1, Margin: 0.25, Shots: 2, MaxParams: 123456})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("export file mode: %v %v, want 0644", fi.Mode(), err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		var ex Example
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if len(ex.Messages) != 3 || ex.Messages[0].Role != "system" || ex.Messages[1].Role != "user" || ex.Messages[2].Role != "assistant" {
			t.Fatalf("line %d roles: %+v", n, ex.Messages)
		}
		user, answer := ex.Messages[1].Content, ex.Messages[2].Content
		// The user turn is the generator's own n-shot prompt.
		for _, want := range []string{"img-classification on the cifar-10 dataset (10 classes", "after 1 training epoch(s)", "Main model, ",
			"Supporting model 1, ", "Supporting model 2, ", "class Net(nn.Module)", "transform norm_32", `"lr":`, "PyTorch 1.13", "At most 123456 trainable"} {
			if !strings.Contains(user, want) {
				t.Errorf("line %d: prompt misses %q:\n%s", n, want, user)
			}
		}
		// NNGPT's own reply parser reads the answer back whole.
		r := reply.Extract(answer)
		if r.Verdict != reply.OK || r.Transform != "norm_32" || r.HP["lr"] == 0 || r.HP["momentum"] != 0.9 {
			t.Errorf("line %d: answer extracts as %+v", n, r)
		}
		if _, ok := r.HP["pretrained"]; ok {
			t.Errorf("line %d: non-numeric hyperparameter in <hp>", n)
		}
		if !strings.Contains(user, "```python\n") || strings.Contains(user, r.Code) {
			t.Errorf("line %d: the prompt must show the baseline, not the answer's code", n)
		}
		if strings.Count(user, "```python") != 3 {
			t.Errorf("line %d: want the main model and 2 supporting models in the prompt", n)
		}
	}
	if n != stats.Pairs || n == 0 {
		t.Errorf("%d lines, stats say %d", n, stats.Pairs)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestTemplate(t *testing.T) {
	st := corpus(t, codes, runs)
	tests := []struct {
		tmpl, want, err string
	}{
		{"improve {{.Baseline.Name}} ({{acc .Baseline.Accuracy}}) on {{.Dataset}}", "improve A (0.3500) on cifar-10", ""},
		{"{{.Baseline.Nope}}", "", "can't evaluate field Nope"},
		{"{{.Baseline", "", "prompt template"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		_, err := Export(context.Background(), st, &b, Options{Template: tc.tmpl, System: "sys", Epoch: 2})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("template %q: error %v, want %q", tc.tmpl, err, tc.err)
			}
			if b.Len() > 0 {
				t.Errorf("template %q: wrote output despite the error", tc.tmpl)
			}
			continue
		}
		var ex Example
		if err := json.Unmarshal(b.Bytes(), &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Messages[0].Content != "sys" || ex.Messages[1].Content != tc.want {
			t.Errorf("template %q gave %+v", tc.tmpl, ex.Messages[:2])
		}
	}
}
