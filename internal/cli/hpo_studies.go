package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/report"
)

// studySummary is one study as `nngpt hpo studies` lists it.
type studySummary struct {
	Name      string            `json:"name"`
	Sampler   string            `json:"sampler"`
	Direction string            `json:"direction"`
	Seed      uint64            `json:"seed"`
	Attrs     map[string]string `json:"attrs,omitempty"`
	Trials    int               `json:"trials"`
	States    map[string]int    `json:"states"`
	Best      *int              `json:"best_trial,omitempty"`
	Value     *float64          `json:"best_accuracy,omitempty"`
}

func summarise(info hpo.StudyInfo, ts []hpo.Trial) studySummary {
	s := studySummary{Name: info.Name, Sampler: info.Sampler, Direction: string(info.Direction), Seed: info.Seed,
		Attrs: info.Attrs, Trials: len(ts), States: map[string]int{}}
	for _, t := range ts {
		s.States[string(t.State)]++
	}
	if best, ok, _ := hpo.BestOf(ts, info.Direction); ok {
		n, v := best.Number, best.Value
		s.Best, s.Value = &n, &v
	}
	return s
}

func newHPOStudiesCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "studies",
		Short: "List the workspace's hyperparameter studies with their trial counts and best accuracy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			storage := hpo.StoreStorage{S: ws.Store}
			infos, err := storage.Studies(ctx)
			if err != nil {
				return err
			}
			var rows []studySummary
			for _, info := range infos {
				ts, err := storage.Trials(ctx, info.Name)
				if err != nil {
					return err
				}
				rows = append(rows, summarise(info, ts))
			}
			if asJSON {
				return writeJSON(g, map[string]any{"studies": rows})
			}
			if len(rows) == 0 {
				fmt.Fprintln(g.stdout, "no study yet: `nngpt hpo MODEL.py` starts one")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "study\tmodel\tdataset\tepochs\tsampler\ttrials\tcomplete\tpruned\tfailed\tbest")
			for _, r := range rows {
				best := "-"
				if r.Value != nil {
					best = fmt.Sprintf("%.4f (trial %d)", *r.Value, *r.Best)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Name, orDash(r.Attrs["model"]), orDash(r.Attrs["dataset"]),
					orDash(r.Attrs["epochs"]), r.Sampler, r.Trials, r.States[string(hpo.Complete)], r.States[string(hpo.Pruned)],
					r.States[string(hpo.Failed)], best)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the studies as one JSON object")
	return cmd
}

func newHPOShowCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show STUDY",
		Short: "Show one study: its space, every trial with its state, accuracy per epoch and source, and the best",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			info, ts, err := loadStudy(ctx, hpo.StoreStorage{S: ws.Store}, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				type trialRow struct {
					hpo.Trial
					Params map[string]any `json:"params"`
					Value  *float64       `json:"value,omitempty"`
				}
				rows := make([]trialRow, len(ts))
				for i, t := range ts {
					rows[i] = trialRow{Trial: t, Params: dictMap(t.Params)}
					if !math.IsNaN(t.Value) && (t.State == hpo.Complete || t.State == hpo.Pruned) {
						v := t.Value
						rows[i].Value = &v
					}
				}
				return writeJSON(g, map[string]any{"study": summarise(info, ts), "space": info.Space, "trials": rows,
					"objectives": info.Objectives, "pareto": paretoRows(info, ts)})
			}
			w := g.stdout
			s := summarise(info, ts)
			fmt.Fprintf(w, "study %s: sampler %s, seed %d, %s accuracy", s.Name, s.Sampler, s.Seed, s.Direction)
			for _, k := range []string{"model", "dataset", "epochs"} {
				if v := s.Attrs[k]; v != "" {
					fmt.Fprintf(w, ", %s %s", k, v)
				}
			}
			fmt.Fprintf(w, "\nspace:\n%s", info.Space)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "trial\tstate\taccuracy\tper epoch\tsource\ttime\tparams\tnote")
			for _, t := range ts {
				acc := "-"
				if !math.IsNaN(t.Value) && (t.State == hpo.Complete || t.State == hpo.Pruned) {
					acc = fmt.Sprintf("%.4f", t.Value)
				}
				var steps []string
				for _, st := range t.Intermediate {
					steps = append(steps, fmt.Sprintf("%.3f", st.Value))
				}
				took := "-"
				if !t.Finished.IsZero() && !t.Started.IsZero() {
					took = t.Finished.Sub(t.Started).Round(100 * time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, t.State, acc, orDash(strings.Join(steps, " ")),
					t.Source, took, fmtParams(t.Params), t.Note)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			writePareto(w, info, ts)
			best, ok, _ := hpo.BestOf(ts, info.Direction)
			if !ok {
				fmt.Fprintln(w, "no trial has completed yet")
				return nil
			}
			fmt.Fprintf(w, "best: trial %d, accuracy %.4f: %s\n", best.Number, best.Value, fmtParams(best.Params))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the study as one JSON object")
	return cmd
}

func newHPOReportCmd(g *globals) *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "report STUDY",
		Short: "Plot one study: optimisation history, parallel coordinates, parameter importance and the Pareto front (PNG and SVG)",
		Long: `Draw a study with the plotting code of the loop's report: history.png
(each trial's accuracy by trial number and the best so far), parallel.png
(parallel coordinates of the parameters and the objective, the best tenth in
colour), importance.png (the share of the objective's variance each
parameter explains alone) and, for a multi-objective study, pareto-<name>.png
per further objective; each also as SVG. --out defaults to the workspace's
reports/hpo-<STUDY>/.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			info, ts, err := loadStudy(ctx, hpo.StoreStorage{S: ws.Store}, args[0])
			if err != nil {
				return err
			}
			dir := out
			if dir == "" {
				dir = ws.Path("reports", "hpo-"+safeStudyName(info.Name))
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", dir, err)
			}
			stems, err := report.WriteStudy(dir, &info, ts)
			if err != nil {
				return err
			}
			var files []string
			for _, s := range stems {
				files = append(files, filepath.Join(dir, s+".png"), filepath.Join(dir, s+".svg"))
			}
			if asJSON {
				return writeJSON(g, map[string]any{"study": info.Name, "dir": dir, "files": files,
					"importance": hpo.Importance(&info, ts), "pareto": paretoRows(info, ts)})
			}
			fmt.Fprintf(g.stdout, "wrote %d plots of study %s to %s\n", len(stems), info.Name, dir)
			for _, f := range files {
				fmt.Fprintln(g.stdout, "  "+f)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "folder for the plots (default: the workspace's reports/hpo-STUDY)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the files, importances and Pareto front as JSON")
	return cmd
}

// safeStudyName keeps a study name usable as a folder name.
func safeStudyName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

// loadStudy finds a stored study by name.
func loadStudy(ctx context.Context, storage hpo.StoreStorage, name string) (hpo.StudyInfo, []hpo.Trial, error) {
	infos, err := storage.Studies(ctx)
	if err != nil {
		return hpo.StudyInfo{}, nil, err
	}
	var names []string
	for _, info := range infos {
		if info.Name == name {
			ts, err := storage.Trials(ctx, name)
			return info, ts, err
		}
		names = append(names, info.Name)
	}
	if len(names) == 0 {
		return hpo.StudyInfo{}, nil, fmt.Errorf("no study %q: the workspace has no study yet (`nngpt hpo MODEL.py` starts one)", name)
	}
	return hpo.StudyInfo{}, nil, fmt.Errorf("no study %q; the workspace has: %s", name, strings.Join(names, ", "))
}

// paretoRow is one trial of a multi-objective study's Pareto front.
type paretoRow struct {
	Trial  int                `json:"trial"`
	Values map[string]float64 `json:"values"`
	Params map[string]any     `json:"params"`
}

// paretoRows is the study's Pareto front (nil for one objective).
func paretoRows(info hpo.StudyInfo, ts []hpo.Trial) []paretoRow {
	if !info.MultiObjective() {
		return nil
	}
	var out []paretoRow
	for _, t := range hpo.ParetoTrials(ts, info.Objectives) {
		r := paretoRow{Trial: t.Number, Values: map[string]float64{}, Params: dictMap(t.Params)}
		for i, o := range info.Objectives {
			r.Values[o.Name] = t.Values[i]
		}
		out = append(out, r)
	}
	return out
}

// writePareto prints a multi-objective study's Pareto front, best first
// objective first.
func writePareto(w io.Writer, info hpo.StudyInfo, ts []hpo.Trial) {
	if !info.MultiObjective() {
		return
	}
	front := hpo.ParetoTrials(ts, info.Objectives)
	sort.SliceStable(front, func(i, j int) bool {
		if info.Objectives[0].Direction == hpo.Maximize {
			return front[i].Values[0] > front[j].Values[0]
		}
		return front[i].Values[0] < front[j].Values[0]
	})
	var names []string
	for _, o := range info.Objectives {
		names = append(names, o.Name+" ("+string(o.Direction)[:3]+")")
	}
	fmt.Fprintf(w, "Pareto front: %d of %d trials (%s)\n", len(front), len(ts), strings.Join(names, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trial\t"+strings.Join(names, "\t")+"\tparams")
	for _, t := range front {
		row := []string{fmt.Sprint(t.Number)}
		for _, v := range t.Values {
			row = append(row, fmt.Sprintf("%.4g", v))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t"+fmtParams(t.Params))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
