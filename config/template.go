package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Template is the commented nngpt.yaml that `nngpt init` writes. Every
// value is the built-in default, so an untouched file changes nothing.
const Template = `# nngpt.yaml: settings of ` + "`nngpt run`" + `. Precedence: built-in defaults <
# this file < NNGPT_* environment variables (NNGPT_LLM_URL, NNGPT_CYCLES, ...)
# < command-line flags. ` + "`nngpt config`" + ` prints the effective values and where
# each came from.

# Budget: cycles of generate -> gate -> train -> record -> grow the corpus.
cycles: 3               # cycles to run
candidates: 8           # candidates generated per cycle
epochs: 1               # training epochs per candidate
time_budget: 0s         # stop starting new work after this long (0s: no limit), e.g. 2h
seed: 0                 # 0: pick one at random (it is recorded for reproduction)

# What the candidates are for. shapes is built in (procedural 32x32 images,
# 10 classes); cifar-10, cifar-100, mnist, fashion-mnist and svhn are read
# from data.dir.
task: img-classification
dataset: shapes
metric: acc
admit: 1.2              # a model joins the corpus when accuracy > admit x chance

# Generator: evolve (built-in mutation and crossover, no LLM) or llm.
# Empty: llm when llm.url is set, else evolve.
generator: ""
# NN-RAG: build candidates around blocks of the library (` + "`nngpt rag list`" + `), each
# candidate around the next: llm asks for a Net around the block, evolve inserts
# it into a corpus model. Comma-separated names, or all (every block that
# builds and runs forward); "": none.
rag: ""
# Hyperparameters of candidates that bring none usable (evolve's are its
# parent's; an LLM's <hp> is used when it fits): learned (what worked for
# similar models in the corpus) or llm (the HPGPT prompt to llm.url; the
# learned recommender answers when the LLM's proposal is refused).
recommender: learned

# Where this machine runs it: not stored with a loop, so a loop may resume
# elsewhere.
workers: 0              # trainings at once (0: fit the cores)
device: cpu             # cpu, cuda or cuda:N
python: ""              # a python3 that can import torch ("": search PATH and /usr/bin/python3)
sandbox: auto           # auto (bubblewrap where it runs, else limits only, loudly), bwrap (required),
                        # none (limits only; must be given on the command line: --sandbox none)
cache_dir: ""           # worker code and prepared datasets (env NNGPT_CACHE; "": the user cache folder)
max_params: 5000000     # parameter limit per model
batch: 64               # batch size when the generator proposes none

data:
  dir: ""               # folder with the standard dataset files (env NNGPT_DATA)
  download: false       # let torchvision download missing files (needs network)
  train: 5000           # shapes: training images
  test: 1000            # shapes: test images
  size: 32              # shapes: image side in pixels

# Any OpenAI-compatible server: vLLM, llama.cpp server, Ollama's /v1, hosted
# APIs. The API key comes from NNGPT_LLM_API_KEY or OPENAI_API_KEY.
llm:
  url: ""               # e.g. http://localhost:11434/v1
  model: ""             # e.g. qwen2.5-coder:7b
  temperature: 0.7
  top_p: 0.95
  max_tokens: 4096
  context_length: 16384 # the server's context window: prompts are fitted to it, never cut silently
  timeout: 5m
  shots: 3              # supporting models in an n-shot prompt
  selection: best       # which corpus models the n-shot prompt shows: best, random or diverse
  max_retries: 4        # retries of a failed request (rate limits, server errors, dropped streams)
  repairs: 3            # repair prompts per candidate the gates reject (0: none)

evolve:
  learn: true           # adapt operator weights to outcomes: before each cycle, the loop's earlier
                        # evolve candidates credit their operators (-1 rejected or failed, -0.5 pruned,
                        # the accuracy's rank among the loop's trained candidates, -1 to +1, when trained)

early_stop:
  enabled: true         # stop runs predicted to miss the corpus's bar (needs epochs > after_epoch)
  after_epoch: 2

finetune:
  export: false         # write NNGPT's fine-tuning pairs (chat JSONL) after each cycle
  command: ""           # run after each cycle; template over {{.Data}} {{.Cycle}} {{.Model}};
                        # its last output line names the model to use next
`

// WriteTemplate writes Template into dir unless a file is already there.
func WriteTemplate(dir string, force bool) (string, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err == nil && !force {
		return path, fmt.Errorf("%s exists: edit it, or pass --force to overwrite it", path)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return path, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return path, err
	}
	return path, os.WriteFile(path, []byte(Template), 0o644)
}

// durationKeys print as durations rather than nanoseconds.
var durationKeys = map[string]bool{"time_budget": true, "llm.timeout": true}

// Display formats a setting's value for people.
func (s Setting) Display() string {
	switch v := s.Value.(type) {
	case float64: // the defaults' JSON numbers
		if durationKeys[s.Key] {
			return time.Duration(v).String()
		}
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
	case int64:
		if durationKeys[s.Key] {
			return time.Duration(v).String()
		}
	case time.Duration:
		return v.String()
	case string:
		if v == "" {
			return `""`
		}
	}
	return fmt.Sprint(s.Value)
}
