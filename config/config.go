// Package config is the effective configuration of `nngpt run`: built-in
// defaults, then the workspace's nngpt.yaml, then NNGPT_* environment
// variables, then command-line flags (flags win). It remembers where each
// value came from so `nngpt config` can say.
package config

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// FileName is the configuration file inside a workspace.
const FileName = "nngpt.yaml"

// Config holds every setting of the closed loop.
type Config struct {
	Cycles      int           `koanf:"cycles"`      // cycles to run
	Candidates  int           `koanf:"candidates"`  // candidates generated per cycle
	Epochs      int           `koanf:"epochs"`      // training epochs per candidate
	TimeBudget  time.Duration `koanf:"time_budget"` // stop starting work after this long (0: none)
	Seed        int64         `koanf:"seed"`        // 0: random, recorded
	Generator   string        `koanf:"generator"`   // evolve or llm ("": llm when llm.url is set, else evolve)
	RAG         string        `koanf:"rag"`         // library blocks to build candidates around: names, comma-separated, or all
	Recommender string        `koanf:"recommender"` // hyperparameters of candidates that bring none usable: learned, or llm (then learned)
	Task        string        `koanf:"task"`
	Dataset     string        `koanf:"dataset"`
	Metric      string        `koanf:"metric"`
	Admit       float64       `koanf:"admit"`      // admission threshold as a multiple of chance accuracy
	Workers     int           `koanf:"workers"`    // trainings at once (0: fit the cores)
	Device      string        `koanf:"device"`     // cpu, cuda, cuda:N
	Python      string        `koanf:"python"`     // interpreter with torch ("": search)
	MaxParams   int64         `koanf:"max_params"` // parameter limit per model
	Batch       int           `koanf:"batch"`      // batch size when the generator gives none
	Data        Data          `koanf:"data"`
	LLM         LLM           `koanf:"llm"`
	Evolve      Evolve        `koanf:"evolve"`
	EarlyStop   EarlyStop     `koanf:"early_stop"`
	Finetune    Finetune      `koanf:"finetune"`
}

// Data says where datasets come from and how big the built-in one is.
type Data struct {
	Dir      string `koanf:"dir"`      // folder with CIFAR/MNIST/SVHN files (env NNGPT_DATA)
	Download bool   `koanf:"download"` // let torchvision fetch missing files
	Train    int    `koanf:"train"`    // shapes: training images
	Test     int    `koanf:"test"`     // shapes: test images
	Size     int    `koanf:"size"`     // shapes: image side in pixels
}

// LLM is the OpenAI-compatible endpoint used by the llm generator.
type LLM struct {
	URL           string        `koanf:"url"`
	Model         string        `koanf:"model"`
	Temperature   float64       `koanf:"temperature"`
	TopP          float64       `koanf:"top_p"`
	MaxTokens     int           `koanf:"max_tokens"`
	ContextLength int           `koanf:"context_length"`
	Timeout       time.Duration `koanf:"timeout"`
	Shots         int           `koanf:"shots"`
	Selection     string        `koanf:"selection"`   // n-shot examples: best, random or diverse
	MaxRetries    int           `koanf:"max_retries"` // retries of a failed request (rate limits, 5xx, dropped streams)
	Repairs       int           `koanf:"repairs"`     // repair prompts per rejected candidate (0: none)
}

// Evolve tunes the built-in generator.
type Evolve struct {
	// Learn adapts the operator weights to the loop's outcomes: before each
	// cycle, every earlier evolve candidate credits its operators (-1
	// rejected or failed, -0.5 pruned, its accuracy's rank from -1 to +1
	// when trained).
	Learn bool `koanf:"learn"`
}

// EarlyStop stops hopeless runs between epochs.
type EarlyStop struct {
	Enabled    bool `koanf:"enabled"`
	AfterEpoch int  `koanf:"after_epoch"`
}

