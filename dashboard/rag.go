package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/store"
)

type ragData struct {
	Title    string
	Nav      string
	Blocks   []store.RAGBlock
	Levels   []stateCount
	MinLevel int
	Repo     string
	Query    string
	Total    int
}

func (s *Server) ragPage(r *http.Request) (string, any, error) {
	q := r.URL.Query()
	d := ragData{Title: "Block library", Nav: "rag", Repo: q.Get("repo"), Query: strings.TrimSpace(q.Get("q")), MinLevel: -1}
	if v := q.Get("min_level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 || n > 2 {
			return "", nil, badRequest("min_level %q: want -1 (all), 0, 1 or 2", v)
		}
		d.MinLevel = n
	}
	all, err := s.opt.Store.Blocks(r.Context(), store.RAGFilter{MinLevel: -1})
	if err != nil {
		return "", nil, err
	}
	d.Total = len(all)
	counts := map[int]int{}
	needle := strings.ToLower(d.Query)
	for _, b := range all {
		counts[b.Level]++
		if b.Level < d.MinLevel || (d.Repo != "" && b.Repo != d.Repo) ||
			(needle != "" && !strings.Contains(strings.ToLower(b.Name+" "+b.Repo+" "+b.Error), needle)) {
			continue
		}
		b.Code = "" // the list shows no code; keep the page small
		d.Blocks = append(d.Blocks, b)
	}
	for lv := 2; lv >= -1; lv-- {
		if counts[lv] > 0 {
			d.Levels = append(d.Levels, stateCount{levelName(lv), counts[lv]})
		}
	}
	return "rag", d, nil
}

func levelName(l int) string {
	switch l {
	case 2:
		return "level 2: builds and runs forward"
	case 1:
		return "level 1: executes as a module"
	case 0:
		return "level 0: does not execute"
	}
	return "not validated"
}

type blockData struct {
	Title string
	Nav   string
	B     store.RAGBlock
	Code  []diffLine
	Level string
}

func (s *Server) blockPage(r *http.Request) (string, any, error) {
	b, ok, err := s.opt.Store.Block(r.Context(), r.PathValue("name"))
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, notFound("no block %q in the library: the block library page lists them", r.PathValue("name"))
	}
	return "block", blockData{Title: b.Name, Nav: "rag", B: b, Code: plainLines(b.Code), Level: levelName(b.Level)}, nil
}
