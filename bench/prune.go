package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/nngpt/nngpt/predict"
)

// PruneConfig configures the early-stopping benchmark.
type PruneConfig struct {
	Train, Test string
	TestShare   float64 // share of models held out when Test is empty (default 0.25)
	Seed        uint64
	// Options configure the predictor; nil Stages means predict.DefaultStages.
	Options predict.Options
	// Policies are replayed one by one; nil replays DefaultPrunePolicies.
	Policies []NamedPolicy
	// Screens are screening policies replayed together with early
	// stopping by Combined (a zero-shot predictor screens each run before
	// it trains); nil replays DefaultScreenPolicies with the default
	// explore share, empty none.
	Screens []NamedScreen
	// Combined is the early-stopping policy of the screening replays
	// (zero: predict.DefaultPolicy).
	Combined predict.Policy
}

// NamedScreen is one screening policy of the replay.
type NamedScreen struct {
	Name   string               `json:"name"`
	Policy predict.ScreenPolicy `json:"policy"`
}

// DefaultScreenPolicies are the screening policies the benchmark compares
// (each with the default early stopping): none, the validity bar alone,
// and references from the top decile to the top half by the upper bound
// (the default: the top 30%), with more or less careful margins; each trains a share explore of what it would screen,
// drawn from seed.
func DefaultScreenPolicies(explore float64, seed uint64) []NamedScreen {
	def := predict.DefaultScreenPolicy()
	def.Explore, def.Seed = explore, seed
	top := func(share, margin float64) predict.ScreenPolicy {
		p := def
		p.TopShare, p.Margin = share, margin
		return p
	}
	return []NamedScreen{
		{"no screening", predict.ScreenPolicy{Admission: -1}},
		{"admission bar only", top(0, 0)},
		{"top 10%", top(0.1, 0)},
		{"top 10%, margin -0.05", top(0.1, -0.05)},
		{"top 10%, margin +0.05", top(0.1, 0.05)},
		{"top 20%", top(0.2, 0)},
		{"top 30% (default)", def},
		{"top 50%", top(0.5, 0)},
	}
}

// ScreenRow is the outcome of one screening policy with early stopping.
type ScreenRow struct {
	NamedScreen
	Runs     int `json:"runs"`
	Screened int `json:"screened"` // not trained
	Explored int `json:"explored"` // screened by a rule but trained by the explore draw
	// ExploredTop counts the explored runs in the true top decile: the
	// loss screening would have caused on them, as the loop measures it.
	ExploredTop  int     `json:"explored_top_decile"`
	Stopped      int     `json:"stopped"` // trained, then stopped early
	Epochs       int     `json:"epochs"`  // epochs all runs train without either
	Saved        int     `json:"epochs_saved"`
	SavedShare   float64 `json:"saved_share"`
	ScreenSaved  int     `json:"epochs_saved_by_screening"`
	TrainedShare float64 `json:"trainings_saved_share"` // share of runs never trained
	TopDecile    int     `json:"top_decile_runs"`
	TopLost      int     `json:"top_decile_lost"` // screened or stopped
	TopScreened  int     `json:"top_decile_screened"`
	LostShare    float64 `json:"lost_share"`
	BestLost     int     `json:"best_runs_lost"`
	BestRuns     int     `json:"best_runs"`
}

// NamedPolicy is one policy of the replay.
type NamedPolicy struct {
	Name   string         `json:"name"`
	Policy predict.Policy `json:"policy"`
}

// DefaultPrunePolicies are the policies the benchmark compares: the
// validity bar alone, a fixed top-10 and ranks by share (the default is the
// top decile).
func DefaultPrunePolicies() []NamedPolicy {
	return []NamedPolicy{
		{"admission bar only", predict.Policy{MinBoard: 20}},
		{"top-10", predict.Policy{TopK: 10, MinBoard: 20}},
		{"top 5%", predict.Policy{TopShare: 0.05, MinBoard: 20}},
		{"top 10% (default)", predict.DefaultPolicy()},
		{"top 10%, margin +0.02", predict.Policy{TopShare: 0.10, MinBoard: 20, Margin: 0.02}},
		{"top 20%", predict.Policy{TopShare: 0.20, MinBoard: 20}},
	}
}

