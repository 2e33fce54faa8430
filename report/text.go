package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nngpt/nngpt/internal/termsafe"
)

// TextTop is how many leaderboard rows Text prints.
const TextTop = 10

// Text prints a compact summary for a terminal: the loop, the per-cycle
// table, rejection and failure reasons, and the top of the leaderboard.
func (r *Report) Text(w io.Writer) error {
	ew := &errWriter{w: w}
	l := r.Loop
	fmt.Fprintf(ew, "loop %s (%s, seed %d): %d/%d cycles, %d candidates, %d trained, %d admitted\n",
		l.ID, l.Status, l.Seed, l.CycleDone, l.Cycles, r.Total.Generated, r.Total.Trained, r.Total.Admitted)
	if len(r.Tasks) > 0 || len(r.Generators) > 0 {
		fmt.Fprintf(ew, "task %s; generator %s\n", orDash(strings.Join(r.Tasks, ", ")), orDash(strings.Join(r.Generators, ", ")))
	}
	for _, ref := range r.References {
		fmt.Fprintf(ew, "corpus outside this loop, %s/%s at epoch %d: %d models, median %.4f, best %.4f (%s)\n",
			ref.Dataset, ref.Metric, ref.Epoch, ref.Models, ref.Median, ref.Best, ref.BestNN)
	}
	if len(r.Cycles) == 0 {
		fmt.Fprintln(ew, "no candidates yet")
		return ew.err
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "cycle\tgen\trejected\tdup\tfailed\tpruned\ttrained\tadmitted\tmean acc\tbest acc\ttrain time\t")
	row := func(name string, c CycleStats) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", name, c.Generated, c.Rejected, c.Duplicates,
			c.Failed, c.Pruned, c.Trained, c.Admitted, acc(c.Mean, c.Trained), acc(c.Best, c.Trained), Dur(c.TrainTime))
	}
	for _, c := range r.Cycles {
		row(fmt.Sprint(c.Cycle), c)
	}
	if len(r.Cycles) > 1 {
		row("all", r.Total)
	}
	tw.Flush()
	if r.Total.Pending > 0 {
		fmt.Fprintf(ew, "%d candidates not finished (the loop was interrupted or is running)\n", r.Total.Pending)
	}
	if len(r.Total.RejectedBy) > 0 {
		fmt.Fprintf(ew, "rejected: %s\n", reasons(r.Total.RejectedBy))
	}
	if len(r.Total.FailedBy) > 0 {
		fmt.Fprintf(ew, "failed: %s\n", reasons(r.Total.FailedBy))
	}
	if r.Total.Duplicates > 0 {
		fmt.Fprintf(ew, "duplicates skipped: %d trainings saved (%s)\n", r.Total.Duplicates, reasons(r.Total.DuplicateBy))
	}
	if len(r.Operators) > 0 {
		var b strings.Builder
		for i, o := range r.Operators {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d/%d", o.Operator, o.Admitted, o.Used)
		}
		fmt.Fprintf(ew, "operators (admitted/used): %s\n", b.String())
	}
	if len(r.Leaderboard) == 0 {
		fmt.Fprintln(ew, "no admitted models")
		return ew.err
	}
	n := min(len(r.Leaderboard), TextTop)
	fmt.Fprintf(ew, "top %d of %d admitted:\n", n, len(r.Leaderboard))
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tname\taccuracy\tparams\tepochs\ttime\tcycle\tfrom")
	for _, e := range r.Leaderboard[:n] {
		fmt.Fprintf(tw, "%3d\t%s\t%.4f\t%s\t%d\t%s\t%d\t%s\n", e.Rank, e.Name, e.Accuracy, Params(e.Params), len(e.Epochs),
			Dur(e.Duration), e.Cycle, Lineage(e))
	}
	tw.Flush()
	return ew.err
}

// JSON writes the report as one indented JSON document.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: encode JSON: %w", err)
	}
	return nil
}

// Lineage says where a model came from: its parents and operators.
func Lineage(e Entry) string {
	var parts []string
	if len(e.Parents) > 0 {
		ps := make([]string, len(e.Parents))
		for i, p := range e.Parents {
			ps[i] = ShortName(p)
		}
		parts = append(parts, strings.Join(ps, " x "))
	}
	if len(e.Operators) > 0 {
		parts = append(parts, "("+strings.Join(e.Operators, ", ")+")")
	}
	if len(parts) == 0 {
		return e.Generator
	}
	return strings.Join(parts, " ")
}

// Params prints a parameter count as 950, 12.3k, 4.56M.
func Params(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n < 1000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/1e3)) + "k"
	case n < 1_000_000_000:
		return trimZero(fmt.Sprintf("%.2f", float64(n)/1e6)) + "M"
	}
	return trimZero(fmt.Sprintf("%.2f", float64(n)/1e9)) + "G"
}

// Dur prints a duration to a tenth of a second below a minute, else to the
// second.
func Dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func acc(a float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", a)
}

func reasons(m map[string]int) string {
	var b strings.Builder
	for i, c := range sortedCounts(m) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", c.k, c.n)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error so a long run of Fprintf calls
// needs one check. It also strips control characters: names, reasons and
// details come from models, LLM replies and imported trees, and a report
// goes to a terminal.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	_, err := io.WriteString(e.w, termsafe.Clean(string(p)))
	e.err = err
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
