package dashboard

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nngpt/nngpt/report"
	"github.com/nngpt/nngpt/store"
)

// pageSize is how many rows a table page shows; filters and sorting run
// over all rows on the server, so a 10,000-candidate loop stays fast.
const pageSize = 100

// table is the candidates table of a loop page.
type table struct {
	Rows    []candRow
	Total   int // rows after the filter
	All     int
	Page    int
	Pages   int
	State   string
	Query   string
	MinAcc  string
	Sort    string
	Desc    bool
	Base    string // the loop page's path
	States  []stateCount
	Columns []column
	Prev    string
	Next    string
}

type stateCount struct {
	State string
	N     int
}

type column struct {
	Key, Label, Href string
	Active, Desc     bool
	Num              bool
}

type candRow struct {
	ID, Name, Short, State, Reason, Detail string
	Cycle, Index                           int
	Acc                                    float64
	HasAcc                                 bool
	Epochs                                 int
	Params                                 int64
	Time                                   time.Duration
	Parents                                []string
	Operators                              []string
	Admitted                               bool
	Generator                              string
}

var sortKeys = []struct{ key, label string }{
	{"cycle", "cycle"}, {"name", "candidate"}, {"state", "state"}, {"acc", "accuracy"},
	{"params", "params"}, {"time", "train time"},
}

