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
// predictor under wsDir (ErrNoPredictor when there is none: run without
// early stopping then) and a board of every run in the store.
func OpenPruner(ctx context.Context, wsDir string, st store.Store, pol Policy) (*Pruner, error) {
	dir, err := Latest(wsDir)
	if err != nil {
		return nil, err
	}
	m, err := Load(dir)
	if err != nil {
		return nil, err
	}
	board, err := BoardFromRecords(st.Stats(ctx, store.Filter{}))
	if err != nil {
		return nil, err
	}
	return NewPruner(m, pol, board)
}
