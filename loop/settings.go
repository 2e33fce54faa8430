package loop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/synth"
)

// SettingsVersion is the version of Settings this nngpt writes. Raise it
// when a field is renamed or changes meaning, and teach DecodeSettings to
// migrate the older form.
const SettingsVersion = 1

// Settings are a loop's settings: what the journal stores with the loop and
// what a resumed loop is rebuilt from. The JSON names are the setting keys
// of nngpt.yaml, NNGPT_* and the flags (package config), so one name means
// one setting everywhere. Where the machine runs it (python, sandbox,
// workers, device) is not part of it: a loop may resume on another machine.
type Settings struct {
	Version     int     `json:"version"`
	Cycles      int     `json:"cycles"`      // cycles to run
	Candidates  int     `json:"candidates"`  // candidates generated per cycle
	Epochs      int     `json:"epochs"`      // training epochs per candidate
	Seed        int64   `json:"seed"`        // 0: random, recorded
	Generator   string  `json:"generator"`   // evolve or llm ("": llm when llm.url is set, else evolve)
	RAG         string  `json:"rag"`         // library blocks to build candidates around: names, comma-separated, or all
	Recommender string  `json:"recommender"` // hyperparameters of candidates that bring none usable: learned, or llm (then learned)
	Task        string  `json:"task"`
	Dataset     string  `json:"dataset"`
	Metric      string  `json:"metric"`
	Admit       float64 `json:"admit"`      // admission threshold as a multiple of chance accuracy
	MaxParams   int64   `json:"max_params"` // parameter limit per model
	Batch       int     `json:"batch"`      // batch size when the generator gives none

	Data      Data      `json:"data"`
	LLM       LLM       `json:"llm"`
	Evolve    Evolve    `json:"evolve"`
	EarlyStop EarlyStop `json:"early_stop"`
	Screen    Screen    `json:"screen"`
	Finetune  Finetune  `json:"finetune"`
}

// Data says where datasets come from and how big the built-in one is.
type Data struct {
	Dir      string `json:"dir"`      // folder with CIFAR/MNIST/SVHN files (env NNGPT_DATA)
	Download bool   `json:"download"` // let torchvision fetch missing files
	Train    int    `json:"train"`    // shapes: training images
	Test     int    `json:"test"`     // shapes: test images
	Size     int    `json:"size"`     // shapes: image side in pixels
}

// LLM is the OpenAI-compatible endpoint used by the llm generator.
type LLM struct {
	URL           string        `json:"url"`
	Model         string        `json:"model"`
	Temperature   float64       `json:"temperature"`
	TopP          float64       `json:"top_p"`
	MaxTokens     int           `json:"max_tokens"`
	ContextLength int           `json:"context_length"`
	Timeout       time.Duration `json:"timeout"`
	Shots         int           `json:"shots"`
	Selection     string        `json:"selection"`   // n-shot examples: best, random or diverse
	MaxRetries    int           `json:"max_retries"` // retries of a failed request (rate limits, 5xx, dropped streams)
	Repairs       int           `json:"repairs"`     // repair prompts per rejected candidate (0: none)
}

// Evolve tunes the built-in generator.
type Evolve struct {
	// Learn adapts the operator weights to the loop's outcomes before each
	// cycle (evolve.LearnPolicy).
	Learn bool `json:"learn"`
}

// EarlyStop stops hopeless runs between epochs.
type EarlyStop struct {
	Enabled    bool `json:"enabled"`
	AfterEpoch int  `json:"after_epoch"`
}

// Screen skips, before training, candidates the workspace's zero-shot
// predictor (`nngpt predict train --k 0`) expects to end below the bar or
// far below their peers; a share is trained anyway to measure the cost.
type Screen struct {
	Enabled bool    `json:"enabled"`
	Explore float64 `json:"explore"` // share of screened candidates trained anyway
}

// Finetune exports NNGPT's fine-tuning pairs after each cycle and runs a
// command that trains the next generator.
type Finetune struct {
	Export  bool   `json:"export"`
	Command string `json:"command"` // text/template over .Data .Cycle .Model; last output line names the next model
}

