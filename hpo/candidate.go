package hpo

import (
	"context"
	"fmt"
	"strings"

	"github.com/nngpt/nngpt/lemur"
)

// CandidateHP picks the hyperparameters a generated candidate trains with
// in the closed loop: the LLM's own <hp> proposal when it gave one that
// fits the candidate's space (its supported_hyperparameters() plus batch
// and transform), otherwise the first proposal of the first recommender
// that makes one (recs in order of preference: an LLM's one-shot may be
// refused, the learned one then answers). given may lack batch and
// transform (the loop has its own); missing model keys make it unusable.
// source says which was used ("llm-hp" or the recommender's name) and
// note why earlier choices were set aside, if they were.
func CandidateHP(ctx context.Context, recs []Recommender, q Query, sp *Space, given lemur.Dict) (cfg lemur.Dict, source, note string, err error) {
	var notes []string
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
			notes = append(notes, "the LLM's <hp> is unusable: "+cerr.Error())
		case len(missing) > 0 && !onlyRunKeys(missing):
			notes = append(notes, fmt.Sprintf("the LLM's <hp> lacks %v", missing))
		case len(missing) > 0:
			// Only batch/transform missing: keep the LLM's model keys, the
			// loop supplies the rest.
			return kept, "llm-hp", "", nil
		default:
			return clipped, "llm-hp", "", nil
		}
	}
	for _, rec := range recs {
		out, err := rec.Recommend(ctx, q, sp, 1)
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("%s recommender: %v", rec.Name(), err))
		case len(out) == 0:
			notes = append(notes, rec.Name()+" recommender proposed nothing")
		default:
			return out[0], rec.Name(), strings.Join(notes, "; "), nil
		}
		if ctx.Err() != nil {
			return nil, "", "", ctx.Err()
		}
	}
	if len(given) == 0 {
		notes = append([]string{"the LLM gave no <hp>"}, notes...)
	}
	if len(recs) == 0 {
		notes = append(notes, "no recommender configured")
	}
	return nil, "", "", fmt.Errorf("no hyperparameters: %s", strings.Join(notes, "; "))
}

func onlyRunKeys(keys []string) bool {
	for _, k := range keys {
		if k != "batch" && k != "transform" {
			return false
		}
	}
	return true
}
