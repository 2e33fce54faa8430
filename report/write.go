package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// File names inside a report folder.
const (
	MarkdownFile = "report.md"
	JSONFile     = "report.json"
	CurvesDir    = "curves"
	plotCycles   = "accuracy_per_cycle"
	plotParams   = "accuracy_vs_params"
	plotCurves   = "learning_curves"
	plotOutcomes = "outcomes_per_cycle"
)

// MaxCurves caps the per-model learning-curve files (the best admitted
// models get one); a long loop would otherwise write thousands of images.
const MaxCurves = 100

// overviewTop is how many models the overview learning-curve plot shows;
// more lines than this cannot be told apart.
const overviewTop = 10

// embedCurves is how many per-model curves report.md shows inline; the rest
// are linked.
const embedCurves = 12

// Write writes the report into dir (created when missing): report.md,
// report.json, the plots as PNG and SVG, and curves/ with one learning curve
// per admitted model. Files from an earlier report of the same loop are
// replaced.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, CurvesDir), 0o755); err != nil {
		return fmt.Errorf("report: create %s: %w", dir, err)
	}
	// Curves of models that left the top MaxCurves would linger otherwise.
	old, _ := filepath.Glob(filepath.Join(dir, CurvesDir, "*"))
	for _, f := range old {
		if ext := filepath.Ext(f); ext == ".png" || ext == ".svg" {
			os.Remove(f)
		}
	}
	plots := map[string]string{} // plot name -> file stem, for the Markdown
	save := func(stem string, f *figure, err error) error {
		if err != nil {
			return fmt.Errorf("report: plot %s: %w", stem, err)
		}
		if f == nil {
			return nil
		}
		if err := writeFile(filepath.Join(dir, stem+".png"), f.writePNG); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, stem+".svg"), f.writeSVG); err != nil {
			return err
		}
		plots[stem] = stem
		return nil
	}
	f, err := r.plotOutcomes()
	if err := save(plotOutcomes, f, err); err != nil {
		return err
	}
	if len(r.Trained) > 0 {
		f, err := r.plotCycles()
		if err := save(plotCycles, f, err); err != nil {
			return err
		}
		f, err = r.plotParams()
		if err := save(plotParams, f, err); err != nil {
			return err
		}
		f, err = r.plotCurves(overviewTop)
		if err := save(plotCurves, f, err); err != nil {
			return err
		}
	}
	// The curves are independent: draw them on every core.
	es := r.Leaderboard[:min(MaxCurves, len(r.Leaderboard))]
	errs := make([]error, len(es))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, e := range es {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f, err := r.plotCurve(e)
			if err == nil {
				err = writeFile(filepath.Join(dir, curveStem(e)+".png"), f.writePNG)
			}
			if err == nil {
				err = writeFile(filepath.Join(dir, curveStem(e)+".svg"), f.writeSVG)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("report: learning curves: %w", err)
	}
	if err := writeFile(filepath.Join(dir, MarkdownFile), func(w io.Writer) error { return r.Markdown(w, plots) }); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, JSONFile), r.JSON)
}