// DefaultSettings is the offline default: evolve on the built-in shapes
// dataset, 3 cycles of 8 candidates for 1 epoch each.
func DefaultSettings() Settings {
	return Settings{
		Version: SettingsVersion,
		Cycles:  3, Candidates: 8, Epochs: 1, Recommender: "learned", Task: "img-classification", Dataset: "shapes", Metric: "acc",
		Admit: lemur.AdmitFactor, MaxParams: lemur.DefaultMaxParams, Batch: 64,
		Data: Data{Train: 5000, Test: 1000, Size: 32},
		LLM: LLM{Temperature: 0.7, TopP: 0.95, MaxTokens: 4096, ContextLength: 16384, Timeout: 5 * time.Minute, Shots: 3,
			Selection: "best", MaxRetries: 4, Repairs: 3},
		Evolve:    Evolve{Learn: true},
		EarlyStop: EarlyStop{Enabled: true, AfterEpoch: 2},
		Screen:    Screen{Enabled: true, Explore: 0.1},
	}
}

// GeneratorName resolves the generator: llm when an endpoint is set.
func (s *Settings) GeneratorName() string {
	if s.Generator != "" {
		return s.Generator
	}
	if s.LLM.URL != "" {
		return "llm"
	}
	return "evolve"
}

// RAGBlocks splits the rag setting: the named blocks, or all for every
// block that builds and runs forward.
func (s *Settings) RAGBlocks() (names []string, all bool) {
	for _, n := range strings.Split(s.RAG, ",") {
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

// Request is what a loop with these settings asks its generator for.
func (s *Settings) Request(n int, seed int64) synth.Request {
	return synth.Request{N: n, Task: s.Task, Dataset: s.Dataset, Metric: s.Metric, Shots: s.LLM.Shots, Epochs: s.Epochs, Seed: seed}
}

// Validate reports settings no loop can use.
func (s *Settings) Validate() error {
	switch {
	case s.Cycles < 1:
		return fmt.Errorf("cycles = %d: want at least 1", s.Cycles)
	case s.Candidates < 1:
		return fmt.Errorf("candidates = %d: want at least 1 per cycle", s.Candidates)
	case s.Epochs < 1:
		return fmt.Errorf("epochs = %d: want at least 1", s.Epochs)
	case s.Batch < 1:
		return fmt.Errorf("batch = %d: want at least 1", s.Batch)
	case s.Admit <= 0:
		return fmt.Errorf("admit = %v: want a positive multiple of chance accuracy (LEMUR uses %v)", s.Admit, lemur.AdmitFactor)
	case s.Generator != "" && s.Generator != "evolve" && s.Generator != "llm":
		return fmt.Errorf("generator = %q: want evolve or llm", s.Generator)
	case s.Generator == "llm" && s.LLM.URL == "":
		return fmt.Errorf("generator llm needs llm.url (--llm http://localhost:11434/v1 --model NAME)")
	case s.LLM.URL != "" && s.LLM.Model == "" && s.GeneratorName() == "llm":
		return fmt.Errorf("llm.url is set but llm.model is not: pass --model NAME")
	case s.Recommender != "learned" && s.Recommender != "llm":
		return fmt.Errorf("recommender = %q: want learned or llm", s.Recommender)
	case s.Recommender == "llm" && (s.LLM.URL == "" || s.LLM.Model == ""):
		return fmt.Errorf("recommender llm needs llm.url and llm.model (--llm http://localhost:11434/v1 --model NAME)")
	case s.LLM.Selection != "best" && s.LLM.Selection != "random" && s.LLM.Selection != "diverse":
		return fmt.Errorf("llm.selection = %q: want best, random or diverse", s.LLM.Selection)
	case s.LLM.MaxRetries < 0 || s.LLM.Repairs < 0:
		return fmt.Errorf("llm.max_retries = %d, llm.repairs = %d: want 0 or more", s.LLM.MaxRetries, s.LLM.Repairs)
	}
	if _, err := lemur.TrainableDataset(s.Dataset); err != nil {
		return err
	}
	if names, all := s.RAGBlocks(); all && len(names) > 0 {
		return fmt.Errorf("rag = %q: all already holds every usable block; give names or all, not both", s.RAG)
	}
	return nil
}

// Portable are the settings that say where things are rather than what a
// loop computes: a resumed loop takes them anew (its data folder may have
// moved, its LLM server may listen elsewhere) instead of refusing.
var Portable = []string{"data.dir", "data.download", "llm.url", "llm.timeout", "llm.max_retries"}

// Flatten lists the settings by key ("llm.url") with their JSON values, the
// form in which two settings are compared.
func (s Settings) Flatten() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	flatten("", reflect.ValueOf(s), out)
	return out
}

func flatten(prefix string, v reflect.Value, out map[string]json.RawMessage) {
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || name == "version" {
			continue
		}
		key := prefix + name
		if f := v.Field(i); f.Kind() == reflect.Struct {
			flatten(key+".", f, out)
		} else {
			b, _ := json.Marshal(f.Interface())
			out[key] = b
		}
	}
}

