package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/report"
	"github.com/nngpt/nngpt/store"
)

// candidateID splits <loop>-c<cycle>-<index>.
var candidateID = regexp.MustCompile(`^(.+)-c\d+-\d+$`)

type candidateData struct {
	Title     string
	Nav       string
	C         store.CandidateRow
	Row       candRow
	Loop      store.Loop
	Entry     report.Entry
	Parents   []parentView
	Children  []candRow
	HP        []kv
	Transform string
	Repro     string
	Run       *store.Run
	Prompt    string
	Reply     string
	Corpus    []lemur.Record
	HasCurve  bool
	Code      []diffLine // the code when it has no parent
}

type parentView struct {
	Name   string
	Short  string
	ID     string // candidate id when the parent is a candidate of this loop
	Corpus bool   // the parent is a corpus model
	Diff   []diffLine
	Found  bool
	Adds   int
	Dels   int
}

type kv struct{ K, V string }

// maxText caps what the page shows of a prompt, reply or log file.
const maxText = 256 << 10

func (s *Server) findCandidate(ctx context.Context, id string) (store.Loop, []store.CandidateRow, int, error) {
	m := candidateID.FindStringSubmatch(id)
	if m == nil {
		return store.Loop{}, nil, 0, notFound("%q is not a candidate id (want <loop id>-c<cycle>-<index>, as the loop page links)", id)
	}
	l, cs, err := s.loadLoop(ctx, m[1])
	if err != nil {
		return l, nil, 0, err
	}
	for i := range cs {
		if cs[i].ID == id {
			return l, cs, i, nil
		}
	}
	return l, nil, 0, notFound("loop %s has no candidate %q", l.ID, id)
}

func (s *Server) candidatePage(r *http.Request) (string, any, error) {
	ctx := r.Context()
	l, cs, i, err := s.findCandidate(ctx, r.PathValue("id"))
	if err != nil {
		return "", nil, err
	}
	c := cs[i]
	d := candidateData{Title: report.ShortName(c.Name), Nav: "loops", C: c, Row: rowOf(&c), Loop: l, Entry: report.EntryOf(&c),
		HasCurve: len(c.Epochs) > 0}
	d.Transform, _ = c.Prm.String("transform")
	for _, it := range c.Prm {
		if it.Key != "transform" {
			d.HP = append(d.HP, kv{it.Key, lemur.Repr(it.Value)})
		}
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(c.Repro), "", "  ") == nil {
		d.Repro = pretty.String()
	} else {
		d.Repro = c.Repro
	}
	byName := map[string]int{}
	for j := range cs {
		if _, ok := byName[cs[j].Name]; !ok {
			byName[cs[j].Name] = j
		}
		for _, p := range cs[j].Parents {
			if p == c.Name && cs[j].ID != c.ID {
				d.Children = append(d.Children, rowOf(&cs[j]))
			}
		}
	}
	for _, p := range c.Parents {
		pv := parentView{Name: p, Short: report.ShortName(p)}
		code := ""
		if j, ok := byName[p]; ok {
			pv.ID, code, pv.Found = cs[j].ID, cs[j].Code, true
		} else if pc, ok, err := s.opt.Store.Code(ctx, store.KindNN, p); err != nil {
			return "", nil, err
		} else if ok {
			pv.Corpus, code, pv.Found = true, pc.Code, true
		}
		if pv.Found {
			pv.Diff = diffLines(code, c.Code)
			for _, dl := range pv.Diff {
				switch dl.Op {
				case '+':
					pv.Adds++
				case '-':
					pv.Dels++
				}
			}
		}
		d.Parents = append(d.Parents, pv)
	}
	if len(c.Parents) == 0 {
		d.Code = plainLines(c.Code)
	}
	// The newest run record of this model: stage reached, failure and log tail.
	for run, err := range s.opt.Store.ListRuns(ctx, store.RunFilter{NN: c.Name, Limit: 1}) {
		if err != nil {
			return "", nil, err
		}
		d.Run = &run
	}
	if c.Admitted || c.State == store.StateDone {
		for rec, err := range s.opt.Store.Stats(ctx, store.Filter{NN: c.Name, MaxRows: 200}) {
			if err != nil {
				return "", nil, err
			}
			d.Corpus = append(d.Corpus, rec)
		}
	}
	d.Prompt, d.Reply = s.llmText(c.CodeID)
	return "candidate", d, nil
}

// llmText reads an LLM candidate's prompt and reply where `nngpt generate`
// stored them (candidates/<code id>/); the loop's journal keeps only the
// prompt's hash.
func (s *Server) llmText(codeID string) (prompt, reply string) {
	if s.opt.WorkspaceDir == "" || codeID == "" || !lemur.IsHexID(codeID) {
		return "", ""
	}
	dir := filepath.Join(s.opt.WorkspaceDir, "candidates", codeID)
	return readCapped(filepath.Join(dir, "prompt.txt")), readCapped(filepath.Join(dir, "reply.txt"))
}

func readCapped(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxText+1))
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	if len(b) > maxText {
		return string(b[:maxText]) + "\n… (cut at 256 KiB)"
	}
	return string(b)
}

func (s *Server) candidateCurve(w http.ResponseWriter, r *http.Request) {
	l, cs, i, err := s.findCandidate(r.Context(), r.PathValue("id"))
	if err != nil {
		httpFail(w, err)
		return
	}
	rep := report.FromCandidates(l, cs)
	b, err := rep.CurveSVG(report.EntryOf(&cs[i]))
	if err != nil {
		httpFail(w, err)
		return
	}
	if b == nil {
		httpFail(w, notFound("candidate %s has no finished epoch yet", cs[i].ID))
		return
	}
	svgResponse(w, b)
}
