package gate

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/store"
)

// Source says where a known model came from.
type Source string

const (
	SourceCorpus    Source = store.DedupCorpus    // the workspace's nn table
	SourceCandidate Source = store.DedupCandidate // accepted in an earlier run
	SourceBatch     Source = "batch"              // accepted earlier in this run
)

// Match is the known model a candidate duplicates.
type Match struct {
	Name   string `json:"name"`
	Source Source `json:"source"`
}

// IndexStore is what LoadIndex needs of the store.
type IndexStore interface {
	Codes(ctx context.Context, kind store.CodeKind, prefix string) iter.Seq2[store.Code, error]
	store.Dedup
}

// Index holds the three ids of every known model. It is safe for
// concurrent use; a nil *Index (a gate without dedup) knows nothing and
// stores nothing.
type Index struct {
	mu                      sync.RWMutex
	code, normalised, struc map[string]Match
	pending                 []store.DedupEntry // accepted in this run, not persisted yet
	st                      IndexStore
}

// NewIndex returns an empty in-memory index.
func NewIndex() *Index {
	return &Index{code: map[string]Match{}, normalised: map[string]Match{}, struc: map[string]Match{}}
}

// LoadStats says what LoadIndex did.
type LoadStats struct {
	Corpus     int           `json:"corpus"`     // nn rows indexed
	Cached     int           `json:"cached"`     // of which the ids came from the cache
	Computed   int           `json:"computed"`   // of which the ids were computed (and cached now)
	Candidates int           `json:"candidates"` // earlier accepted candidates indexed
	Took       time.Duration `json:"took"`
}

// LoadIndex indexes every model of the store's nn table and every
// candidate accepted in earlier runs. Ids are read from the store's dedup
// cache; models not cached yet (or cached by another fingerprint version)
// are parsed on all cores and their ids cached, so only the first start
// after an import pays for parsing.
func LoadIndex(ctx context.Context, st IndexStore) (*Index, LoadStats, error) {
	start := time.Now()
	ix := NewIndex()
	ix.st = st
	var stats LoadStats
	cache := map[string]store.DedupEntry{}
	for e, err := range st.DedupEntries(ctx, pyast.IDVersion) {
		if err != nil {
			return nil, stats, fmt.Errorf("load dedup index: %w", err)
		}
		cache[e.CodeID] = e
	}
	type job struct {
		name, code, id string
	}
	jobs := make(chan job)
	results := make(chan store.DedupEntry)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ids := pyast.CodeIDs([]byte(j.code))
				results <- store.DedupEntry{CodeID: j.id, Normalised: ids.Normalised, Structure: ids.Structure,
					Name: j.name, Source: store.DedupCorpus, Version: pyast.IDVersion}
			}
		}()
	}
	var computed []store.DedupEntry
	collected := make(chan struct{})
	go func() {
		for e := range results {
			computed = append(computed, e)
		}
		close(collected)
	}()
	inCorpus := map[string]bool{}
	var readErr error
	for c, err := range st.Codes(ctx, store.KindNN, "") {
		if err != nil {
			readErr = fmt.Errorf("load dedup index: read nn: %w", err)
			break
		}
		stats.Corpus++
		id := c.ID
		if id == "" {
			id = lemur.CodeID(c.Code)
		}
		inCorpus[id] = true
		if e, ok := cache[id]; ok {
			stats.Cached++
			ix.add(pyast.IDs{Code: id, Normalised: e.Normalised, Structure: e.Structure}, Match{c.Name, SourceCorpus})
			continue
		}
		select {
		case jobs <- job{c.Name, c.Code, id}:
		case <-ctx.Done():
			readErr = ctx.Err()
		}
		if readErr != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	close(results)
	<-collected
	if readErr != nil {
		return nil, stats, readErr
	}
	for _, e := range computed {
		stats.Computed++
		ix.add(pyast.IDs{Code: e.CodeID, Normalised: e.Normalised, Structure: e.Structure}, Match{e.Name, SourceCorpus})
	}
	if err := st.PutDedupEntries(ctx, computed); err != nil {
		return nil, stats, fmt.Errorf("load dedup index: cache ids: %w", err)
	}
	for id, e := range cache {
		// A cached corpus entry whose model left the nn table is forgotten.
		if inCorpus[id] || e.Source != store.DedupCandidate {
			continue
		}
		stats.Candidates++
		ix.add(pyast.IDs{Code: id, Normalised: e.Normalised, Structure: e.Structure}, Match{e.Name, SourceCandidate})
	}
	stats.Took = time.Since(start)
	slog.Debug("dedup index loaded", "corpus", stats.Corpus, "cached", stats.Cached, "computed", stats.Computed,
		"candidates", stats.Candidates, "took", stats.Took)
	return ix, stats, nil
}

