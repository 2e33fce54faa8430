package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/workspace"
)

// cand is a compact journal row for the fixtures.
type cand struct {
	cycle  int
	state  string
	reason string
	epochs []float64
	params int64
	admit  bool
}

func openWS(t testing.TB) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// putLoop journals a loop and its candidates through the store API.
func putLoop(t testing.TB, st store.Journal, id string, cs []cand) {
	t.Helper()
	ctx := context.Background()
	if err := st.PutLoop(ctx, store.Loop{ID: id, Status: "done", Seed: 7, Cycles: 3, CycleDone: 3}); err != nil {
		t.Fatal(err)
	}
	idx := map[int]int{}
	for i, c := range cs {
		code := fmt.Sprintf("# model %s %d\nclass Net: pass\n", id, i)
		row := store.CandidateRow{
			ID: fmt.Sprintf("%s-c%02d-%02d", id, c.cycle, idx[c.cycle]), LoopID: id, Cycle: c.cycle, Index: idx[c.cycle],
			State: c.state, Reason: c.reason, Name: lemur.ModelName("evolve", code), Code: code, Generator: "evolve",
			Parents: []string{"cnn-tiny", "evolve-0123456789abcdef0123456789abcdef"}, Operators: ops[i%2],
			Pipeline: lemur.Pipeline{Task: "img-classification", Dataset: "shapes", Metric: "acc"},
			Prm:      lemur.Dict{{Key: "lr", Value: 0.0123456}, {Key: "momentum", Value: 0.9}, {Key: "batch", Value: int64(32)}, {Key: "transform", Value: "norm_32"}},
			Epochs:   c.epochs, Params: c.params, Duration: int64(time.Duration(len(c.epochs)) * 1500 * time.Millisecond), Admitted: c.admit,
		}
		idx[c.cycle]++
		if err := st.PutCandidate(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
}

var ops = [][]string{{"conv:insert 3x3 after line 2", "hp:lr=0.01"}, {"activation:one ReLU->GELU"}}

// fixture is three cycles with every outcome a loop produces.
var fixture = []cand{
	{1, store.StateDone, "", []float64{0.41}, 12_000, true},
	{1, store.StateDone, "", []float64{0.22}, 250_000, false},
	{1, store.StateRejected, "unused-hp", nil, 0, false},
	{1, store.StateRejected, "import", nil, 0, false},
	{1, store.StateDuplicate, "code_id", nil, 0, false},
	{2, store.StateDone, "", []float64{0.55}, 48_000, true},
	{2, store.StateDone, "", []float64{0.61}, 1_200_000, true},
	{2, store.StateFailed, "forward", nil, 0, false},
	{2, store.StateRejected, "unused-hp", nil, 0, false},
	{3, store.StateDone, "", []float64{0.70}, 90_000, true},
	{3, store.StatePruned, "predicted-low", []float64{0.15}, 30_000, false},
	{3, store.StateRunning, "", nil, 0, false},
}

func TestBuildCounts(t *testing.T) {
	ws := openWS(t)
	putLoop(t, ws.Store, "L1", fixture)
	r, err := Build(context.Background(), ws.Store, "")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		gen, rej, dup, fail, pruned, trained, adm, pending int
		mean, best                                         float64
	}
	wants := []want{
		{5, 2, 1, 0, 0, 2, 1, 0, (0.41 + 0.22) / 2, 0.41},
		{4, 1, 0, 1, 0, 2, 2, 0, (0.55 + 0.61) / 2, 0.61},
		{3, 0, 0, 0, 1, 1, 1, 1, 0.70, 0.70},
	}
	if len(r.Cycles) != len(wants) {
		t.Fatalf("%d cycles, want %d", len(r.Cycles), len(wants))
	}
	for i, w := range wants {
		c := r.Cycles[i]
		got := want{c.Generated, c.Rejected, c.Duplicates, c.Failed, c.Pruned, c.Trained, c.Admitted, c.Pending, c.Mean, c.Best}
		if !close(got.mean, w.mean) || !close(got.best, w.best) {
			t.Errorf("cycle %d accuracy mean %v best %v, want %v %v", i+1, got.mean, got.best, w.mean, w.best)
		}
		got.mean, got.best = w.mean, w.best
		if got != w {
			t.Errorf("cycle %d = %+v, want %+v", i+1, got, w)
		}
	}
	if r.Total.Generated != 12 || r.Total.Admitted != 4 || r.Total.RejectedBy["unused-hp"] != 2 || r.Total.FailedBy["forward"] != 1 {
		t.Errorf("total %+v", r.Total)
	}
	// Valid rate: admitted over finished (the running candidate is left out).
	if !close(r.Cycles[0].ValidRate, 1.0/5) || !close(r.Cycles[2].ValidRate, 1.0/2) || !close(r.Total.ValidRate, 4.0/11) {
		t.Errorf("valid rates %v %v, total %v", r.Cycles[0].ValidRate, r.Cycles[2].ValidRate, r.Total.ValidRate)
	}
	if !close(r.Total.Mean, (0.41+0.22+0.55+0.61+0.70)/5) || r.Total.Best != 0.70 {
		t.Errorf("total mean %v best %v", r.Total.Mean, r.Total.Best)
	}
	wantOps := []OperatorStats{
		{"activation", 5, 3, 2, (0.22 + 0.55 + 0.70) / 3, 0.70},
		{"conv", 5, 2, 2, (0.41 + 0.61) / 2, 0.61},
		{"hp", 5, 2, 2, (0.41 + 0.61) / 2, 0.61},
	}
	if len(r.Operators) != len(wantOps) {
		t.Fatalf("operators %+v", r.Operators)
	}
	for i, w := range wantOps {
		o := r.Operators[i]
		if o.Operator != w.Operator || o.Used != w.Used || o.Trained != w.Trained || o.Admitted != w.Admitted || !close(o.Mean, w.Mean) || !close(o.Best, w.Best) {
			t.Errorf("operator %d = %+v, want %+v", i, o, w)
		}
	}
	var accs []float64
	for i, e := range r.Leaderboard {
		if e.Rank != i+1 || !e.Admitted {
			t.Errorf("leaderboard row %d: %+v", i, e)
		}
		accs = append(accs, e.Accuracy)
	}
	if fmt.Sprint(accs) != "[0.7 0.61 0.55 0.41]" {
		t.Errorf("leaderboard accuracies %v, want best first", accs)
	}
	if len(r.Trained) != 6 { // 5 done + 1 pruned with an epoch
		t.Errorf("%d trained entries, want 6", len(r.Trained))
	}
	if e := r.Leaderboard[0]; e.HP != "lr=0.01235 momentum=0.9 batch=32" || e.Transform != "norm_32" || e.Task != "img-classification" {
		t.Errorf("entry details %+v", e)
	}
}

func close(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestBuildPicksLoop(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t)
	if _, err := Build(ctx, ws.Store, ""); !errors.Is(err, ErrNoLoop) {
		t.Fatalf("empty workspace: %v, want ErrNoLoop", err)
	}
	putLoop(t, ws.Store, "old", fixture[:2])
	time.Sleep(5 * time.Millisecond) // loops are ordered by creation time
	putLoop(t, ws.Store, "new", fixture[:5])
	tests := []struct {
		id, want, err string
	}{
		{"", "new", ""},
		{"old", "old", ""},
		{"nope", "", `no loop "nope"`},
	}
	for _, tc := range tests {
		r, err := Build(ctx, ws.Store, tc.id)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Build(%q) error %v, want %q", tc.id, err, tc.err)
			}
			continue
		}
		if err != nil || r.Loop.ID != tc.want {
			t.Errorf("Build(%q) = loop %v, %v; want %s", tc.id, r, err, tc.want)
		}
	}
}