func candidateTable(q url.Values, cs []store.CandidateRow, base string) (table, error) {
	t := table{Base: base, All: len(cs), State: q.Get("state"), Query: strings.TrimSpace(q.Get("q")),
		MinAcc: strings.TrimSpace(q.Get("min_acc")), Sort: q.Get("sort"), Desc: q.Get("dir") == "desc"}
	if t.Sort == "" {
		t.Sort, t.Desc = "cycle", false
	}
	if !slices.ContainsFunc(sortKeys, func(k struct{ key, label string }) bool { return k.key == t.Sort }) {
		return t, badRequest("sort %q: want one of cycle, name, state, acc, params, time", t.Sort)
	}
	minAcc := -1.0
	if t.MinAcc != "" {
		v, err := strconv.ParseFloat(t.MinAcc, 64)
		if err != nil || v < 0 || v > 1 {
			return t, badRequest("min_acc %q: want an accuracy between 0 and 1", t.MinAcc)
		}
		minAcc = v
	}
	counts := map[string]int{}
	needle := strings.ToLower(t.Query)
	var rows []candRow
	for i := range cs {
		c := &cs[i]
		counts[c.State]++
		if t.State != "" && !stateMatches(t.State, c) {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(c.Name+" "+c.ID+" "+c.Reason+" "+strings.Join(c.Operators, " ")+" "+
			strings.Join(c.Parents, " ")), needle) {
			continue
		}
		if minAcc >= 0 && (len(c.Epochs) == 0 || c.Best() < minAcc) {
			continue
		}
		rows = append(rows, rowOf(c))
	}
	for _, k := range []string{store.StateGenerated, store.StateGated, store.StateQueued, store.StateRunning, store.StateDone,
		store.StatePruned, store.StateFailed, store.StateRejected, store.StateDuplicate} {
		if counts[k] > 0 {
			t.States = append(t.States, stateCount{k, counts[k]})
		}
	}
	sortRows(rows, t.Sort, t.Desc)
	t.Total = len(rows)
	t.Pages = max(1, (t.Total+pageSize-1)/pageSize)
	t.Page, _ = strconv.Atoi(q.Get("page"))
	t.Page = min(max(t.Page, 1), t.Pages)
	lo := (t.Page - 1) * pageSize
	t.Rows = rows[lo:min(lo+pageSize, len(rows))]
	link := func(mod func(v url.Values)) string {
		v := url.Values{}
		for _, k := range []string{"state", "q", "min_acc", "sort", "dir", "page"} {
			if x := q.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		mod(v)
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	for _, k := range sortKeys {
		col := column{Key: k.key, Label: k.label, Active: k.key == t.Sort, Desc: t.Desc, Num: k.key == "acc" || k.key == "params" || k.key == "time"}
		desc := col.Num // numbers sort best first on the first click
		if col.Active {
			desc = !t.Desc
		}
		col.Href = link(func(v url.Values) {
			v.Set("sort", k.key)
			v.Del("page")
			v.Del("dir")
			if desc {
				v.Set("dir", "desc")
			}
		})
		t.Columns = append(t.Columns, col)
	}
	if t.Page > 1 {
		t.Prev = link(func(v url.Values) { v.Set("page", strconv.Itoa(t.Page-1)) })
	}
	if t.Page < t.Pages {
		t.Next = link(func(v url.Values) { v.Set("page", strconv.Itoa(t.Page+1)) })
	}
	return t, nil
}

// stateMatches accepts a state or one of the groups trained (done or
// pruned) and pending (not final yet).
func stateMatches(want string, c *store.CandidateRow) bool {
	switch want {
	case "trained":
		return c.State == store.StateDone || c.State == store.StatePruned
	case "pending":
		return !store.Final(c.State)
	case "admitted":
		return c.Admitted
	}
	return c.State == want
}

func rowOf(c *store.CandidateRow) candRow {
	r := candRow{ID: c.ID, Name: c.Name, Short: report.ShortName(c.Name), State: c.State, Reason: c.Reason, Detail: firstLine(c.Detail),
		Cycle: c.Cycle, Index: c.Index, Epochs: len(c.Epochs), Params: c.Params, Time: time.Duration(c.Duration),
		Parents: c.Parents, Operators: c.Operators, Admitted: c.Admitted, Generator: c.Generator}
	if len(c.Epochs) > 0 {
		r.Acc, r.HasAcc = c.Best(), true
	}
	return r
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func sortRows(rows []candRow, key string, desc bool) {
	order := func(a, b candRow) int {
		switch key {
		case "name":
			return cmp.Compare(a.Name, b.Name)
		case "state":
			return cmp.Compare(a.State, b.State)
		case "acc":
			// Rows without an accuracy sort last in both directions.
			if a.HasAcc != b.HasAcc {
				if a.HasAcc == desc {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.Acc, b.Acc)
		case "params":
			return cmp.Compare(a.Params, b.Params)
		case "time":
			return cmp.Compare(a.Time, b.Time)
		}
		return 0
	}
	slices.SortStableFunc(rows, func(a, b candRow) int {
		c := order(a, b)
		if desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.Cycle, b.Cycle), cmp.Compare(a.Index, b.Index))
	})
}

// maxLineage caps the lineage tree: beyond it only the ancestry of the
// best candidates is drawn, which is what a reader follows.
const maxLineage = 300

// lineage is a parent -> child graph laid out by cycle: column 0 holds
// corpus models (the seeds), column k the candidates of cycle k.
type lineage struct {
	Nodes  []lnode  `json:"nodes"`
	Edges  [][2]int `json:"edges"`
	Cut    bool     `json:"cut,omitempty"` // only the best ones' ancestry is shown
	Cycles int      `json:"cycles"`
}

type lnode struct {
	ID    string  `json:"id,omitempty"` // candidate id; empty for a corpus model
	Name  string  `json:"n"`
	Col   int     `json:"c"`
	Row   int     `json:"r"`
	State string  `json:"s"`
	Acc   float64 `json:"a,omitempty"`
	Adm   bool    `json:"adm,omitempty"`
}

func lineageOf(cs []store.CandidateRow, limit int) *lineage {
	byName := map[string]int{}
	for i := range cs {
		if _, ok := byName[cs[i].Name]; !ok && cs[i].Name != "" {
			byName[cs[i].Name] = i
		}
	}
	keep := make([]bool, len(cs))
	lg := &lineage{Nodes: []lnode{}, Edges: [][2]int{}}
	// Candidates without parents (or rejected before anything was made of
	// them) say nothing about lineage unless nothing else exists.
	n := 0
	for i := range cs {
		if len(cs[i].Parents) > 0 {
			keep[i] = true
			n++
		}
	}
	if n > limit {
		lg.Cut = true
		clear(keep)
		idx := make([]int, 0, len(cs))
		for i := range cs {
			if cs[i].State == store.StateDone {
				idx = append(idx, i)
			}
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(cs[b].Best(), cs[a].Best()) })
		// Breadth first from the best down: each best candidate's nearest
		// ancestors before anyone's distant ones.
		kept := 0
		for _, i := range idx {
			queue := []int{i}
			for len(queue) > 0 && kept < limit {
				k := queue[0]
				queue = queue[1:]
				if keep[k] {
					continue
				}
				keep[k] = true
				kept++
				for _, p := range cs[k].Parents {
					if j, ok := byName[p]; ok && cs[j].Cycle < cs[k].Cycle {
						queue = append(queue, j)
					}
				}
			}
			if kept >= limit {
				break
			}
		}
	}
	node := map[string]int{} // name -> node index
	rows := map[int]int{}
	add := func(nd lnode) int {
		nd.Row = rows[nd.Col]
		rows[nd.Col]++
		lg.Nodes = append(lg.Nodes, nd)
		return len(lg.Nodes) - 1
	}
	for i := range cs {
		if !keep[i] {
			continue
		}
		c := &cs[i]
		nd := lnode{ID: c.ID, Name: report.ShortName(c.Name), Col: c.Cycle, State: c.State, Adm: c.Admitted}
		if len(c.Epochs) > 0 {
			nd.Acc = c.Best()
		}
		node[c.Name] = add(nd)
		lg.Cycles = max(lg.Cycles, c.Cycle)
	}
	for i := range cs {
		if !keep[i] {
			continue
		}
		child := node[cs[i].Name]
		for _, p := range cs[i].Parents {
			j, ok := node[p]
			if !ok {
				if _, inLoop := byName[p]; inLoop {
					continue // a candidate of this loop left out of a cut tree
				}
				j = add(lnode{Name: report.ShortName(p), Col: 0, State: "corpus"})
				node[p] = j
			}
			lg.Edges = append(lg.Edges, [2]int{j, child})
		}
	}
	return lg
}