// PruneRow is the outcome of one policy.
type PruneRow struct {
	NamedPolicy
	Runs        int     `json:"runs"`
	Stopped     int     `json:"stopped"`
	Epochs      int     `json:"epochs"`       // epochs all test runs train without stopping
	Saved       int     `json:"epochs_saved"` // epochs the stops saved
	SavedShare  float64 `json:"saved_share"`
	TopDecile   int     `json:"top_decile_runs"`
	TopLost     int     `json:"top_decile_stopped"`
	LostShare   float64 `json:"lost_share"`
	BestLost    int     `json:"best_runs_stopped"` // the single best run of a task and dataset stopped
	BestRuns    int     `json:"best_runs"`
	MeanDecideU float64 `json:"mean_decide_us"`
}

// PruneReport is the benchmark's result.
type PruneReport struct {
	Train        *Corpus    `json:"train"`
	Test         *Corpus    `json:"test,omitempty"`
	Split        string     `json:"split"`
	Seed         uint64     `json:"seed"`
	TrainRuns    int        `json:"train_runs"`
	TestRuns     int        `json:"test_runs"`
	TrainSeconds float64    `json:"train_seconds"`
	Stages       []int      `json:"stages"`
	Rows         []PruneRow `json:"rows"`
	// Screening: the zero-shot predictor's fit and the combined replays.
	ScreenSeconds float64     `json:"screen_train_seconds,omitempty"`
	Combined      string      `json:"combined_policy,omitempty"`
	ScreenRows    []ScreenRow `json:"screen_rows,omitempty"`
}

// Prune trains a predictor on one side of a split by model, then replays
// the other side's runs in a seeded random order through a Pruner whose
// board starts with the training runs and grows with each replayed run. A
// run's true top-decile status is taken within its task and dataset among
// the replayed runs.
func Prune(ctx context.Context, cfg PruneConfig) (*PruneReport, error) {
	if cfg.TestShare == 0 {
		cfg.TestShare = 0.25
	}
	sp, err := splitCorpora(ctx, cfg.Train, cfg.Test, cfg.TestShare, cfg.Seed)
	if err != nil {
		return nil, err
	}
	o := cfg.Options
	o.Seed = cfg.Seed
	if o.Stages == nil {
		o.Stages = predict.DefaultStages
	}
	start := time.Now()
	m, err := predict.Train(ctx, sp.trainRuns, sp.code, o)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	rep := &PruneReport{Train: sp.train, Test: sp.test, Split: sp.desc, Seed: cfg.Seed,
		TrainRuns: m.TrainRuns, TrainSeconds: time.Since(start).Seconds()}
	test := predict.Trainable(sp.testRuns, m.Schema.K)
	rep.TestRuns = len(test)
	if len(test) == 0 {
		return nil, fmt.Errorf("no test runs with more than %d epochs", m.Schema.K)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 77))
	rng.Shuffle(len(test), func(i, j int) { test[i], test[j] = test[j], test[i] })
	top, bestOf := topDecile(test)
	stages := m.StageEpochs()
	rep.Stages = stages
	policies := cfg.Policies
	if policies == nil {
		policies = DefaultPrunePolicies()
	}
	for _, np := range policies {
		board := predict.NewBoard()
		for i := range sp.trainRuns {
			r := &sp.trainRuns[i]
			b, _ := r.Best()
			board.Add(r.Task, r.Dataset, b)
		}
		pr, err := predict.NewPruner(m, np.Policy, board)
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", np.Name, err)
		}
		row := PruneRow{NamedPolicy: np, Runs: len(test), TopDecile: len(top), BestRuns: len(bestOf)}
		var decisions int
		var decideTime time.Duration
		for i := range test {
			r := &test[i]
			row.Epochs += r.MaxEpoch()
			stopAt := 0
			// A prediction only changes at the model's stage epochs (it
			// reads the first K epochs of its stage; the upper bound never
			// drops as a run goes on) and the board does not change during
			// one run's replay: deciding at those epochs is enough.
			for _, e := range stages {
				if e < pr.Policy.After || e >= r.MaxEpoch() {
					continue
				}
				t0 := time.Now()
				d, err := pr.Decide(ctx, predict.RunState{Task: r.Task, Dataset: r.Dataset, Metric: r.Metric, NN: r.NN,
					Prm: r.Prm, Acc: r.Acc[:e], Dur: r.Dur[:e], MaxEpoch: r.MaxEpoch(), Code: sp.code[r.NN]})
				decideTime += time.Since(t0)
				decisions++
				if err != nil {
					return nil, err
				}
				if d.Stop {
					stopAt = e
					break
				}
			}
			best, _ := r.Best()
			if stopAt > 0 {
				row.Stopped++
				row.Saved += r.MaxEpoch() - stopAt
				if top[i] {
					row.TopLost++
				}
				if bestOf[i] {
					row.BestLost++
				}
				seen := predict.Run{Acc: r.Acc[:stopAt]}
				best, _ = seen.Best()
			}
			board.Add(r.Task, r.Dataset, best)
		}
		row.SavedShare = float64(row.Saved) / float64(row.Epochs)
		row.LostShare = float64(row.TopLost) / float64(max(1, row.TopDecile))
		if decisions > 0 {
			row.MeanDecideU = float64(decideTime.Microseconds()) / float64(decisions)
		}
		rep.Rows = append(rep.Rows, row)
	}
	screens := cfg.Screens
	if screens == nil {
		screens = DefaultScreenPolicies(predict.DefaultScreenPolicy().Explore, cfg.Seed)
	}
	if len(screens) == 0 {
		return rep, nil
	}
	zo := o
	zo.K, zo.Stages = 0, nil
	start = time.Now()
	zm, err := predict.Train(ctx, sp.trainRuns, sp.code, zo)
	if err != nil {
		return nil, fmt.Errorf("train the zero-shot predictor: %w", err)
	}
	rep.ScreenSeconds = time.Since(start).Seconds()
	pol := cfg.Combined
	if pol == (predict.Policy{}) {
		pol = predict.DefaultPolicy()
	}
	rep.Combined = fmt.Sprintf("top share %.2f, top-k %d, margin %+.2f", pol.TopShare, pol.TopK, pol.Margin)
	for _, ns := range screens {
		row, err := replayScreen(ctx, sp, m, zm, ns, pol, test, top, bestOf, stages)
		if err != nil {
			return nil, err
		}
		rep.ScreenRows = append(rep.ScreenRows, row)
	}
	return rep, nil
}

