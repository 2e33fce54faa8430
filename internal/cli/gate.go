package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/workspace"
)

// gateLine is one file's verdict in --json output.
type gateLine struct {
	File     string          `json:"file"`
	Verdict  gate.Verdict    `json:"verdict"`
	Stage    string          `json:"stage"`
	Features *pyast.Features `json:"features,omitempty"`
}

func newGateCmd(g *globals) *cobra.Command {
	cfg := gate.DefaultConfig()
	var asJSON, noWorkspace, features bool
	var allow []string
	cmd := &cobra.Command{
		Use:   "gate MODEL.py...",
		Short: "Run the static gates and dedup on model files, without training",
		Long: `Check model files as the generation pipeline does before it spends any
training on them, in this order: size, syntax, the LEMUR contract, imports
(an allow-list), forbidden calls and downloads, torch 2.x-only APIs,
hyperparameters (every key supported_hyperparameters() returns must be read
from prm; no undeclared prm['key']), the estimated parameter count, then
dedup against the workspace's models, earlier accepted candidates and the
files before it on the command line (by LEMUR code id, normalised id and
structural fingerprint). The first failing check is the file's reason.
Nothing is trained, recorded or registered.

Exit status: 0 when every file passed, 2 when at least one was rejected or
is a duplicate, 1 for bad input.`,
		Example: `  nngpt gate candidates/*.py
  nngpt gate Net.py --features --json
  nngpt gate Net.py --allow-import einops --max-params 5e6`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg.AllowedImports = append(cfg.AllowedImports, allow...)
			var gt *gate.Gate
			var err error
			ws := ""
			if _, statErr := os.Stat(filepath.Join(g.workspace, workspace.DBName)); statErr == nil && !noWorkspace && !cfg.NoDedup {
				w, err := g.openWorkspace(ctx)
				if err != nil {
					return err
				}
				defer w.Store.Close()
				var stats gate.LoadStats
				gt, stats, err = gate.Open(ctx, w.Store, cfg, nil)
				if err != nil {
					return err
				}
				ws = fmt.Sprintf("dedup against %s: %d corpus models (%d ids computed now), %d earlier candidates", w.Dir, stats.Corpus, stats.Computed, stats.Candidates)
			} else {
				if gt, err = gate.New(cfg, nil, nil); err != nil {
					return err
				}
				if !cfg.NoDedup {
					ws = "no workspace database: dedup among the given files only"
				}
			}
			if ws != "" && !asJSON {
				fmt.Fprintln(g.stderr, ws)
			}
			counts := gate.Counts{}
			enc := json.NewEncoder(g.stdout)
			for _, path := range args {
				b, err := os.ReadFile(path)
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("%s: no such file: give paths of Python model files", path)
				}
				if err != nil {
					return err
				}
				name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
				v, err := gt.Check(ctx, gate.Candidate{Name: name, Code: string(b)})
				if err != nil {
					return err
				}
				counts.Add(v)
				if asJSON {
					line := gateLine{File: path, Verdict: v, Stage: v.Reason.Stage()}
					if features && v.Analysis != nil {
						line.Features = &v.Analysis.Features
					}
					if err := enc.Encode(line); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(g.stdout, "%s: %s\n", path, v)
				if features && v.Analysis != nil {
					f := v.Analysis.Features
					fmt.Fprintf(g.stdout, "  family %s, depth %d, params ~%.0f (%.0f%% of layers sized), max channels %.0f, code ids %s %s %s\n",
						f.Family, f.Depth, f.Params, 100*f.Resolved, f.MaxChannels, v.IDs.Code[:8], v.IDs.Normalised[:8], v.IDs.Structure[:8])
				}
			}
			if !asJSON {
				fmt.Fprintf(g.stdout, "%d files: %s; trainings saved by dedup: %d\n", counts.Total(), counts, counts.TrainingsSaved())
			}
			if counts.Rejected() > 0 {
				return &ExitError{Code: 2}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print one JSON object per file")
	f.BoolVar(&features, "features", false, "also print each file's code features (family, depth, parameters)")
	f.BoolVar(&noWorkspace, "no-workspace", false, "do not dedup against the workspace")
	f.BoolVar(&cfg.NoDedup, "no-dedup", false, "skip dedup entirely")
	f.StringSliceVar(&allow, "allow-import", nil, "also allow importing this top-level module (repeatable)")
	f.Float64Var(&cfg.MaxParams, "max-params", cfg.MaxParams, "reject models whose estimated parameter count exceeds this (0: no limit)")
	f.IntVar(&cfg.MaxBytes, "max-bytes", cfg.MaxBytes, "reject files larger than this")
	f.BoolVar(&cfg.StrictHyperparameters, "strict-hp", false, "a dynamic prm read (prm[k], **prm) does not count as reading the declared keys")
	return cmd
}