// Finetune exports NNGPT's fine-tuning pairs after each cycle and runs a
// command that trains the next generator.
type Finetune struct {
	Export  bool   `koanf:"export"`
	Command string `koanf:"command"` // text/template over .Data .Cycle .Model; last output line names the next model
}

// Default is the offline default: evolve on the built-in shapes dataset,
// 3 cycles of 8 candidates for 1 epoch each.
func Default() Config {
	return Config{
		Cycles: 3, Candidates: 8, Epochs: 1, Generator: "", Recommender: "learned", Task: "img-classification", Dataset: "shapes", Metric: "acc",
		Admit: 1.2, Device: "cpu", MaxParams: 5_000_000, Batch: 64,
		Data: Data{Train: 5000, Test: 1000, Size: 32},
		LLM: LLM{Temperature: 0.7, TopP: 0.95, MaxTokens: 4096, ContextLength: 16384, Timeout: 5 * time.Minute, Shots: 3,
			Selection: "best", MaxRetries: 4, Repairs: 3},
		Evolve:    Evolve{Learn: true},
		EarlyStop: EarlyStop{Enabled: true, AfterEpoch: 2},
	}
}

// Source names where a value came from.
type Source string

const (
	FromDefault Source = "default"
	FromFile    Source = FileName
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// Loaded is the effective configuration and the origin of each key.
type Loaded struct {
	Config
	Origin map[string]Source // key (e.g. "llm.url") -> source
	File   string            // the file read, "" when there was none
	k      *koanf.Koanf
}

// FlagKeys maps command-line flag names to configuration keys for the
// flags whose name is not the key itself.
var FlagKeys = map[string]string{
	"llm": "llm.url", "model": "llm.model", "shots": "llm.shots", "data-dir": "data.dir", "download": "data.download",
	"time-budget": "time_budget", "max-params": "max_params", "early-stop": "early_stop.enabled",
	"finetune-cmd": "finetune.command",
}

// Load builds the configuration of the workspace at dir. flags may be nil;
// only flags the user set count.
func Load(dir string, flags *pflag.FlagSet) (*Loaded, error) {
	k := koanf.New(".")
	if err := k.Load(structs.Provider(Default(), "koanf"), nil); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	l := &Loaded{Origin: map[string]Source{}, k: k}
	for _, key := range k.Keys() {
		l.Origin[key] = FromDefault
	}
	known := map[string]bool{}
	for _, key := range k.Keys() {
		known[key] = true
	}
	mark := func(src Source, keys []string) {
		for _, key := range keys {
			l.Origin[key] = src
		}
	}

	path := dir + string(os.PathSeparator) + FileName
	if _, err := os.Stat(path); err == nil {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("%s: %w (fix the YAML, or delete the file and run `nngpt init`)", path, err)
		}
		for _, key := range fk.Keys() {
			if !known[key] {
				return nil, fmt.Errorf("%s: unknown setting %q (`nngpt config` lists the settings)", path, key)
			}
		}
		k.Merge(fk)
		mark(FromFile, fk.Keys())
		l.File = path
	}

	// NNGPT_LLM_URL -> llm.url, NNGPT_TIME_BUDGET -> time_budget: match the
	// variable against the known keys, since '_' is both a separator and
	// part of key names. Other NNGPT_* variables (NNGPT_WORKSPACE, ...)
	// belong to other parts of nngpt and are ignored here.
	envNames := map[string]string{}
	for key := range known {
		envNames["NNGPT_"+strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))] = key
	}
	envNames["NNGPT_DATA"] = "data.dir"
	ek := koanf.New(".")
	err := ek.Load(env.Provider(".", env.Opt{
		Prefix: "NNGPT_",
		TransformFunc: func(k, v string) (string, any) {
			if key, ok := envNames[k]; ok && v != "" {
				return key, v
			}
			return "", nil
		},
	}), nil)
	if err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	k.Merge(ek)
	mark(FromEnv, ek.Keys())

	if flags != nil {
		fk := koanf.New(".")
		err := fk.Load(posflag.ProviderWithFlag(flags, ".", nil, func(f *pflag.Flag) (string, any) {
			if !f.Changed {
				return "", nil
			}
			key := strings.ReplaceAll(f.Name, "-", "_")
			if mapped, ok := FlagKeys[f.Name]; ok {
				key = mapped
			}
			if !known[key] {
				return "", nil // a flag of the command, not a setting
			}
			return key, posflag.FlagVal(flags, f)
		}), nil)
		if err != nil {
			return nil, fmt.Errorf("flags: %w", err)
		}
		k.Merge(fk)
		mark(FromFlag, fk.Keys())
	}
	if err := k.UnmarshalWithConf("", &l.Config, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// Validate reports settings no run can use.
func (c *Config) Validate() error {
	switch {
	case c.Cycles < 1:
		return fmt.Errorf("cycles = %d: want at least 1", c.Cycles)
	case c.Candidates < 1:
		return fmt.Errorf("candidates = %d: want at least 1 per cycle", c.Candidates)
	case c.Epochs < 1:
		return fmt.Errorf("epochs = %d: want at least 1", c.Epochs)
	case c.Admit <= 0:
		return fmt.Errorf("admit = %v: want a positive multiple of chance accuracy (LEMUR uses 1.2)", c.Admit)
	case c.Generator != "" && c.Generator != "evolve" && c.Generator != "llm":
		return fmt.Errorf("generator = %q: want evolve or llm", c.Generator)
	case c.Generator == "llm" && c.LLM.URL == "":
		return fmt.Errorf("generator llm needs llm.url (--llm http://localhost:11434/v1 --model NAME)")
	case c.LLM.URL != "" && c.LLM.Model == "" && c.GeneratorName() == "llm":
		return fmt.Errorf("llm.url is set but llm.model is not: pass --model NAME")
	case c.Recommender != "learned" && c.Recommender != "llm":
		return fmt.Errorf("recommender = %q: want learned or llm", c.Recommender)
	case c.Recommender == "llm" && (c.LLM.URL == "" || c.LLM.Model == ""):
		return fmt.Errorf("recommender llm needs llm.url and llm.model (--llm http://localhost:11434/v1 --model NAME)")
	case c.LLM.Selection != "best" && c.LLM.Selection != "random" && c.LLM.Selection != "diverse":
		return fmt.Errorf("llm.selection = %q: want best, random or diverse", c.LLM.Selection)
	case c.LLM.MaxRetries < 0 || c.LLM.Repairs < 0:
		return fmt.Errorf("llm.max_retries = %d, llm.repairs = %d: want 0 or more", c.LLM.MaxRetries, c.LLM.Repairs)
	}
	return nil
}

// RAGBlocks splits the rag setting: the named blocks, or all for every
// block that builds and runs forward.
func (c *Config) RAGBlocks() (names []string, all bool) {
	for _, n := range strings.Split(c.RAG, ",") {
		switch n = strings.TrimSpace(n); n {
		case "":
		case "all":
			all = true
		default:
			names = append(names, n)
		}
	}
	return names, all
}

// GeneratorName resolves the generator: llm when an endpoint is set.
func (c *Config) GeneratorName() string {
	if c.Generator != "" {
		return c.Generator
	}
	if c.LLM.URL != "" {
		return "llm"
	}
	return "evolve"
}

// Setting is one key of the effective configuration.
type Setting struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source Source `json:"source"`
}

// Settings lists every key with its value and origin, sorted by key.
func (l *Loaded) Settings() []Setting {
	keys := l.k.Keys()
	sort.Strings(keys)
	out := make([]Setting, 0, len(keys))
	for _, key := range keys {
		out = append(out, Setting{Key: key, Value: l.k.Get(key), Source: l.Origin[key]})
	}
	return out
}