// replayScreen replays the test runs in order through a screener and,
// for those it trains, the pruner; both rank against one board that starts
// with the training runs and grows with every trained run.
func replayScreen(ctx context.Context, sp *split, m, zm *predict.Model, ns NamedScreen, pol predict.Policy,
	test []predict.Run, top, bestOf map[int]bool, stages []int) (ScreenRow, error) {
	board := predict.NewBoard()
	for i := range sp.trainRuns {
		r := &sp.trainRuns[i]
		b, _ := r.Best()
		board.Add(r.Task, r.Dataset, b)
	}
	pr, err := predict.NewPruner(m, pol, board)
	if err != nil {
		return ScreenRow{}, err
	}
	sc, err := predict.NewScreener(zm, ns.Policy, board)
	if err != nil {
		return ScreenRow{}, fmt.Errorf("screen %q: %w", ns.Name, err)
	}
	row := ScreenRow{NamedScreen: ns, Runs: len(test), TopDecile: len(top), BestRuns: len(bestOf)}
	for i := range test {
		r := &test[i]
		row.Epochs += r.MaxEpoch()
		d, err := sc.Screen(ctx, predict.Candidate{Key: r.NN + "/" + r.UID, Task: r.Task, Dataset: r.Dataset, Metric: r.Metric,
			NN: r.NN, Prm: r.Prm, MaxEpoch: r.MaxEpoch(), Code: sp.code[r.NN]})
		if err != nil {
			return ScreenRow{}, err
		}
		if !d.Train {
			row.Screened++
			row.Saved += r.MaxEpoch()
			row.ScreenSaved += r.MaxEpoch()
			if top[i] {
				row.TopLost++
				row.TopScreened++
			}
			if bestOf[i] {
				row.BestLost++
			}
			continue
		}
		if d.Explore {
			row.Explored++
			if top[i] {
				row.ExploredTop++
			}
		}
		stopAt := 0
		for _, e := range stages {
			if e < pr.Policy.After || e >= r.MaxEpoch() {
				continue
			}
			dd, err := pr.Decide(ctx, predict.RunState{Task: r.Task, Dataset: r.Dataset, Metric: r.Metric, NN: r.NN,
				Prm: r.Prm, Acc: r.Acc[:e], Dur: r.Dur[:e], MaxEpoch: r.MaxEpoch(), Code: sp.code[r.NN]})
			if err != nil {
				return ScreenRow{}, err
			}
			if dd.Stop {
				stopAt = e
				break
			}
		}
		best, _ := r.Best()
		if stopAt > 0 {
			row.Stopped++
			row.Saved += r.MaxEpoch() - stopAt
			if top[i] {
				row.TopLost++
			}
			if bestOf[i] {
				row.BestLost++
			}
			seen := predict.Run{Acc: r.Acc[:stopAt]}
			best, _ = seen.Best()
		}
		board.Add(r.Task, r.Dataset, best)
	}
	row.SavedShare = float64(row.Saved) / float64(max(1, row.Epochs))
	row.TrainedShare = float64(row.Screened) / float64(max(1, row.Runs))
	row.LostShare = float64(row.TopLost) / float64(max(1, row.TopDecile))
	return row, nil
}

