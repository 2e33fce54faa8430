package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteTemplate(dir, false); err != nil {
		t.Fatal(err)
	}
	// The template holds exactly the defaults.
	l, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	if l.Cycles != def.Cycles || l.Candidates != def.Candidates || l.Dataset != "shapes" || l.LLM.Timeout != 5*time.Minute || l.Data.Train != 5000 {
		t.Fatalf("template differs from the defaults: %+v", l.Config)
	}
	if _, err := WriteTemplate(dir, false); err == nil {
		t.Fatal("init overwrote an existing file without --force")
	}

	os.WriteFile(filepath.Join(dir, FileName), []byte("cycles: 5\ncandidates: 4\nllm:\n  url: http://file\n  model: m\n"), 0o644)
	t.Setenv("NNGPT_CANDIDATES", "6")
	t.Setenv("NNGPT_TIME_BUDGET", "90s")
	t.Setenv("NNGPT_DATA", "/data")
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.String("llm", "", "")
	fs.Int("cycles", 0, "")
	fs.Int("epochs", 0, "")
	fs.Bool("json", false, "")
	if err := fs.Parse([]string{"--llm", "http://flag", "--json"}); err != nil {
		t.Fatal(err)
	}
	l, err = Load(dir, fs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		got  any
		want any
		src  Source
	}{
		{"cycles", l.Cycles, 5, FromFile},
		{"candidates", l.Candidates, 6, FromEnv},
		{"time_budget", l.TimeBudget, 90 * time.Second, FromEnv},
		{"data.dir", l.Data.Dir, "/data", FromEnv},
		{"llm.url", l.LLM.URL, "http://flag", FromFlag},
		{"llm.model", l.LLM.Model, "m", FromFile},
		{"epochs", l.Epochs, 1, FromDefault}, // an unset flag does not count
	}
	for _, tc := range tests {
		if tc.got != tc.want || l.Origin[tc.key] != tc.src {
			t.Errorf("%s = %v from %s, want %v from %s", tc.key, tc.got, l.Origin[tc.key], tc.want, tc.src)
		}
	}
	if l.GeneratorName() != "llm" {
		t.Errorf("generator %s with an llm url set", l.GeneratorName())
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct{ name, yaml string }{
		{"unknown key", "cycels: 3\n"},
		{"bad yaml", "cycles: [\n"},
		{"zero cycles", "cycles: 0\n"},
		{"bad generator", "generator: gpt\n"},
		{"llm without url", "generator: llm\n"},
		{"bad recommender", "recommender: optuna\n"},
		{"llm recommender without url", "recommender: llm\n"},
		{"bad selection", "llm:\n  selection: newest\n"},
		{"negative retries", "llm:\n  max_retries: -1\n"},
		{"negative repairs", "llm:\n  repairs: -2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, FileName), []byte(tc.yaml), 0o644)
			if _, err := Load(dir, nil); err == nil {
				t.Fatalf("accepted %q", tc.yaml)
			}
		})
	}
}
