package corpus

import (
	"context"
	"fmt"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// Model is a corpus model with code, and its best recorded run on one
// pipeline when it has one: what generators start from.
type Model struct {
	Name     string
	Code     string
	Accuracy float64    // best accuracy on the pipeline; -1 without a run there
	Epoch    int        // epoch of that best accuracy
	Prm      lemur.Dict // hyperparameters of that run (batch and transform included); nil without one
}

// Models lists the models that have code, with their best run on task,
// dataset and metric (empty fields match any), by name.
func Models(ctx context.Context, st store.Store, task, dataset, metric string) ([]Model, error) {
	var out []Model
	index := map[string]int{}
	for c, err := range st.Codes(ctx, store.KindNN, "") {
		if err != nil {
			return nil, fmt.Errorf("read corpus models: %w", err)
		}
		index[c.Name] = len(out)
		out = append(out, Model{Name: c.Name, Code: c.Code, Accuracy: -1})
	}
	if len(out) == 0 {
		return nil, nil
	}
	for r, err := range st.Stats(ctx, store.Filter{Task: task, Dataset: dataset, Metric: metric, BestOnly: true}) {
		if err != nil {
			return nil, fmt.Errorf("read corpus runs: %w", err)
		}
		i, ok := index[r.NN]
		if !ok || r.Accuracy <= out[i].Accuracy {
			continue
		}
		out[i].Accuracy, out[i].Epoch, out[i].Prm = r.Accuracy, r.Epoch, r.Prm
	}
	return out, nil
}
