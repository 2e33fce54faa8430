package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
)

// ScheduleConfig configures the scheduler benchmark: LEMUR's recorded
// learning curves replayed through early-stopping pruners.
type ScheduleConfig struct {
	Records []lemur.Record
	// Epochs is the curve length a trial needs (its accuracy at every
	// epoch 1..Epochs) to take part (default 5).
	Epochs int
	// MinTrials is how many such trials a pipeline needs (default 20).
	MinTrials int
	Seeds     int // random trial orders per pipeline (default 10)
	// Pruners are compared; nil compares none, median and ASHA.
	Pruners []hpo.Pruner
}

// ScheduleRow is one pruner's outcome, averaged over pipelines and seeds.
type ScheduleRow struct {
	Pruner      string  `json:"pruner"`
	EpochsShare float64 `json:"epochs_share"` // epochs trained / epochs without pruning
	Regret      float64 `json:"regret"`       // normalised regret of the best complete trial
	StdErr      float64 `json:"std_error"`    // of the regret, over pipelines
	Pruned      float64 `json:"pruned_share"` // trials stopped early
}

// ScheduleResult is the benchmark's outcome.
type ScheduleResult struct {
	Pipelines int           `json:"pipelines"`
	Trials    int           `json:"trials"`
	Epochs    int           `json:"epochs"`
	Seeds     int           `json:"seeds"`
	Rows      []ScheduleRow `json:"rows"`
}

type curveProblem struct {
	name   string
	curves [][]float64 // [trial][epoch-1]
	lo, hi float64     // over final accuracies
}

// curveProblems collects, per pipeline, the trials with a full curve.
func curveProblems(recs []lemur.Record, epochs, minTrials int) []curveProblem {
	type key struct {
		p   lemur.Pipeline
		uid string
	}
	curves := map[key][]float64{}
	for i := range recs {
		r := &recs[i]
		if r.Epoch < 1 || r.Epoch > epochs || math.IsNaN(r.Accuracy) {
			continue
		}
		k := key{r.Pipeline, r.UID}
		c := curves[k]
		if c == nil {
			c = make([]float64, epochs)
			for j := range c {
				c[j] = math.NaN()
			}
			curves[k] = c
		}
		if math.IsNaN(c[r.Epoch-1]) { // the first record of a uid: the best, files are sorted
			c[r.Epoch-1] = r.Accuracy
		}
	}
	byPipe := map[lemur.Pipeline][][]float64{}
	for k, c := range curves {
		full := true
		for _, v := range c {
			full = full && !math.IsNaN(v)
		}
		if full {
			byPipe[k.p] = append(byPipe[k.p], c)
		}
	}
	var out []curveProblem
	for p, cs := range byPipe {
		if len(cs) < minTrials {
			continue
		}
		// Map iteration order is random: sort for a stable benchmark.
		sort.Slice(cs, func(i, j int) bool {
			for e := range cs[i] {
				if cs[i][e] != cs[j][e] {
					return cs[i][e] < cs[j][e]
				}
			}
			return false
		})
		pr := curveProblem{name: p.String(), curves: cs, lo: math.Inf(1), hi: math.Inf(-1)}
		for _, c := range cs {
			pr.lo, pr.hi = math.Min(pr.lo, c[epochs-1]), math.Max(pr.hi, c[epochs-1])
		}
		if pr.hi-pr.lo > 1e-9 {
			out = append(out, pr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// RunSchedule replays each pipeline's curves in random orders through
// each pruner, one trial after another as a study would run them: after
// every epoch the pruner sees the trial's curve so far and every earlier
// trial's. A pruned trial's epochs still count as spent; the study's
// answer is its best complete trial (final-epoch accuracy).
func RunSchedule(ctx context.Context, cfg ScheduleConfig) (*ScheduleResult, error) {
	if cfg.Epochs == 0 {
		cfg.Epochs = 5
	}
	if cfg.MinTrials == 0 {
		cfg.MinTrials = 20
	}
	if cfg.Seeds == 0 {
		cfg.Seeds = 10
	}
	if cfg.Pruners == nil {
		cfg.Pruners = []hpo.Pruner{hpo.NopPruner{}, hpo.MedianPruner{Startup: 5}, hpo.ASHAPruner{MinStep: 1, Reduction: 3}}
	}
	probs := curveProblems(cfg.Records, cfg.Epochs, cfg.MinTrials)
	if len(probs) == 0 {
		return nil, fmt.Errorf("no pipeline has %d trials with accuracies at every epoch 1..%d: lower --min-trials or --epochs", cfg.MinTrials, cfg.Epochs)
	}
	res := &ScheduleResult{Pipelines: len(probs), Epochs: cfg.Epochs, Seeds: cfg.Seeds}
	for _, pr := range probs {
		res.Trials += len(pr.curves)
	}
	for _, pn := range cfg.Pruners {
		var regrets []float64
		var spent, total, pruned, trials float64
		for _, pr := range probs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sum := 0.0
			for s := range cfg.Seeds {
				order := rand.New(rand.NewPCG(uint64(s+1), 0x5c4ed)).Perm(len(pr.curves))
				var hist []hpo.Trial
				best := math.Inf(-1)
				for n, ci := range order {
					c := pr.curves[ci]
					t := hpo.Trial{Number: n, State: hpo.Running}
					stopped := false
					for e, acc := range c {
						t.Intermediate = append(t.Intermediate, hpo.Step{Step: e + 1, Value: acc})
						spent++
						if e+1 < len(c) {
							if stop, _ := pn.Prune(t, hist, hpo.Maximize); stop {
								stopped = true
								break
							}
						}
					}
					total += float64(len(c))
					trials++
					t.State, t.Value = hpo.Complete, c[len(c)-1]
					if stopped {
						t.State, t.Value = hpo.Pruned, t.Intermediate[len(t.Intermediate)-1].Value
						pruned++
					} else {
						best = math.Max(best, t.Value)
					}
					hist = append(hist, t)
				}
				sum += (pr.hi - best) / (pr.hi - pr.lo)
			}
			regrets = append(regrets, sum/float64(cfg.Seeds))
		}
		m := mean(regrets)
		var v float64
		for _, r := range regrets {
			v += (r - m) * (r - m)
		}
		se := 0.0
		if n := float64(len(regrets)); n > 1 {
			se = math.Sqrt(v / (n - 1) / n)
		}
		res.Rows = append(res.Rows, ScheduleRow{Pruner: pn.Name(), EpochsShare: spent / total, Regret: m, StdErr: se, Pruned: pruned / trials})
	}
	return res, nil
}

// WriteScheduleTable prints the result.
func WriteScheduleTable(w io.Writer, r *ScheduleResult) error {
	fmt.Fprintf(w, "scheduler replay: %d LEMUR pipelines, %d trials with accuracies at epochs 1..%d, %d trial orders each\n", r.Pipelines, r.Trials, r.Epochs, r.Seeds)
	fmt.Fprintln(w, "epochs: share of the epochs a study without pruning trains; regret: normalised, of the best complete trial (+- standard error over pipelines)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join([]string{"pruner", "epochs", "pruned trials", "regret"}, "\t"))
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.4f +- %.4f\n", row.Pruner, row.EpochsShare, row.Pruned, row.Regret, row.StdErr)
	}
	return tw.Flush()
}