// curveStem is the path, relative to the report folder and without
// extension, of a model's learning curve.
func curveStem(e Entry) string {
	return CurvesDir + "/" + fmt.Sprintf("%03d-%s", e.Rank, safeName(e.Name))
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

// writeFile writes through a temporary file and renames it, so a reader
// (or a killed run) never sees half a file.
func writeFile(path string, fill func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fill(&buf); err != nil {
		return fmt.Errorf("report: render %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return nil
}

// Markdown writes report.md; plots names the plot files that exist (stem
// -> stem) so it only embeds what was drawn.
func (r *Report) Markdown(w io.Writer, plots map[string]string) error {
	ew := &errWriter{w: w}
	l := r.Loop
	fmt.Fprintf(ew, "# nngpt loop `%s`\n\n", l.ID)
	fmt.Fprintf(ew, "Status **%s**, seed %d, %d of %d cycles finished. Started %s, last update %s; report written %s.\n\n",
		l.Status, l.Seed, l.CycleDone, l.Cycles, stamp(l.Created), stamp(l.Updated), stamp(r.Generated))
	if len(r.Tasks) > 0 {
		fmt.Fprintf(ew, "Task: %s. ", strings.Join(r.Tasks, "; "))
	}
	if len(r.Generators) > 0 {
		fmt.Fprintf(ew, "Generator: %s.", strings.Join(r.Generators, ", "))
	}
	fmt.Fprint(ew, "\n\n## Summary\n\n")
	t := r.Total
	fmt.Fprintln(ew, "| | |\n|---|---:|")
	rows := [][2]string{
		{"candidates generated", fmt.Sprint(t.Generated)},
		{"rejected by the gates", fmt.Sprint(t.Rejected)},
		{"duplicates skipped (trainings saved)", fmt.Sprint(t.Duplicates)},
		{"failed in the worker", fmt.Sprint(t.Failed)},
		{"pruned early", fmt.Sprint(t.Pruned)},
		{"screened before training", fmt.Sprintf("%d (%d more trained anyway to measure the cost)", t.Screened, t.Explored)},
		{"trained to the end", fmt.Sprint(t.Trained)},
		{"admitted to the corpus", fmt.Sprint(t.Admitted)},
		{"valid rate (admitted / finished)", pct(t.ValidRate, t.Generated-t.Pending)},
		{"mean accuracy of trained", acc(t.Mean, t.Trained)},
		{"best accuracy", acc(t.Best, t.Trained)},
		{"training time (sum)", Dur(t.TrainTime)},
	}
	if t.Pending > 0 {
		rows = append(rows, [2]string{"not finished (interrupted or running)", fmt.Sprint(t.Pending)})
	}
	if r.Threshold > 0 {
		rows = append(rows, [2]string{"admission accuracy", fmt.Sprintf("%.4f", r.Threshold)})
	}
	for _, row := range rows {
		fmt.Fprintf(ew, "| %s | %s |\n", row[0], row[1])
	}
	if len(r.References) > 0 {
		fmt.Fprint(ew, "\nThe rest of the corpus on the same task (each model's best run at the same epoch, this loop's models left out):\n\n")
		fmt.Fprintln(ew, "| task | dataset | metric | epoch | models | median | best | best model |")
		fmt.Fprintln(ew, "|---|---|---|---:|---:|---:|---:|---|")
		for _, ref := range r.References {
			fmt.Fprintf(ew, "| %s | %s | %s | %d | %d | %.4f | %.4f | `%s` |\n", ref.Task, ref.Dataset, ref.Metric, ref.Epoch,
				ref.Models, ref.Median, ref.Best, ref.BestNN)
		}
	}
	if len(r.Cycles) > 0 {
		fmt.Fprint(ew, "\n## Per cycle\n\n")
		fmt.Fprintln(ew, "| cycle | generated | rejected | duplicates | failed | pruned | trained | admitted | valid rate | mean acc | best acc | train time |")
		fmt.Fprintln(ew, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, c := range r.Cycles {
			fmt.Fprintf(ew, "| %d | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s |\n", c.Cycle, c.Generated, c.Rejected,
				c.Duplicates, c.Failed, c.Pruned, c.Trained, c.Admitted, pct(c.ValidRate, c.Generated-c.Pending),
				acc(c.Mean, c.Trained), acc(c.Best, c.Trained), Dur(c.TrainTime))
		}
	}
	r.markdownReasons(ew)
	if len(r.Operators) > 0 {
		fmt.Fprint(ew, "\n## Operators\n\nHow the candidates each kind of generator operator made fared (a candidate counts once per kind it used).\n\n")
		fmt.Fprintln(ew, "| operator | used | trained | admitted | admitted rate | mean acc | best acc |")
		fmt.Fprintln(ew, "|---|---:|---:|---:|---:|---:|---:|")
		for _, o := range r.Operators {
			fmt.Fprintf(ew, "| %s | %d | %d | %d | %s | %s | %s |\n", mdCell(o.Operator), o.Used, o.Trained, o.Admitted,
				pct(float64(o.Admitted)/float64(max(o.Used, 1)), o.Used), acc(o.Mean, o.Trained), acc(o.Best, o.Trained))
		}
	}
	fmt.Fprint(ew, "\n## Leaderboard\n\n")
	if len(r.Leaderboard) == 0 {
		fmt.Fprintln(ew, "No model was admitted to the corpus.")
	} else {
		fmt.Fprint(ew, "Admitted models by best-epoch accuracy.\n\n")
		fmt.Fprintln(ew, "| # | model | accuracy | epoch | params | time | cycle | transform | hyperparameters | from |")
		fmt.Fprintln(ew, "|---:|---|---:|---:|---:|---:|---:|---|---|---|")
		for _, e := range r.Leaderboard {
			fmt.Fprintf(ew, "| %d | `%s` | %.4f | %d/%d | %s | %s | %d | %s | %s | %s |\n", e.Rank, e.Name, e.Accuracy, e.BestEpoch,
				len(e.Epochs), Params(e.Params), Dur(e.Duration), e.Cycle, orDash(e.Transform), mdCell(e.HP), mdCell(Lineage(e)))
		}
	}
	if len(plots) > 0 {
		fmt.Fprint(ew, "\n## Plots\n\n")
		for _, p := range []struct{ stem, title, note string }{
			{plotOutcomes, "Outcomes per cycle", "What became of each cycle's candidates; the percentage is the valid rate (admitted / finished)."},
			{plotCycles, "Accuracy per cycle", "Each point is one trained candidate (spread sideways within its cycle); the lines are the mean and the best of the trained candidates per cycle."},
			{plotParams, "Accuracy vs model size", "Parameter count on a log scale; the five best admitted models are labelled."},
			{plotCurves, "Learning curves", "Accuracy after each epoch of the best admitted models."},
		} {
			if _, ok := plots[p.stem]; ok {
				fmt.Fprintf(ew, "### %s\n\n%s\n\n![%s](%s.png)\n\n[SVG](%s.svg)\n\n", p.title, p.note, p.title, p.stem, p.stem)
			}
		}
	}
	if n := min(MaxCurves, len(r.Leaderboard)); n > 0 {
		fmt.Fprint(ew, "## Learning curve per admitted model\n\n")
		if len(r.Leaderboard) > n {
			fmt.Fprintf(ew, "Curves of the best %d of %d admitted models.\n\n", n, len(r.Leaderboard))
		}
		for i, e := range r.Leaderboard[:n] {
			stem := curveStem(e)
			if i < embedCurves {
				fmt.Fprintf(ew, "![#%d %s](%s.png)\n\n", e.Rank, e.Name, stem)
			} else {
				fmt.Fprintf(ew, "- #%d [`%s`](%s.png) ([SVG](%s.svg)): %.4f\n", e.Rank, e.Name, stem, stem, e.Accuracy)
			}
		}
	}
	return ew.err
}

func (r *Report) markdownReasons(w io.Writer) {
	t := r.Total
	if len(t.RejectedBy)+len(t.FailedBy)+len(t.DuplicateBy) == 0 {
		return
	}
	fmt.Fprint(w, "\n## Rejections, duplicates and failures by reason\n\n")
	fmt.Fprintln(w, "| outcome | reason | count |\n|---|---|---:|")
	for _, c := range sortedCounts(t.RejectedBy) {
		fmt.Fprintf(w, "| rejected | %s | %d |\n", mdCell(c.k), c.n)
	}
	for _, c := range sortedCounts(t.DuplicateBy) {
		fmt.Fprintf(w, "| duplicate | %s | %d |\n", mdCell(c.k), c.n)
	}
	for _, c := range sortedCounts(t.FailedBy) {
		fmt.Fprintf(w, "| failed | %s | %d |\n", mdCell(c.k), c.n)
	}
}

func mdCell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func pct(f float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*f)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