// add indexes ids under m; an id already known keeps its first owner.
func (ix *Index) add(ids pyast.IDs, m Match) {
	for _, p := range []struct {
		tab map[string]Match
		id  string
	}{{ix.code, ids.Code}, {ix.normalised, ids.Normalised}, {ix.struc, ids.Structure}} {
		if p.id == "" {
			continue
		}
		if _, ok := p.tab[p.id]; !ok {
			p.tab[p.id] = m
		}
	}
}

// Lookup finds a known model with the same code id, else the same
// normalised id, else the same structure; it returns the matching duplicate
// reason, or ReasonAccepted when there is none.
func (ix *Index) Lookup(ids pyast.IDs) (Reason, Match) {
	if ix == nil {
		return ReasonAccepted, Match{}
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if m, ok := ix.code[ids.Code]; ok {
		return ReasonDuplicateCode, m
	}
	if m, ok := ix.normalised[ids.Normalised]; ok {
		return ReasonDuplicateNormalised, m
	}
	if m, ok := ix.struc[ids.Structure]; ok {
		return ReasonDuplicateStructure, m
	}
	return ReasonAccepted, Match{}
}

// Add indexes a model known from now on (SourceBatch: an accepted
// candidate of this run). Flush persists the batch's entries.
func (ix *Index) Add(name string, ids pyast.IDs, src Source) {
	if ix == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.add(ids, Match{name, src})
	if src == SourceBatch {
		ix.pending = append(ix.pending, store.DedupEntry{CodeID: ids.Code, Normalised: ids.Normalised, Structure: ids.Structure,
			Name: name, Source: store.DedupCandidate, Version: pyast.IDVersion})
	}
}

// checkAndAdd is Lookup then, when nothing matches, Add as SourceBatch, in
// one step so two concurrent identical candidates cannot both pass.
func (ix *Index) checkAndAdd(name string, ids pyast.IDs) (Reason, Match) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, p := range []struct {
		tab map[string]Match
		id  string
		r   Reason
	}{{ix.code, ids.Code, ReasonDuplicateCode}, {ix.normalised, ids.Normalised, ReasonDuplicateNormalised}, {ix.struc, ids.Structure, ReasonDuplicateStructure}} {
		if m, ok := p.tab[p.id]; ok {
			return p.r, m
		}
	}
	ix.add(ids, Match{name, SourceBatch})
	ix.pending = append(ix.pending, store.DedupEntry{CodeID: ids.Code, Normalised: ids.Normalised, Structure: ids.Structure,
		Name: name, Source: store.DedupCandidate, Version: pyast.IDVersion})
	return ReasonAccepted, Match{}
}

// Len is the number of distinct code ids indexed.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.code)
}

// Flush persists the candidates accepted since the last Flush, so later
// runs treat them as known. An index not loaded from a store keeps them in
// memory only.
func (ix *Index) Flush(ctx context.Context) error {
	if ix == nil {
		return nil
	}
	ix.mu.Lock()
	pending := ix.pending
	ix.pending = nil
	ix.mu.Unlock()
	if ix.st == nil || len(pending) == 0 {
		return nil
	}
	if err := ix.st.PutDedupEntries(ctx, pending); err != nil {
		ix.mu.Lock()
		ix.pending = append(pending, ix.pending...)
		ix.mu.Unlock()
		return fmt.Errorf("save accepted candidates to the dedup index: %w", err)
	}
	return nil
}
