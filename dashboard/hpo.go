package dashboard

import (
	"cmp"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
)

type studiesData struct {
	Title   string
	Nav     string
	Studies []studyRow
}

type studyRow struct {
	Info     hpo.StudyInfo
	Trials   int
	States   []stateCount
	Best     *hpo.Trial
	Last     time.Time
	AttrText string
}

func summariseStudy(info hpo.StudyInfo, ts []hpo.Trial) studyRow {
	row := studyRow{Info: info, Trials: len(ts)}
	counts := map[hpo.State]int{}
	for _, t := range ts {
		counts[t.State]++
		row.Last = later(row.Last, later(t.Started, t.Finished))
	}
	for _, st := range []hpo.State{hpo.Complete, hpo.Pruned, hpo.Failed, hpo.Running, hpo.Waiting} {
		if counts[st] > 0 {
			row.States = append(row.States, stateCount{string(st), counts[st]})
		}
	}
	if b, ok, _ := hpo.BestOf(ts, info.Direction); ok {
		row.Best = &b
	}
	var attrs []string
	for k, v := range info.Attrs {
		attrs = append(attrs, k+"="+v)
	}
	slices.Sort(attrs)
	row.AttrText = strings.Join(attrs, " ")
	return row
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *Server) storage() hpo.StoreStorage { return hpo.StoreStorage{S: s.opt.Store} }

func (s *Server) studiesPage(r *http.Request) (string, any, error) {
	ctx := r.Context()
	infos, err := s.storage().Studies(ctx)
	if err != nil {
		return "", nil, err
	}
	d := studiesData{Title: "HPO studies", Nav: "hpo"}
	for _, info := range infos {
		ts, err := s.storage().Trials(ctx, info.Name)
		if err != nil {
			return "", nil, err
		}
		d.Studies = append(d.Studies, summariseStudy(info, ts))
	}
	return "studies", d, nil
}

type studyData struct {
	Title      string
	Nav        string
	Row        studyRow
	Params     []hpo.Param
	Importance []importance
	Trials     []trialRow
	Total      int
	Page       int
	Pages      int
	Prev, Next string
	State      string
	Charts     studyCharts
}

type trialRow struct {
	hpo.Trial
	Params   []kv
	Duration time.Duration
	IsBest   bool
}

// studyCharts is what the page's script draws: optimisation history,
// intermediate values per trial and parallel coordinates.
type studyCharts struct {
	Direction string      `json:"direction"`
	History   []histPoint `json:"history"`
	Curves    []curve     `json:"curves"`
	Axes      []axis      `json:"axes"`
	Lines     []pcLine    `json:"lines"`
}

type histPoint struct {
	N    int     `json:"n"`
	V    float64 `json:"v"`
	S    string  `json:"s"`
	Best float64 `json:"best"`
}

type curve struct {
	N     int          `json:"n"`
	S     string       `json:"s"`
	Steps [][2]float64 `json:"steps"`
}

type axis struct {
	Name  string   `json:"name"`
	Lo    string   `json:"lo"`
	Hi    string   `json:"hi"`
	Ticks []string `json:"ticks,omitempty"` // categorical choices, bottom to top
}

type pcLine struct {
	N int       `json:"n"`
	S string    `json:"s"`
	X []float64 `json:"x"` // unit coordinates per axis; the last one is the objective; -1: missing
}

