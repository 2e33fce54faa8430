package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/nngpt/nngpt/store"
)

// Config is the loop's fine-tuning step.
type Config struct {
	// Command is the hook template (see Command); empty exports the data
	// only and keeps the model.
	Command string
	// Dir holds cycle-NNN.jsonl and cycle-NNN.log (e.g.
	// <workspace>/finetune/<loop id>).
	Dir string
	// Export selects the pairs. Its Seed is mixed with the cycle, so each
	// cycle draws fresh pairs from the grown corpus, reproducibly.
	Export Options
	// MinPairs skips the command when the export has fewer pairs
	// (0 means 1: never fine-tune on an empty file).
	MinPairs int
}

// Result is what one step did.
type Result struct {
	Cycle int    `json:"cycle"`
	Data  string `json:"data"`          // the JSONL written
	Log   string `json:"log,omitempty"` // the command's output, when it ran
	Stats Stats  `json:"stats"`
	Ran   bool   `json:"ran"`   // the command ran and succeeded
	Model string `json:"model"` // the model to use next (unchanged when the command did not run)
}

// Step exports the fine-tuning set after a cycle and, when a command is
// configured and there are enough pairs, runs it; the model it names is
// the one the next cycle generates with.
func Step(ctx context.Context, c store.Corpus, cfg Config, cycle int, model string) (Result, error) {
	if cfg.Dir == "" {
		return Result{}, fmt.Errorf("finetune: no folder for the fine-tuning data (Config.Dir)")
	}
	res := Result{Cycle: cycle, Data: filepath.Join(cfg.Dir, fmt.Sprintf("cycle-%03d.jsonl", cycle)), Model: model}
	opt := cfg.Export
	opt.Seed ^= int64(uint64(cycle) * 0x9e3779b97f4a7c15)
	var err error
	res.Stats, err = ExportFile(ctx, c, res.Data, opt)
	if err != nil {
		return res, err
	}
	minPairs := max(cfg.MinPairs, 1)
	if cfg.Command == "" {
		return res, nil
	}
	if res.Stats.Pairs < minPairs {
		slog.Info("fine-tune command skipped: too few pairs", "cycle", cycle, "pairs", res.Stats.Pairs, "min", minPairs)
		return res, nil
	}
	res.Log = filepath.Join(cfg.Dir, fmt.Sprintf("cycle-%03d.log", cycle))
	f, err := os.Create(res.Log)
	if err != nil {
		return res, fmt.Errorf("finetune: log: %w", err)
	}
	defer f.Close()
	next, err := RunHook(ctx, cfg.Command, Vars{Data: res.Data, Cycle: cycle, Model: model, Pairs: res.Stats.Pairs}, f)
	if err != nil {
		return res, fmt.Errorf("cycle %d: %w (full output in %s)", cycle, err, res.Log)
	}
	res.Ran, res.Model = true, next
	// Record the outcome last, so a resumed loop finds the model of the
	// newest step that finished and never one that was cut short.
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := writeAtomic(filepath.Join(cfg.Dir, fmt.Sprintf("cycle-%03d.json", cycle)), append(b, '\n')); err != nil {
		return res, fmt.Errorf("finetune: record cycle %d: %w", cycle, err)
	}
	return res, nil
}

// Latest returns the newest step in dir whose command finished, so a
// resumed loop goes on with the model it named; ok is false when none did.
func Latest(dir string) (res Result, ok bool, err error) {
	names, err := filepath.Glob(filepath.Join(dir, "cycle-*.json"))
	if err != nil || len(names) == 0 {
		return Result{}, false, err
	}
	newest, best := "", -1
	for _, n := range names {
		var c int
		// By number, not name: cycle-1000 comes after cycle-999.
		if _, err := fmt.Sscanf(filepath.Base(n), "cycle-%d.json", &c); err == nil && c > best {
			newest, best = n, c
		}
	}
	if newest == "" {
		return Result{}, false, nil
	}
	b, err := os.ReadFile(newest)
	if err != nil {
		return Result{}, false, fmt.Errorf("finetune: %w", err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return Result{}, false, fmt.Errorf("finetune: %s: %w", newest, err)
	}
	return res, true, nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