func TestWrite(t *testing.T) {
	multi := []cand{
		{1, store.StateDone, "", []float64{0.3, 0.45, 0.5}, 20_000, true},
		{1, store.StateDone, "", []float64{0.2, 0.25}, 80_000, true},
		{2, store.StateDone, "", []float64{0.35, 0.6, 0.58, 0.66}, 150_000, true},
	}
	tests := []struct {
		name   string
		cands  []cand
		plots  []string // stems expected beside report.md
		curves int
	}{
		{"single-epoch runs", fixture, []string{plotOutcomes, plotCycles, plotParams, plotCurves}, 4},
		{"multi-epoch runs", multi, []string{plotOutcomes, plotCycles, plotParams, plotCurves}, 3},
		{"nothing trained", fixture[2:5], []string{plotOutcomes}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := openWS(t)
			putLoop(t, ws.Store, "L", tc.cands)
			r, err := Build(context.Background(), ws.Store, "L")
			if err != nil {
				t.Fatal(err)
			}
			r.Threshold = 0.24
			dir := DefaultDir(ws.Dir, "L")
			if err := r.Write(dir); err != nil {
				t.Fatal(err)
			}
			for _, stem := range tc.plots {
				checkPNG(t, filepath.Join(dir, stem+".png"))
				checkSVG(t, filepath.Join(dir, stem+".svg"))
			}
			curves, _ := filepath.Glob(filepath.Join(dir, CurvesDir, "*.png"))
			svgs, _ := filepath.Glob(filepath.Join(dir, CurvesDir, "*.svg"))
			if len(curves) != tc.curves || len(svgs) != tc.curves {
				t.Errorf("%d PNG and %d SVG curves, want %d each", len(curves), len(svgs), tc.curves)
			}
			for _, c := range curves {
				checkPNG(t, c)
			}
			md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
			if err != nil {
				t.Fatal(err)
			}
			// Every image report.md embeds or links exists.
			links := regexp.MustCompile(`\]\(([^)]+\.(?:png|svg))\)`).FindAllStringSubmatch(string(md), -1)
			if len(links) < 2*len(tc.plots)+tc.curves {
				t.Errorf("report.md links %d images, want at least %d", len(links), 2*len(tc.plots)+tc.curves)
			}
			for _, m := range links {
				if _, err := os.Stat(filepath.Join(dir, m[1])); err != nil {
					t.Errorf("report.md links %s: %v", m[1], err)
				}
			}
			for _, e := range r.Leaderboard {
				if !strings.Contains(string(md), "`"+e.Name+"`") {
					t.Errorf("report.md misses leaderboard model %s", e.Name)
				}
			}
			var back Report
			b, err := os.ReadFile(filepath.Join(dir, JSONFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &back); err != nil || back.Total.Generated != r.Total.Generated || back.Total.Admitted != r.Total.Admitted {
				t.Errorf("report.json does not read back: %v", err)
			}
			if len(back.Leaderboard) != len(r.Leaderboard) {
				t.Errorf("report.json leaderboard %d rows, want %d", len(back.Leaderboard), len(r.Leaderboard))
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Errorf("%s is %dx%d, too small to read", path, b.Dx(), b.Dy())
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("</svg>")) {
		t.Errorf("%s is not an SVG document", path)
	}
}

func TestText(t *testing.T) {
	ws := openWS(t)
	putLoop(t, ws.Store, "L1", fixture)
	r, err := Build(context.Background(), ws.Store, "")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.Text(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"loop L1 (done, seed 7): 3/3 cycles, 12 candidates, 5 trained, 4 admitted",
		"rejected: unused-hp 2, import 1",
		"failed: forward 1",
		"1 candidates not finished",
		"top 4 of 4 admitted:",
		"0.7000    90k",
		"cnn-tiny x evolve-01234567 (activation:one ReLU->GELU)",
		"duplicates skipped: 1 trainings saved (code_id 1)",
		"operators (admitted/used): activation 2/5, conv 2/5, hp 2/5",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output misses %q:\n%s", want, out)
		}
	}
	if lb := out[strings.Index(out, "top 4"):]; strings.Index(lb, "0.7000") > strings.Index(lb, "0.6100") {
		t.Errorf("leaderboard not best first:\n%s", out)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{Params(0), "-"},
		{Params(950), "950"},
		{Params(12_345), "12.3k"},
		{Params(90_000), "90k"},
		{Params(4_560_000), "4.56M"},
		{Dur(0), "-"},
		{Dur(1500 * time.Millisecond), "1.5s"},
		{Dur(125 * time.Second), "2m5s"},
		{ShortName("evolve-0123456789abcdef0123456789abcdef"), "evolve-01234567"},
		{ShortName("cnn-tiny"), "cnn-tiny"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{1, 1}, {12, 1}, {13, 2}, {24, 2}, {25, 5}, {60, 5}, {61, 10}, {100, 10}, {121, 20}, {1000, 100}} {
		if got := niceStep(tc.n); got != tc.want {
			t.Errorf("niceStep(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestReferences(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t)
	putLoop(t, ws.Store, "L1", fixture)
	cs, err := ws.Store.Candidates(ctx, "L1")
	if err != nil {
		t.Fatal(err)
	}
	rec := func(dataset, nn string, epoch int, acc float64) lemur.Record {
		return lemur.NewRecord(lemur.Pipeline{Task: "img-classification", Dataset: dataset, Metric: "acc", NN: nn}, epoch, acc, nil,
			lemur.Dict{{Key: "lr", Value: acc}, {Key: "batch", Value: int64(16)}})
	}
	recs := []lemur.Record{
		rec("shapes", "zoo-a", 1, 0.3), rec("shapes", "zoo-b", 1, 0.5), rec("shapes", "zoo-c", 1, 0.6), rec("shapes", "zoo-c", 1, 0.2),
		rec("shapes", cs[0].Name, 1, 0.99), // the loop's own model: left out
		rec("shapes", "zoo-d", 2, 0.95),    // another epoch
		rec("cifar-10", "zoo-e", 1, 0.9),   // another dataset
	}
	if _, err := ws.Store.AddStats(ctx, recs); err != nil {
		t.Fatal(err)
	}
	r, err := Build(ctx, ws.Store, "L1")
	if err != nil {
		t.Fatal(err)
	}
	want := Reference{Task: "img-classification", Dataset: "shapes", Metric: "acc", Epoch: 1, Models: 3, Median: 0.5, Best: 0.6, BestNN: "zoo-c"}
	if len(r.References) != 1 || r.References[0] != want {
		t.Fatalf("references %+v, want %+v", r.References, want)
	}
	var b bytes.Buffer
	r.Text(&b)
	if !strings.Contains(b.String(), "corpus outside this loop, shapes/acc at epoch 1: 3 models, median 0.5000, best 0.6000 (zoo-c)") {
		t.Errorf("text misses the reference:\n%s", b.String())
	}
	if err := r.Write(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}
