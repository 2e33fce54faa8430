package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// corpusData is LEMUR's data() with filters, sorting and a summary.
type corpusData struct {
	Title    string
	Nav      string
	F        corpusFilter
	Summary  []store.SummaryRow
	Counts   store.Counts
	Tasks    []string
	Datasets []string
	Metrics  []string
	Rows     []corpusRow
	Total    int
	Page     int
	Pages    int
	Prev     string
	Next     string
	Sorts    []kv
}

type corpusFilter struct {
	Task, Dataset, Metric, NN, Epoch, Sort string
	Best                                   bool
}

type corpusRow struct {
	lemur.Record
	Transform string
	HP        string
	Duration  string
}

var corpusSorts = []kv{{"best", "best per dataset first"}, {"acc", "accuracy"}, {"nn", "model"}, {"epoch", "epoch"}}

func (s *Server) corpusPage(r *http.Request) (string, any, error) {
	ctx := r.Context()
	q := r.URL.Query()
	f := corpusFilter{Task: q.Get("task"), Dataset: q.Get("dataset"), Metric: q.Get("metric"), NN: strings.TrimSpace(q.Get("nn")),
		Epoch: strings.TrimSpace(q.Get("epoch")), Sort: q.Get("sort"), Best: q.Get("all") == ""}
	if f.Sort == "" {
		f.Sort = "best"
	}
	if !slices.ContainsFunc(corpusSorts, func(k kv) bool { return k.K == f.Sort }) {
		return "", nil, badRequest("sort %q: want best, acc, nn or epoch", f.Sort)
	}
	filter := store.Filter{Task: f.Task, Dataset: f.Dataset, Metric: f.Metric, NN: f.NN, BestOnly: f.Best}
	if f.Epoch != "" {
		e, err := strconv.Atoi(f.Epoch)
		if err != nil || e < 0 {
			return "", nil, badRequest("epoch %q: want a whole number of epochs, e.g. 1", f.Epoch)
		}
		filter.Epoch, filter.EpochSet = e, true
	}
	d := corpusData{Title: "Corpus", Nav: "corpus", F: f, Sorts: corpusSorts}
	var err error
	if d.Counts, err = s.opt.Store.Counts(ctx); err != nil {
		return "", nil, err
	}
	if d.Summary, err = s.corpusSummary(ctx, d.Counts); err != nil {
		return "", nil, err
	}
	seen := map[string]bool{}
	for _, sr := range d.Summary {
		for _, p := range []struct {
			v   string
			out *[]string
		}{{"t" + sr.Task, &d.Tasks}, {"d" + sr.Dataset, &d.Datasets}, {"m" + sr.Metric, &d.Metrics}} {
			if !seen[p.v] {
				seen[p.v] = true
				*p.out = append(*p.out, p.v[1:])
			}
		}
	}
	slices.SortFunc(d.Summary, func(a, b store.SummaryRow) int {
		return cmp.Or(cmp.Compare(b.Models, a.Models), cmp.Compare(a.Dataset, b.Dataset))
	})
	recs, err := s.corpusRows(ctx, filter, f.Sort, d.Counts)
	if err != nil {
		return "", nil, err
	}
	d.Total = len(recs)
	d.Pages = max(1, (d.Total+pageSize-1)/pageSize)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	lo := (d.Page - 1) * pageSize
	for _, rec := range recs[lo:min(lo+pageSize, len(recs))] {
		row := corpusRow{Record: rec, Transform: rec.Transform(), Duration: "-"}
		var hp []string
		for _, it := range rec.Prm {
			if it.Key != "transform" && it.Key != "epoch" {
				hp = append(hp, it.Key+"="+shortValue(it.Value))
			}
		}
		row.HP = strings.Join(hp, " ")
		if rec.Duration != nil {
			row.Duration = fmtSeconds(float64(*rec.Duration) / 1e9)
		}
		d.Rows = append(d.Rows, row)
	}
	page := func(p int) string {
		v := url.Values{}
		for k, x := range q {
			if k != "page" && len(x) > 0 && x[0] != "" {
				v.Set(k, x[0])
			}
		}
		v.Set("page", strconv.Itoa(p))
		return "/corpus?" + v.Encode()
	}
	if d.Page > 1 {
		d.Prev = page(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.Next = page(d.Page + 1)
	}
	return "corpus", d, nil
}

// sortRecords orders rows; "best" puts each dataset's best models first
// (datasets by name), which is how a researcher scans a corpus.
func sortRecords(recs []lemur.Record, by string) {
	slices.SortStableFunc(recs, func(a, b lemur.Record) int {
		switch by {
		case "acc":
			return cmp.Compare(b.Accuracy, a.Accuracy)
		case "nn":
			return cmp.Or(cmp.Compare(a.NN, b.NN), cmp.Compare(a.Epoch, b.Epoch))
		case "epoch":
			return cmp.Or(cmp.Compare(a.Epoch, b.Epoch), cmp.Compare(b.Accuracy, a.Accuracy))
		}
		return cmp.Or(cmp.Compare(a.Task, b.Task), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(b.Accuracy, a.Accuracy))
	})
}

// corpusCache keeps the last data() result and the summary while the
// corpus's counts stay the same: the corpus only grows by admissions, and
// a LEMUR-sized one (280,000 rows) takes seconds to read and sort, which
// a loop's steady writes elsewhere must not trigger again.
type corpusCache struct {
	mu      sync.Mutex
	key     string
	counts  store.Counts
	recs    []lemur.Record
	sumAt   store.Counts
	summary []store.SummaryRow
}

func (s *Server) corpusRows(ctx context.Context, f store.Filter, sortBy string, counts store.Counts) ([]lemur.Record, error) {
	key := fmt.Sprintf("%+v|%s", f, sortBy)
	c := &s.corpus
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recs != nil && c.key == key && c.counts == counts {
		return c.recs, nil
	}
	recs := []lemur.Record{}
	for rec, err := range s.opt.Store.Stats(ctx, f) {
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	sortRecords(recs, sortBy)
	c.key, c.counts, c.recs = key, counts, recs
	return recs, nil
}

func (s *Server) corpusSummary(ctx context.Context, counts store.Counts) ([]store.SummaryRow, error) {
	c := &s.corpus
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.summary != nil && c.sumAt == counts {
		return slices.Clone(c.summary), nil
	}
	sum, err := s.opt.Store.Summary(ctx)
	if err != nil {
		return nil, err
	}
	c.summary, c.sumAt = sum, counts
	return slices.Clone(sum), nil
}
