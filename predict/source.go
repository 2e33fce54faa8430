package predict

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nngpt/nngpt/store"
)

// FromStore builds the runs of the stat rows matching f and the code
// features of every model whose code the store holds.
func FromStore(ctx context.Context, st store.Store, f store.Filter) ([]Run, BuildStats, map[string]CodeFeatures, error) {
	runs, bs, err := BuildRuns(st.Stats(ctx, f))
	if err != nil {
		return nil, bs, nil, err
	}
	names := map[string]bool{}
	for _, r := range runs {
		names[r.NN] = true
	}
	code := map[string]CodeFeatures{}
	for c, err := range st.Codes(ctx, store.KindNN, "") {
		if err != nil {
			return nil, bs, nil, fmt.Errorf("read model code: %w", err)
		}
		if !names[c.Name] {
			continue
		}
		cf, err := CodeFeaturesOf([]byte(c.Code))
		if err != nil {
			slog.Debug("no code features", "nn", c.Name, "err", err)
			continue
		}
		code[c.Name] = cf
	}
	return runs, bs, code, nil
}

// OpenPruner is the pruner a runner or loop uses in a workspace: the newest
// predictor under wsDir that observes at least one epoch (ErrNoPredictor
// when there is none: run without early stopping then) and a board of
// every run in the store.
func OpenPruner(ctx context.Context, wsDir string, st store.Store, pol Policy) (*Pruner, error) {
	return LoadPruner(wsDir, pol, func() (*Board, error) { return OpenBoard(ctx, st) })
}

// LoadPruner is OpenPruner with the board from board, asked only once a
// predictor was found (one board can serve a loop's pruner and screener).
func LoadPruner(wsDir string, pol Policy, board func() (*Board, error)) (*Pruner, error) {
	m, b, err := loadLatest(wsDir, LatestPruning, board)
	if err != nil {
		return nil, err
	}
	return NewPruner(m, pol, b)
}

// OpenBoard is the board of every run in the store.
func OpenBoard(ctx context.Context, st store.Corpus) (*Board, error) {
	return BoardFromRecords(st.Stats(ctx, store.Filter{}))
}

// loadLatest loads the predictor latest picks under wsDir, then the board.
func loadLatest(wsDir string, latest func(string) (string, error), board func() (*Board, error)) (*Model, *Board, error) {
	dir, err := latest(wsDir)
	if err != nil {
		return nil, nil, err
	}
	m, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	b, err := board()
	return m, b, err
}

// CandidateState is the state of a loop candidate after epoch (1-based)
// with accuracy acc, for Pruner.Decide; row.Epochs may or may not hold that
// epoch yet (the loop appends it when the event arrives).
func CandidateState(row *store.CandidateRow, epoch int, acc float64, maxEpoch int, code CodeFeatures) RunState {
	accs := append([]float64(nil), row.Epochs[:min(len(row.Epochs), epoch-1)]...)
	accs = append(accs, acc)
	var durs []float64
	for _, d := range row.Durations[:min(len(row.Durations), len(accs))] {
		durs = append(durs, float64(d)/1e9)
	}
	return RunState{Task: row.Pipeline.Task, Dataset: row.Pipeline.Dataset, Metric: row.Pipeline.Metric,
		NN: row.Name, Prm: row.Prm, Acc: accs, Dur: durs, MaxEpoch: maxEpoch, Code: code}
}
