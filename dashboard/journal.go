package dashboard

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/nngpt/nngpt/store"
)

// sinceReader is a store that lists the candidates written since a time
// (sqlite.DB.CandidatesSince): with it a loop is read once and then
// caught up by an index lookup, instead of re-read whole on every page.
type sinceReader interface {
	CandidatesSince(ctx context.Context, loopID string, since time.Time) ([]store.CandidateRow, error)
}

// catchUp is how far before the newest row seen a catch-up read starts,
// for rows whose commit came a little after their timestamp.
const catchUp = 2 * time.Second

// journal caches each viewed loop's candidates. While the change feed
// runs and has seen no write, pages are served from the cache; after a
// write only the rows written since are read.
type journal struct {
	mu    sync.Mutex
	loops map[string]*loopRows
}

type loopRows struct {
	mu     sync.Mutex
	read   bool
	seq    int64
	rows   []store.CandidateRow // by cycle and index
	index  map[string]int
	latest time.Time
}

// candidates returns a loop's candidates by cycle and index; the slice is
// the caller's, the rows' own slices are shared and must not be changed.
func (s *Server) candidates(ctx context.Context, loopID string) ([]store.CandidateRow, error) {
	s.journal.mu.Lock()
	if s.journal.loops == nil {
		s.journal.loops = map[string]*loopRows{}
	}
	lr := s.journal.loops[loopID]
	if lr == nil {
		lr = &loopRows{}
		s.journal.loops[loopID] = lr
	}
	s.journal.mu.Unlock()

	lr.mu.Lock()
	defer lr.mu.Unlock()
	seq := s.feed.current() // before reading: a write during the read shows next time
	if lr.read && s.feed.live.Load() && seq == lr.seq {
		return slices.Clone(lr.rows), nil
	}
	sr, incremental := s.opt.Store.(sinceReader)
	if !lr.read || !incremental {
		rows, err := s.opt.Store.Candidates(ctx, loopID)
		if err != nil {
			return nil, err
		}
		lr.rows, lr.index, lr.latest = rows, make(map[string]int, len(rows)), time.Time{}
		for i := range rows {
			lr.index[rows[i].ID] = i
			lr.latest = later(lr.latest, rows[i].Updated)
		}
	} else {
		fresh, err := sr.CandidatesSince(ctx, loopID, lr.latest.Add(-catchUp))
		if err != nil {
			return nil, err
		}
		added := false
		for _, f := range fresh {
			if i, ok := lr.index[f.ID]; ok {
				lr.rows[i] = f
			} else {
				lr.rows = append(lr.rows, f)
				added = true
			}
			lr.latest = later(lr.latest, f.Updated)
		}
		if added {
			slices.SortStableFunc(lr.rows, func(a, b store.CandidateRow) int {
				return cmp.Or(cmp.Compare(a.Cycle, b.Cycle), cmp.Compare(a.Index, b.Index))
			})
			for i := range lr.rows {
				lr.index[lr.rows[i].ID] = i
			}
		}
	}
	lr.read, lr.seq = true, seq
	return slices.Clone(lr.rows), nil
}