func (s *Server) studyPage(r *http.Request) (string, any, error) {
	ctx := r.Context()
	name := r.PathValue("name")
	infos, err := s.storage().Studies(ctx)
	if err != nil {
		return "", nil, err
	}
	i := slices.IndexFunc(infos, func(in hpo.StudyInfo) bool { return in.Name == name })
	if i < 0 {
		return "", nil, notFound("no HPO study %q in this workspace: the HPO page lists them", name)
	}
	info := infos[i]
	ts, err := s.storage().Trials(ctx, name)
	if err != nil {
		return "", nil, err
	}
	d := studyData{Title: "Study " + name, Nav: "hpo", Row: summariseStudy(info, ts), Params: info.Space.Params, State: r.URL.Query().Get("state")}
	d.Charts = studyChartsOf(info, ts)
	d.Importance = paramImportance(info.Space, ts)
	var rows []trialRow
	for _, t := range ts {
		if d.State != "" && string(t.State) != d.State {
			continue
		}
		tr := trialRow{Trial: t, IsBest: d.Row.Best != nil && d.Row.Best.Number == t.Number}
		for _, it := range t.Params {
			tr.Params = append(tr.Params, kv{it.Key, shortValue(it.Value)})
		}
		if !t.Finished.IsZero() && !t.Started.IsZero() {
			tr.Duration = t.Finished.Sub(t.Started)
		}
		rows = append(rows, tr)
	}
	// Newest first: a running study's latest trials are what one watches.
	slices.Reverse(rows)
	d.Total = len(rows)
	d.Pages = max(1, (d.Total+pageSize-1)/pageSize)
	d.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	lo := (d.Page - 1) * pageSize
	d.Trials = rows[lo:min(lo+pageSize, len(rows))]
	page := func(p int) string {
		v := url.Values{"page": {strconv.Itoa(p)}}
		if d.State != "" {
			v.Set("state", d.State)
		}
		return "/hpo/" + url.PathEscape(name) + "?" + v.Encode()
	}
	if d.Page > 1 {
		d.Prev = page(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.Next = page(d.Page + 1)
	}
	return "study", d, nil
}

func studyChartsOf(info hpo.StudyInfo, ts []hpo.Trial) studyCharts {
	ch := studyCharts{Direction: string(info.Direction), History: []histPoint{}, Curves: []curve{}, Axes: []axis{}, Lines: []pcLine{}}
	better := func(a, b float64) bool {
		if info.Direction == hpo.Minimize {
			return a < b
		}
		return a > b
	}
	best, have := 0.0, false
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, t := range ts {
		if (t.State != hpo.Complete && t.State != hpo.Pruned) || math.IsNaN(t.Value) || math.IsInf(t.Value, 0) {
			continue
		}
		if t.State == hpo.Complete && (!have || better(t.Value, best)) {
			best, have = t.Value, true
		}
		ch.History = append(ch.History, histPoint{N: t.Number, V: t.Value, S: string(t.State), Best: best})
		if len(t.Intermediate) > 0 {
			c := curve{N: t.Number, S: string(t.State)}
			for _, st := range t.Intermediate {
				c.Steps = append(c.Steps, [2]float64{float64(st.Step), st.Value})
			}
			ch.Curves = append(ch.Curves, c)
		}
		lo, hi = math.Min(lo, t.Value), math.Max(hi, t.Value)
	}
	sp := info.Space
	for i := range sp.Params {
		p := &sp.Params[i]
		a := axis{Name: p.Name}
		l, h := p.Bounds()
		a.Lo, a.Hi = shortValue(p.External(l)), shortValue(p.External(h))
		if p.Kind == hpo.Categorical {
			a.Ticks = p.Choices
		}
		ch.Axes = append(ch.Axes, a)
	}
	ch.Axes = append(ch.Axes, axis{Name: "objective", Lo: strconv.FormatFloat(lo, 'f', 3, 64), Hi: strconv.FormatFloat(hi, 'f', 3, 64)})
	for _, t := range ts {
		if t.State != hpo.Complete || math.IsNaN(t.Value) || math.IsInf(t.Value, 0) {
			continue
		}
		x := sp.Encode(t.Params)
		line := pcLine{N: t.Number, S: string(t.State), X: make([]float64, len(x)+1)}
		for i, v := range x {
			line.X[i] = -1
			if !math.IsNaN(v) {
				line.X[i] = sp.Params[i].Unit(v)
			}
		}
		line.X[len(x)] = 0.5
		if hi > lo {
			line.X[len(x)] = (t.Value - lo) / (hi - lo)
		}
		ch.Lines = append(ch.Lines, line)
	}
	return ch
}

// shortValue prints a hyperparameter for reading: floats to 4 significant
// digits (the exact values are in the store and the repro data).
func shortValue(v lemur.Value) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'g', 4, 64)
	}
	return lemur.Repr(v)
}

// importance is one parameter's share of the objective's variance.
type importance struct {
	Name  string
	Eta2  float64 // between-bin variance / total variance
	Share float64 // Eta2 normalised over all parameters, in percent
}

// importanceBins is how many quantile bins a numeric parameter gets.
const importanceBins = 6

// paramImportance ranks parameters by a one-way analysis of variance of
// the complete trials' objective: numeric values in quantile bins,
// categoricals by choice; eta squared is the variance the bins explain. It
// is the marginal view (no interactions), cheap enough for any study size;
// fANOVA over a fitted forest would add interactions.
func paramImportance(sp *hpo.Space, ts []hpo.Trial) []importance {
	var xs [][]float64
	var ys []float64
	for _, t := range ts {
		if t.State == hpo.Complete && !math.IsNaN(t.Value) {
			xs = append(xs, sp.Encode(t.Params))
			ys = append(ys, t.Value)
		}
	}
	if len(ys) < 4 {
		return nil
	}
	mean := 0.0
	for _, y := range ys {
		mean += y
	}
	mean /= float64(len(ys))
	total := 0.0
	for _, y := range ys {
		total += (y - mean) * (y - mean)
	}
	if total == 0 {
		return nil
	}
	var out []importance
	sum := 0.0
	for i := range sp.Params {
		type obs struct{ x, y float64 }
		var os []obs
		for k := range xs {
			if !math.IsNaN(xs[k][i]) {
				os = append(os, obs{xs[k][i], ys[k]})
			}
		}
		if len(os) < 4 {
			continue
		}
		slices.SortFunc(os, func(a, b obs) int { return cmp.Compare(a.x, b.x) })
		bin := make([]int, len(os))
		distinct := 1
		for k := 1; k < len(os); k++ {
			if os[k].x != os[k-1].x {
				distinct++
			}
		}
		// Each value its own group only where there are few; many groups
		// of one trial each would explain all the variance by themselves.
		if sp.Params[i].Kind == hpo.Categorical || distinct <= 2*importanceBins {
			b := 0
			for k := 1; k < len(os); k++ {
				if os[k].x != os[k-1].x {
					b++
				}
				bin[k] = b
			}
		} else {
			for k := range os {
				bin[k] = k * importanceBins / len(os)
			}
		}
		sums, ns := map[int]float64{}, map[int]int{}
		for k, o := range os {
			sums[bin[k]] += o.y
			ns[bin[k]]++
		}
		between := 0.0
		for b, n := range ns {
			m := sums[b] / float64(n)
			between += float64(n) * (m - mean) * (m - mean)
		}
		imp := importance{Name: sp.Params[i].Name, Eta2: between / total}
		sum += imp.Eta2
		out = append(out, imp)
	}
	for i := range out {
		if sum > 0 {
			out[i].Share = 100 * out[i].Eta2 / sum
		}
	}
	slices.SortFunc(out, func(a, b importance) int { return cmp.Compare(b.Eta2, a.Eta2) })
	return out
}