// Difference is one setting on which two Settings disagree.
type Difference struct {
	Key          string
	Stored, Want json.RawMessage
}

// Diff lists the keys among keys whose values differ between s and other,
// in key order.
func (s Settings) Diff(other Settings, keys []string) []Difference {
	a, b := s.Flatten(), other.Flatten()
	keys = slices.Sorted(slices.Values(keys))
	var out []Difference
	for _, k := range keys {
		va, ok := a[k]
		if !ok {
			continue
		}
		if !bytes.Equal(va, b[k]) {
			out = append(out, Difference{Key: k, Stored: va, Want: b[k]})
		}
	}
	return out
}

// EncodeSettings is the journal's form of s (at SettingsVersion).
func EncodeSettings(s Settings) (string, error) {
	s.Version = SettingsVersion
	b, err := json.Marshal(s)
	return string(b), err
}

// DecodeSettings reads a journal's settings, migrating older forms.
func DecodeSettings(raw string) (Settings, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal([]byte(raw), &head); err != nil {
		return Settings{}, fmt.Errorf("stored settings unreadable: %w", err)
	}
	switch head.Version {
	case 0:
		return decodeV0(raw)
	case SettingsVersion:
		s := DefaultSettings()
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return Settings{}, fmt.Errorf("stored settings unreadable: %w", err)
		}
		return s, nil
	}
	return Settings{}, fmt.Errorf("stored settings have version %d; this nngpt reads up to %d: resume it with a newer nngpt, or start a new loop with --new", head.Version, SettingsVersion)
}

// settingsV0 is what nngpt stored before Settings existed: the CLI's
// configuration struct under its Go field names (durations in ns).
type settingsV0 struct {
	Cycles, Candidates, Epochs, Batch int
	Seed, MaxParams                   int64
	Generator, RAG, Recommender       string
	Task, Dataset, Metric             string
	Admit                             float64
	Data                              struct {
		Dir               string
		Download          bool
		Train, Test, Size int
	}
	LLM struct {
		URL, Model               string
		Temperature, TopP        float64
		MaxTokens, ContextLength int
		Timeout                  time.Duration
		Shots                    int
		Selection                string
		MaxRetries, Repairs      int
	}
	Evolve    struct{ Learn bool }
	EarlyStop struct {
		Enabled    bool
		AfterEpoch int
	}
	Finetune struct {
		Export  bool
		Command string
	}
}

func decodeV0(raw string) (Settings, error) {
	var o settingsV0
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		return Settings{}, fmt.Errorf("stored settings (version 0) unreadable: %w", err)
	}
	s := DefaultSettings()
	// Fields a version-0 journal may lack keep the defaults they had then.
	setInt := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	setInt(&s.Cycles, o.Cycles)
	setInt(&s.Candidates, o.Candidates)
	setInt(&s.Epochs, o.Epochs)
	setInt(&s.Batch, o.Batch)
	s.Seed, s.Generator, s.RAG = o.Seed, o.Generator, o.RAG
	if o.Recommender != "" {
		s.Recommender = o.Recommender
	}
	if o.Task != "" {
		s.Task, s.Dataset, s.Metric = o.Task, o.Dataset, o.Metric
	}
	if o.Admit != 0 {
		s.Admit = o.Admit
	}
	if o.MaxParams != 0 {
		s.MaxParams = o.MaxParams
	}
	s.Data = Data{Dir: o.Data.Dir, Download: o.Data.Download, Train: o.Data.Train, Test: o.Data.Test, Size: o.Data.Size}
	l := o.LLM
	s.LLM = LLM{URL: l.URL, Model: l.Model, Temperature: l.Temperature, TopP: l.TopP, MaxTokens: l.MaxTokens,
		ContextLength: l.ContextLength, Timeout: l.Timeout, Shots: l.Shots, Selection: l.Selection,
		MaxRetries: l.MaxRetries, Repairs: l.Repairs}
	if s.LLM.Selection == "" {
		s.LLM.Selection = "best"
	}
	s.Evolve.Learn = o.Evolve.Learn
	s.EarlyStop = EarlyStop{Enabled: o.EarlyStop.Enabled, AfterEpoch: o.EarlyStop.AfterEpoch}
	s.Finetune = Finetune{Export: o.Finetune.Export, Command: o.Finetune.Command}
	s.Version = SettingsVersion
	return s, nil
}
