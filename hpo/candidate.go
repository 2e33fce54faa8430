package hpo

import (
	"context"
	"fmt"

	"github.com/nngpt/nngpt/lemur"
)

// CandidateHP picks the hyperparameters a generated candidate trains with
// in the closed loop: the LLM's own <hp> proposal when it gave one that
// fits the candidate's space (its supported_hyperparameters() plus batch
// and transform), otherwise the recommender's first proposal. given may
// lack batch and transform (the loop has its own); missing model keys make
// it unusable. source says which was used ("llm-hp" or the recommender's
// name) and note why the LLM's proposal was set aside, if it was.
func CandidateHP(ctx context.Context, rec Recommender, q Query, sp *Space, given lemur.Dict) (cfg lemur.Dict, source, note string, err error) {
	if len(given) > 0 {
		var kept lemur.Dict
		for _, it := range given {
			if sp.Index(it.Key) >= 0 {
				kept = append(kept, it)
			}
		}
		clipped, missing, cerr := sp.Clip(kept)
		switch {
		case cerr != nil:
			note = "the LLM's <hp> is unusable: " + cerr.Error()
		case len(missing) > 0 && !onlyRunKeys(missing):
			note = fmt.Sprintf("the LLM's <hp> lacks %v", missing)
		case len(missing) > 0:
			// Only batch/transform missing: keep the LLM's model keys, the
			// loop supplies the rest.
			return kept, "llm-hp", "", nil
		default:
			return clipped, "llm-hp", "", nil
		}
	}
	if rec == nil {
		return nil, "", note, fmt.Errorf("no hyperparameters: %s and no recommender configured", orDefault(note, "the LLM gave no <hp>"))
	}
	out, err := rec.Recommend(ctx, q, sp, 1)
	if err != nil {
		return nil, "", note, fmt.Errorf("%s recommender: %w", rec.Name(), err)
	}
	if len(out) == 0 {
		return nil, "", note, fmt.Errorf("%s recommender proposed nothing", rec.Name())
	}
	return out[0], rec.Name(), note, nil
}

func onlyRunKeys(keys []string) bool {
	for _, k := range keys {
		if k != "batch" && k != "transform" {
			return false
		}
	}
	return true
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
