package loop

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/store"
)

// v0Journal is what nngpt stored before Settings had JSON names: the CLI's
// configuration struct under its Go field names.
const v0Journal = `{"Cycles":5,"Candidates":4,"Epochs":2,"TimeBudget":0,"Seed":77,"Generator":"","RAG":"","Recommender":"learned",
"Task":"img-classification","Dataset":"cifar-10","Metric":"acc","Admit":1.5,"Workers":2,"Device":"cpu","Python":"",
"MaxParams":1000000,"Batch":32,"Data":{"Dir":"/data","Download":false,"Train":5000,"Test":1000,"Size":32},
"LLM":{"URL":"http://localhost:8000/v1","Model":"m","Temperature":0.7,"TopP":0.95,"MaxTokens":4096,"ContextLength":16384,
"Timeout":300000000000,"Shots":3,"Selection":"diverse","MaxRetries":4,"Repairs":2},"Evolve":{"Learn":false},
"EarlyStop":{"Enabled":true,"AfterEpoch":1},"Finetune":{"Export":true,"Command":"train {{.Data}}"}}`

func TestDecodeSettings(t *testing.T) {
	cur := DefaultSettings()
	cur.Dataset, cur.Epochs, cur.LLM.TopP = "mnist", 4, 0.5
	js, err := EncodeSettings(cur)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, raw string
		check     func(Settings) bool
		err       string
	}{
		{"current", js, func(s Settings) bool { return s.Dataset == "mnist" && s.Epochs == 4 && s.LLM.TopP == 0.5 }, ""},
		{"version 0 migrated", v0Journal, func(s Settings) bool {
			return s.Cycles == 5 && s.Candidates == 4 && s.Epochs == 2 && s.Seed == 77 && s.Dataset == "cifar-10" &&
				s.Admit == 1.5 && s.MaxParams == 1_000_000 && s.Batch == 32 && s.Data.Dir == "/data" &&
				s.LLM.URL == "http://localhost:8000/v1" && s.LLM.Selection == "diverse" && s.LLM.Timeout == 5*time.Minute &&
				s.LLM.Repairs == 2 && !s.Evolve.Learn && s.EarlyStop.AfterEpoch == 1 && s.Finetune.Export &&
				s.Finetune.Command == "train {{.Data}}" && s.Version == SettingsVersion
		}, ""},
		{"newer version", `{"version": 99}`, nil, "version 99"},
		{"garbage", `{`, nil, "unreadable"},
	}
	for _, tc := range tests {
		s, err := DecodeSettings(tc.raw)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !tc.check(s) {
			t.Errorf("%s: %+v, %v", tc.name, s, err)
		}
	}
}

func TestSettingsDiffAndPortable(t *testing.T) {
	a, b := DefaultSettings(), DefaultSettings()
	b.Dataset, b.LLM.URL, b.Data.Dir = "mnist", "http://x/v1", "/new"
	d := a.Diff(b, []string{"dataset", "epochs", "llm.url"})
	if len(d) != 2 || d[0].Key != "dataset" || string(d[0].Stored) != `"shapes"` || string(d[0].Want) != `"mnist"` || d[1].Key != "llm.url" {
		t.Fatalf("diff %+v", d)
	}
	if all := a.Diff(b, slices.Collect(maps.Keys(a.Flatten()))); len(all) != 3 {
		t.Fatalf("diff over every key: %+v", all)
	}
	p := a.WithPortable(b, []string{"dataset", "data.dir", "llm.url"})
	if p.Dataset != "shapes" || p.Data.Dir != "/new" || p.LLM.URL != "http://x/v1" {
		t.Fatalf("portable: dataset %s dir %s url %s", p.Dataset, p.Data.Dir, p.LLM.URL)
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "nngpt.db"))
	old := store.Loop{ID: "20260101-000000-bbbb1111", Status: store.LoopInterrupted, Config: v0Journal, Seed: 77, Cycles: 5}
	done := store.Loop{ID: "20260101-000000-aaaa2222", Status: store.LoopDone, Config: v0Journal, Seed: 1, Cycles: 5}
	for _, l := range []store.Loop{done, old} {
		if err := st.PutLoop(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	fresh := DefaultSettings()
	tests := []struct {
		name    string
		sel     Selection
		resumed string // the loop resumed; "" a new one
		err     string
	}{
		{"latest unfinished, from its stored settings", Selection{}, old.ID, ""},
		{"by prefix", Selection{Resume: "20260101-000000-b"}, old.ID, ""},
		{"ambiguous prefix", Selection{Resume: "20260101"}, "", "ambiguous"},
		{"finished", Selection{Resume: done.ID}, "", "is done: nothing to resume"},
		{"unknown", Selection{Resume: "nope"}, "", "no loop"},
		{"new", Selection{New: true}, "", ""},
		{"both", Selection{New: true, Resume: old.ID}, "", "contradict"},
	}
	for _, tc := range tests {
		p, err := Resolve(ctx, st, tc.sel, fresh)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.resumed != "" && (!p.Resumed || p.Loop.ID != tc.resumed || p.Settings.Dataset != "cifar-10") {
			t.Errorf("%s: plan %+v", tc.name, p)
		}
		if tc.resumed == "" && (p.Resumed || p.Settings.Dataset != "shapes" || p.Settings.Seed == 0) {
			t.Errorf("%s: plan %+v", tc.name, p)
		}
	}
	// A new loop is stored by Run, not by Resolve.
	if loops, _ := st.Loops(ctx); len(loops) != 2 {
		t.Fatalf("%d loops stored, want 2", len(loops))
	}
}

func TestRAGBlocks(t *testing.T) {
	tests := []struct {
		rag   string
		names []string
		all   bool
	}{
		{"", nil, false},
		{"all", nil, true},
		{"a.B, c.D ,", []string{"a.B", "c.D"}, false},
		{"all,x", []string{"x"}, true},
	}
	for _, tc := range tests {
		c := Settings{RAG: tc.rag}
		names, all := c.RAGBlocks()
		if all != tc.all || strings.Join(names, "|") != strings.Join(tc.names, "|") {
			t.Errorf("RAGBlocks(%q) = %v, %v; want %v, %v", tc.rag, names, all, tc.names, tc.all)
		}
	}
}
