package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nngpt/nngpt/rag"
)

// RAGResult is the NN-RAG benchmark over one repository and target list.
type RAGResult struct {
	Repo    string `json:"repo"`
	Commit  string `json:"commit,omitempty"`
	Modules int    `json:"modules"`
	Targets int    `json:"targets"`
	// Found: the class exists in the repository; Extracted: a file came out.
	Found     int `json:"found"`
	Extracted int `json:"extracted"`
	Level1    int `json:"level1"` // the file executes as a module in a fresh interpreter
	Level2    int `json:"level2"` // the class builds and forward runs
	// Rates are over all targets (a target not found counts as a failure).
	Level1Rate float64 `json:"level1_rate"`
	Level2Rate float64 `json:"level2_rate"`
	// IndexColdSeconds parses every module; IndexCachedSeconds reopens the
	// index from its cache.
	IndexColdSeconds   float64 `json:"index_cold_seconds"`
	IndexCachedSeconds float64 `json:"index_cached_seconds"`
	// Per extracted block, mean seconds.
	ExtractSeconds  float64 `json:"extract_seconds_per_block"`
	ValidateSeconds float64 `json:"validate_seconds_per_block"`
	WallSeconds     float64 `json:"wall_seconds"`
	Jobs            int     `json:"jobs"`
	// Every is the sampling step over the repository's classes (0 or 1:
	// all of them, or the target list).
	Every int `json:"every,omitempty"`
	// Failures counts targets by the first thing that went wrong:
	// not_found, extract, level1:<kind>, level2:<kind>.
	Failures map[string]int `json:"failures"`
	// Via counts the level-2 blocks by how they were built: factory,
	// partial, registry, test, main, readme, call, parent (the
	// repository's builders) or inferred (from the signature).
	Via    map[string]int `json:"via"`
	Blocks []RAGRow       `json:"blocks"`
}

// RAGRow is one target's outcome.
type RAGRow struct {
	Target          string  `json:"target"`
	Level           int     `json:"level"`
	Reason          string  `json:"reason,omitempty"` // failure key
	Error           string  `json:"error,omitempty"`
	Input           string  `json:"input,omitempty"`
	Constructor     string  `json:"constructor,omitempty"`
	Via             string  `json:"via,omitempty"`
	Sources         int     `json:"sources"`
	Lines           int     `json:"lines"`
	Unresolved      int     `json:"unresolved"`
	ExtractSeconds  float64 `json:"extract_seconds"`
	ValidateSeconds float64 `json:"validate_seconds"`
}

// RAG extracts every target from repo (none: every nn.Module class of
// the repository, each once by its qualified name; with every > 1 only
// every every-th of them in module order, a systematic sample of a large
// zoo) and validates it to level 2 with v, jobs at a time; progress, when
// set, hears of each finished target.
func RAG(ctx context.Context, repo string, targets []string, every int, v rag.Validator, jobs int, progress func(rag.Outcome)) (*RAGResult, error) {
	if v == nil {
		return nil, fmt.Errorf("bench rag needs a validator")
	}
	cache, err := os.MkdirTemp("", "nngpt-bench-rag-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cache)
	t0 := time.Now()
	if _, err := rag.Open(ctx, repo, rag.Options{CacheDir: cache}); err != nil {
		return nil, err
	}
	cold := time.Since(t0)
	t0 = time.Now()
	idx, err := rag.Open(ctx, repo, rag.Options{CacheDir: cache})
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		for i, c := range idx.Classes(true) {
			if every <= 1 || i%every == 0 {
				targets = append(targets, c.Qualified())
			}
		}
		if len(targets) == 0 {
			return nil, fmt.Errorf("no nn.Module classes found in %s", idx.Root)
		}
	}
	res := &RAGResult{Repo: idx.Root, Commit: idx.Commit, Modules: len(idx.Modules), Targets: len(targets),
		IndexColdSeconds: cold.Seconds(), IndexCachedSeconds: time.Since(t0).Seconds(), Jobs: max(1, jobs), Every: every,
		Failures: map[string]int{}, Via: map[string]int{}}
	start := time.Now()
	outs, err := rag.Process(ctx, idx, targets, v, 2, jobs, progress)
	if err != nil {
		return nil, err
	}
	res.WallSeconds = time.Since(start).Seconds()
	var ext, val float64
	for _, o := range outs {
		row := RAGRow{Target: o.Target, ExtractSeconds: o.ExtractSeconds}
		if o.Found {
			res.Found++
		}
		switch {
		case o.Block == nil:
			row.Reason, row.Error = "extract", o.Error
			if !o.Found {
				row.Reason = "not_found"
			}
		default:
			res.Extracted++
			ext += o.ExtractSeconds
			row.Sources, row.Lines, row.Unresolved = len(o.Block.Sources), strings.Count(o.Block.Code, "\n"), len(o.Block.Unresolved)
			vd := o.Validation
			row.Level, row.Input, row.ValidateSeconds = vd.Level, vd.Input, vd.Seconds
			val += vd.Seconds
			if vd.Level >= 1 {
				res.Level1++
			}
			if vd.Level >= 2 {
				res.Level2++
				row.Constructor, row.Via = vd.Constructor, vd.Via
				res.Via[viaKind(vd.Via)]++
			} else {
				kind := vd.Kind
				if kind == "" {
					kind = "unknown"
				}
				row.Reason = fmt.Sprintf("level%d:%s", vd.Level+1, kind)
				row.Error = vd.Error
			}
		}
		if row.Reason != "" {
			res.Failures[row.Reason]++
		}
		res.Blocks = append(res.Blocks, row)
	}
	if res.Targets > 0 {
		res.Level1Rate = float64(res.Level1) / float64(res.Targets)
		res.Level2Rate = float64(res.Level2) / float64(res.Targets)
	}
	if res.Extracted > 0 {
		res.ExtractSeconds = ext / float64(res.Extracted)
		res.ValidateSeconds = val / float64(res.Extracted)
	}
	return res, nil
}

// FailureKeys are the failure reasons, most frequent first.
func (r *RAGResult) FailureKeys() []string { return byCount(r.Failures) }

// ViaKeys are the kinds of builder of the level-2 blocks, most frequent first.
func (r *RAGResult) ViaKeys() []string { return byCount(r.Via) }

func byCount(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}

// viaKind is the kind of builder a Validation.Via names.
func viaKind(via string) string {
	switch first, _, _ := strings.Cut(via, " "); first {
	case "":
		return "unknown"
	case "__main__":
		return "main"
	case "arguments":
		return "inferred"
	default:
		return first
	}
}