// topDecile marks the runs whose best accuracy is in the top 10% of their
// task and dataset (at least the single best), and the single best ones.
func topDecile(runs []predict.Run) (top, best map[int]bool) {
	groups := map[[2]string][]int{}
	for i := range runs {
		k := [2]string{runs[i].Task, runs[i].Dataset}
		groups[k] = append(groups[k], i)
	}
	top, best = map[int]bool{}, map[int]bool{}
	for _, idx := range groups {
		b := make([]float64, len(idx))
		for j, i := range idx {
			b[j], _ = runs[i].Best()
		}
		sorted := slices.Clone(b)
		slices.Sort(sorted)
		slices.Reverse(sorted)
		n := max(1, int(math.Ceil(0.1*float64(len(idx)))))
		cut := sorted[n-1]
		for j, i := range idx {
			if b[j] >= cut {
				top[i] = true
			}
			if b[j] == sorted[0] {
				best[i] = true
			}
		}
	}
	return top, best
}

// WriteTable prints the report for people.
func (r *PruneReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "train: %s: %s\n", r.Train.Path, r.Train.Build)
	if r.Test != nil {
		fmt.Fprintf(w, "test:  %s: %s\n", r.Test.Path, r.Test.Build)
	}
	fmt.Fprintf(w, "split: %s (seed %d); predictor (stages after epochs %v) fitted on %d runs in %.1f s; %d test runs replayed in random order\n\n",
		r.Split, r.Seed, r.Stages, r.TrainRuns, r.TrainSeconds, r.TestRuns)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\truns stopped\tepochs saved\tsaved\ttop-decile runs stopped\tlost\tbest runs stopped\tdecide µs\t")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%d / %d\t%d / %d\t%.1f%%\t%d / %d\t%.1f%%\t%d / %d\t%.0f\t\n", row.Name, row.Stopped, row.Runs,
			row.Saved, row.Epochs, 100*row.SavedShare, row.TopLost, row.TopDecile, 100*row.LostShare, row.BestLost, row.BestRuns, row.MeanDecideU)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.ScreenRows) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nscreening before training (zero-shot predictor fitted in %.1f s) and early stopping (%s) together:\n", r.ScreenSeconds, r.Combined)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "screening\tnot trained\texplored (top)\tstopped early\tepochs saved\tsaved\tby screening\ttop-decile lost\tlost\tscreened\tbest runs lost\t")
	for _, row := range r.ScreenRows {
		fmt.Fprintf(tw, "%s\t%d / %d\t%d (%d)\t%d\t%d / %d\t%.1f%%\t%d\t%d / %d\t%.1f%%\t%d\t%d / %d\t\n", row.Name, row.Screened, row.Runs,
			row.Explored, row.ExploredTop, row.Stopped, row.Saved, row.Epochs, 100*row.SavedShare, row.ScreenSaved,
			row.TopLost, row.TopDecile, 100*row.LostShare, row.TopScreened, row.BestLost, row.BestRuns)
	}
	return tw.Flush()
}
