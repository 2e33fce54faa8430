// Package storetest is the behaviour suite every store.Store passes: the
// same tests run against store/sqlite and store/postgres, so the two never
// drift apart. A backend gives the suite empty stores; each can be opened
// more than once, as several coordinators open one corpus.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// Fresh makes an empty store and returns a function that opens a handle
// onto it; every call opens another handle (another coordinator's view of
// the same corpus). Handles are closed by the suite.
type Fresh func(t *testing.T) (open func(t *testing.T) store.Store)

// Run runs the whole suite.
func Run(t *testing.T, fresh Fresh) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"AddStatsIdempotent", testAddStatsIdempotent},
		{"BulkAddStatsRollsBack", testBulkAddStatsRollsBack},
		{"BulkAddStatsChunks", testBulkAddStatsChunks},
		{"StatsFilters", testStatsFilters},
		{"PutCode", testPutCode},
		{"Codes", testCodes},
		{"Runs", testRuns},
		{"Dedup", testDedup},
		{"Journal", testJournal},
		{"HPO", testHPO},
		{"HPOShared", testHPOShared},
		{"RAG", testRAG},
		{"Claims", testClaims},
		{"ClaimsShared", testClaimsShared},
		{"SharedCorpus", testSharedCorpus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
}

// Open opens a handle and closes it when the test ends.
func Open(t *testing.T, open func(t *testing.T) store.Store) store.Store {
	t.Helper()
	s := open(t)
	t.Cleanup(func() { s.Close() })
	return s
}

func rec(nn string, epoch int, acc float64, lr float64) lemur.Record {
	return lemur.NewRecord(lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: nn}, epoch, acc, nil,
		lemur.Dict{{Key: "lr", Value: lr}, {Key: "batch", Value: int64(32)}, {Key: "transform", Value: "norm_32"}})
}

// Collect reads every stat row matching f.
func Collect(t *testing.T, s store.Store, f store.Filter) []lemur.Record {
	t.Helper()
	var out []lemur.Record
	for r, err := range s.Stats(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func testAddStatsIdempotent(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	d := int64(123456789)
	withDur := rec("B", 1, 0.4, 0.1)
	withDur = lemur.NewRecord(withDur.Pipeline, 1, 0.4, &d, withDur.Prm)
	recs := []lemur.Record{rec("A", 1, 0.5, 0.1), rec("A", 1, 0.6, 0.2), rec("A", 2, 0.7, 0.1), withDur}
	res, err := db.AddStats(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 4 || res.Present != 0 {
		t.Fatalf("first add %+v", res)
	}
	res, err = db.AddStats(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 0 || res.Present != 4 {
		t.Fatalf("second add %+v, want everything present", res)
	}
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Records != 4 || c.Pipelines != 2 || c.Models != 2 {
		t.Fatalf("counts %+v", c)
	}
	got := Collect(t, db, store.Filter{NN: "B"})
	if len(got) != 1 || got[0].Duration == nil || *got[0].Duration != d || got[0].ID != withDur.ID || got[0].UID != withDur.UID {
		t.Fatalf("record with duration read back as %+v", got)
	}
	if got := Collect(t, db, store.Filter{NN: "A", Epoch: 2, EpochSet: true}); len(got) != 1 || got[0].Duration != nil {
		t.Fatalf("record without duration read back as %+v", got)
	}
	if _, err := db.AddStats(ctx, []lemur.Record{{Pipeline: recs[0].Pipeline}}); err == nil {
		t.Fatal("a record without id or uid was accepted")
	}
}

func testBulkAddStatsRollsBack(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	boom := errors.New("boom")
	_, err := db.BulkAddStats(ctx, func(add func([]lemur.Record) error) error {
		if err := add([]lemur.Record{rec("A", 1, 0.5, 0.1)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if got := Collect(t, db, store.Filter{}); len(got) != 0 {
		t.Fatalf("%d rows landed from a failed import", len(got))
	}
	if _, err := db.AddStats(ctx, []lemur.Record{rec("A", 1, 0.5, 0.1)}); err != nil {
		t.Fatal(err)
	}
	if got := Collect(t, db, store.Filter{}); len(got) != 1 || len(got[0].Prm) != 3 {
		t.Fatalf("after a failed import, a good one stored %v", got)
	}
}

// testBulkAddStatsChunks: several add calls, duplicates across and within
// them, are counted once.
func testBulkAddStatsChunks(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	var all []lemur.Record
	for i := range 300 {
		all = append(all, rec(fmt.Sprintf("M%d", i%7), 1+i%3, float64(i)/1000, float64(i%11)/100))
	}
	res, err := db.BulkAddStats(ctx, func(add func([]lemur.Record) error) error {
		for start := 0; start < len(all); start += 100 {
			if err := add(all[start : start+100]); err != nil {
				return err
			}
		}
		return add(all[:10]) // again
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 300 || res.Present != 10 {
		t.Fatalf("bulk add %+v, want 300 added, 10 present", res)
	}
	if got := Collect(t, db, store.Filter{}); len(got) != 300 {
		t.Fatalf("%d rows stored", len(got))
	}
}

func testStatsFilters(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	recs := []lemur.Record{
		rec("A", 1, 0.5, 0.1), rec("A", 1, 0.6, 0.2), rec("A", 1, 0.6, 0.3), // tie for best
		rec("A", 2, 0.7, 0.1), rec("B", 1, 0.4, 0.1),
	}
	if _, err := db.AddStats(ctx, recs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    store.Filter
		want int
	}{
		{"all", store.Filter{}, 5},
		{"nn", store.Filter{NN: "A"}, 4},
		{"epoch", store.Filter{Epoch: 1, EpochSet: true}, 4},
		{"best keeps ties", store.Filter{BestOnly: true}, 4},
		{"best of A epoch 1", store.Filter{BestOnly: true, NN: "A", Epoch: 1, EpochSet: true}, 2},
		{"max rows", store.Filter{MaxRows: 2}, 2},
		{"no match", store.Filter{Dataset: "mnist"}, 0},
		{"task dataset metric", store.Filter{Task: "img-classification", Dataset: "cifar-10", Metric: "acc"}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Collect(t, db, tc.f); len(got) != tc.want {
				t.Fatalf("%d rows, want %d", len(got), tc.want)
			}
		})
	}
	got := Collect(t, db, store.Filter{NN: "A", Epoch: 1, EpochSet: true})
	if got[0].Accuracy != 0.6 || got[2].Accuracy != 0.5 {
		t.Fatalf("not sorted by accuracy descending: %v %v", got[0].Accuracy, got[2].Accuracy)
	}
	if lr, _ := got[2].Prm.Float("lr"); lr != 0.1 || got[2].Prm[0].Key != "lr" || lemur.Repr(got[2].Prm) != "{'lr': 0.1, 'batch': 32, 'transform': 'norm_32'}" {
		t.Fatalf("hyperparameters not read back in order with their types: %v", lemur.Repr(got[2].Prm))
	}
	all := Collect(t, db, store.Filter{})
	if all[0].NN != "A" || all[0].Epoch != 1 || all[3].Epoch != 2 || all[4].NN != "B" {
		t.Fatalf("not ordered by nn and epoch: %v", all)
	}
	sum, err := db.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1 || sum[0].Models != 2 || sum[0].Trials != 3 || sum[0].Records != 5 || sum[0].BestAccuracy != 0.7 || sum[0].MaxEpoch != 2 {
		t.Fatalf("summary %+v", sum)
	}
}

func testPutCode(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	tests := []struct {
		code           string
		added, present int
	}{
		{"x = 1", 1, 0},
		{"x = 1", 0, 1},
		{"x = 2", 1, 0}, // new code under the same name replaces it, as LEMUR does
	}
	for i, tc := range tests {
		res, err := db.PutCode(ctx, store.Code{Kind: store.KindNN, Name: "M", Code: tc.code})
		if err != nil {
			t.Fatal(err)
		}
		if res.Added != tc.added || res.Present != tc.present {
			t.Fatalf("step %d: %+v", i, res)
		}
	}
	c, ok, err := db.Code(ctx, store.KindNN, "M")
	if err != nil || !ok || c.Code != "x = 2" || c.ID != lemur.CodeID("x = 2") {
		t.Fatalf("code %+v %v %v", c, ok, err)
	}
	if c2, ok, _ := db.CodeByID(ctx, store.KindNN, lemur.CodeID("x=2")); !ok || c2.Name != "M" {
		t.Fatal("CodeByID did not find the code by its whitespace-free id")
	}
	if _, ok, err := db.Code(ctx, store.KindTransform, "M"); ok || err != nil {
		t.Fatalf("a code of another table was found: %v %v", ok, err)
	}
	if _, err := db.PutCode(ctx, store.Code{Kind: "bogus", Name: "M"}); err == nil {
		t.Fatal("accepted an unknown code table")
	}
	if _, err := db.PutCode(ctx, store.Code{Kind: store.KindNN}); err == nil {
		t.Fatal("accepted a code without a name")
	}
}

func testCodes(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	for _, n := range []string{"evolve-b", "ResNet", "evolve-a", "AlexNet"} {
		if _, err := db.PutCode(ctx, store.Code{Kind: store.KindNN, Name: n, Code: "# " + n}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(prefix string) string {
		var out []string
		for c, err := range db.Codes(ctx, store.KindNN, prefix) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, c.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(""); got != "AlexNet,ResNet,evolve-a,evolve-b" {
		t.Errorf("all codes %s (byte order)", got)
	}
	if got := names("evolve-"); got != "evolve-a,evolve-b" {
		t.Errorf("prefix evolve-: %s", got)
	}
	if got := names("zzz"); got != "" {
		t.Errorf("prefix zzz: %s", got)
	}
	c, err := db.Counts(ctx)
	if err != nil || c.Codes != 4 || c.Models != 4 || c.Records != 0 {
		t.Fatalf("counts %+v %v", c, err)
	}
}

func testRuns(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	loss := 1.25
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	ok := store.Run{
		ID: "r1", Origin: "check", NN: "SimpleCNN", CodeID: "abc", Task: "img-classification", Dataset: "shapes",
		Metric: "acc", Transform: "norm", UID: "u1",
		Prm:   lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "batch", Value: int64(64)}, {Key: "transform", Value: "norm"}},
		Batch: 64, EpochsRequested: 2, Status: "ok", Stage: "done", Params: 57290, Torch: "1.13", Device: "cpu",
		Threads: 2, Isolation: "bwrap", Seed: 7, DatasetID: "shapes-x", SplitID: "s1",
		Epochs:       []store.RunEpoch{{Epoch: 1, Accuracy: 0.4, Duration: 10, TrainLoss: &loss}, {Epoch: 2, Accuracy: 0.5, Duration: 20}},
		BestAccuracy: 0.5, StartedAt: t0, FinishedAt: t0.Add(time.Second),
	}
	bad := store.Run{ID: "r2", NN: "Broken", Status: "failed", Stage: "forward", FailureKind: "shape",
		FailureMessage: "want (64, 10)", LogTail: "tb", StartedAt: t0.Add(time.Hour), FinishedAt: t0.Add(time.Hour)}
	for _, r := range []store.Run{ok, bad} {
		if err := db.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, found, err := db.GetRun(ctx, "r1")
	if err != nil || !found {
		t.Fatalf("GetRun: %v %v", found, err)
	}
	if !reflect.DeepEqual(got, ok) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, ok)
	}
	if _, found, _ := db.GetRun(ctx, "nope"); found {
		t.Fatal("found a run that was never stored")
	}
	tests := []struct {
		f    store.RunFilter
		want []string
	}{
		{store.RunFilter{}, []string{"r2", "r1"}},
		{store.RunFilter{Status: "failed"}, []string{"r2"}},
		{store.RunFilter{FailureKind: "shape"}, []string{"r2"}},
		{store.RunFilter{NN: "SimpleCNN", Dataset: "shapes"}, []string{"r1"}},
		{store.RunFilter{Origin: "check"}, []string{"r1"}},
		{store.RunFilter{Limit: 1}, []string{"r2"}},
	}
	for _, tc := range tests {
		var ids []string
		for r, err := range db.ListRuns(ctx, tc.f) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("ListRuns(%+v) = %v, want %v", tc.f, ids, tc.want)
		}
	}
	ok.Status = "stopped"
	if err := db.PutRun(ctx, ok); err != nil {
		t.Fatal(err)
	}
	got, _, _ = db.GetRun(ctx, "r1")
	if got.Status != "stopped" {
		t.Fatalf("replace: status %q", got.Status)
	}
	if err := db.PutRun(ctx, store.Run{ID: "x"}); err == nil {
		t.Fatal("a run without nn and status was accepted")
	}
}

func testDedup(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	id := func(c byte) string { return strings.Repeat(string(c), 32) }
	in := []store.DedupEntry{
		{CodeID: id('a'), Normalised: id('b'), Structure: id('c'), Name: "cand-1", Source: store.DedupCandidate, Version: 1},
		{CodeID: id('d'), Normalised: id('e'), Structure: id('f'), Name: "ResNet", Source: store.DedupCorpus, Version: 1},
		{CodeID: id('a'), Normalised: id('9'), Structure: id('9'), Name: "old", Source: store.DedupCorpus, Version: 0},
	}
	if err := db.PutDedupEntries(ctx, in); err != nil {
		t.Fatal(err)
	}
	// The same code again as a candidate changes nothing; as a corpus model
	// (the candidate was trained and registered) it takes the corpus name.
	if err := db.PutDedupEntries(ctx, []store.DedupEntry{
		{CodeID: id('d'), Normalised: id('e'), Structure: id('f'), Name: "cand-2", Source: store.DedupCandidate, Version: 1},
		{CodeID: id('a'), Normalised: id('b'), Structure: id('c'), Name: "gen-aaaa", Source: store.DedupCorpus, Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string]store.DedupEntry{}
	for e, err := range db.DedupEntries(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		got[e.CodeID] = e
	}
	if len(got) != 2 {
		t.Fatalf("version 1 has %d entries, want 2: %v", len(got), got)
	}
	if e := got[id('a')]; e.Name != "gen-aaaa" || e.Source != store.DedupCorpus || e.Normalised != id('b') {
		t.Errorf("promoted entry = %+v", e)
	}
	if e := got[id('d')]; e.Name != "ResNet" || e.Source != store.DedupCorpus {
		t.Errorf("corpus entry = %+v", e)
	}
	bad := []store.DedupEntry{{CodeID: id('x'), Normalised: id('y'), Structure: id('z'), Name: "n", Source: "somewhere", Version: 1}}
	if err := db.PutDedupEntries(ctx, bad); err == nil || !strings.Contains(err.Error(), "source") {
		t.Fatalf("bad source: err = %v", err)
	}
}

func testJournal(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	l := store.Loop{ID: "L1", Status: "running", Config: `{"cycles":3}`, Seed: 7, Cycles: 3}
	if err := db.PutLoop(ctx, l); err != nil {
		t.Fatal(err)
	}
	l.CycleDone, l.Status = 1, "interrupted"
	if err := db.PutLoop(ctx, l); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.GetLoop(ctx, "L1")
	if err != nil || !ok || got.CycleDone != 1 || got.Status != "interrupted" || got.Seed != 7 || got.Created.IsZero() {
		t.Fatalf("loop %+v %v %v", got, ok, err)
	}
	if _, ok, _ := db.GetLoop(ctx, "nope"); ok {
		t.Fatal("found a loop that does not exist")
	}
	if err := db.PutLoop(ctx, store.Loop{ID: "L2", Status: "running", Config: "{}", Cycles: 1, Created: got.Created.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if ls, err := db.Loops(ctx); err != nil || len(ls) != 2 || ls[0].ID != "L2" {
		t.Fatalf("loops, newest first: %+v %v", ls, err)
	}
	acc := 0.4
	c := store.CandidateRow{ID: "L1-c01-00", LoopID: "L1", Cycle: 1, State: store.StateGenerated, Name: "evolve-x", Code: "x = 1",
		Parents: []string{"a", "b"}, Pipeline: lemur.Pipeline{Task: "img-classification", Dataset: "shapes", Metric: "acc"},
		Prm: lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "batch", Value: int64(32)}}}
	if err := db.PutCandidate(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.State, c.Epochs, c.Durations, c.Admitted, c.Predicted = store.StateDone, []float64{0.3, 0.5}, []int64{10, 20}, true, &acc
	if err := db.PutCandidate(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := db.PutCandidate(ctx, store.CandidateRow{ID: "L1-c00-03", LoopID: "L1", Cycle: 0, Index: 3, State: store.StateRejected}); err != nil {
		t.Fatal(err)
	}
	cs, err := db.Candidates(ctx, "L1")
	if err != nil || len(cs) != 2 || cs[0].ID != "L1-c00-03" {
		t.Fatalf("candidates by cycle and index %v %v", cs, err)
	}
	g := cs[1]
	if g.State != store.StateDone || g.Best() != 0.5 || !g.Admitted || *g.Predicted != 0.4 || g.Parents[1] != "b" ||
		g.Durations[1] != 20 || g.Pipeline.NN != "evolve-x" || lemur.Repr(g.Prm) != "{'lr': 0.01, 'batch': 32}" {
		t.Fatalf("read back %+v", g)
	}
	if cs[0].Predicted != nil || len(cs[0].Parents) != 0 {
		t.Fatalf("empty candidate read back %+v", cs[0])
	}
	if cs, _ := db.Candidates(ctx, "L2"); len(cs) != 0 {
		t.Fatalf("another loop's journal holds %d candidates", len(cs))
	}
	if err := db.PutCandidate(ctx, store.CandidateRow{ID: "x"}); err == nil {
		t.Fatal("a candidate without a loop was accepted")
	}
	if !store.Final(g.State) || store.Final(store.StateQueued) {
		t.Fatal("Final misclassifies states")
	}
}

func testHPO(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	s := store.HPOStudy{Name: "S", Direction: "maximize", Space: `{"lr":{}}`, Sampler: "tpe", Seed: 1 << 63, Attrs: `{"model":"M"}`, Created: t0}
	got, created, err := db.CreateHPOStudy(ctx, s)
	if err != nil || !created || !reflect.DeepEqual(got, s) {
		t.Fatalf("create: %+v %v %v", got, created, err)
	}
	s2 := s
	s2.Sampler = "random"
	if got, created, err := db.CreateHPOStudy(ctx, s2); err != nil || created || got.Sampler != "tpe" {
		t.Fatalf("create again: %+v %v %v (want the stored study)", got, created, err)
	}
	if _, _, err := db.CreateHPOStudy(ctx, store.HPOStudy{}); err == nil {
		t.Fatal("a study without a name was created")
	}
	w, err := db.AddHPOTrial(ctx, "S", store.HPOTrial{State: "waiting", Params: `{"lr":0.1}`, Source: "enqueued"})
	if err != nil || w.Number != 0 {
		t.Fatalf("add: %+v %v", w, err)
	}
	r, claimed, err := db.ReserveHPOTrial(ctx, "S", t0)
	if err != nil || !claimed || r.Number != 0 || r.State != "running" || r.Params != `{"lr":0.1}` || !r.Started.Equal(t0) {
		t.Fatalf("reserve the waiting trial: %+v %v %v", r, claimed, err)
	}
	r2, claimed, err := db.ReserveHPOTrial(ctx, "S", t0)
	if err != nil || claimed || r2.Number != 1 || r2.Params != "{}" {
		t.Fatalf("reserve a new trial: %+v %v %v", r2, claimed, err)
	}
	v := 0.75
	r.State, r.Value, r.Intermediate, r.Finished = "complete", &v, `[{"step":1,"value":0.5}]`, t0.Add(time.Minute)
	if err := db.UpdateHPOTrial(ctx, "S", r); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateHPOTrial(ctx, "S", store.HPOTrial{Number: 99, State: "complete"}); err == nil {
		t.Fatal("updated a trial that does not exist")
	}
	ts, err := db.HPOTrials(ctx, "S")
	if err != nil || len(ts) != 2 || !reflect.DeepEqual(ts[0], r) || ts[1].Value != nil || !ts[1].Finished.IsZero() {
		t.Fatalf("trials %+v %v", ts, err)
	}
	if _, _, err := db.ReserveHPOTrial(ctx, "nope", t0); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("reserve in a missing study: %v", err)
	}
	if ss, err := db.HPOStudies(ctx); err != nil || len(ss) != 1 || ss[0].Name != "S" {
		t.Fatalf("studies %+v %v", ss, err)
	}
}

// testHPOShared: workers on separate handles share a study; no trial
// number is handed out twice and every waiting trial is claimed once.
func testHPOShared(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	const workers, each, waiting = 4, 10, 8
	dbs := make([]store.Store, workers)
	for i := range dbs {
		dbs[i] = Open(t, open)
	}
	if _, _, err := dbs[0].CreateHPOStudy(ctx, store.HPOStudy{Name: "shared", Direction: "minimize", Space: "{}", Sampler: "tpe"}); err != nil {
		t.Fatal(err)
	}
	for range waiting {
		if _, err := dbs[0].AddHPOTrial(ctx, "shared", store.HPOTrial{State: "waiting"}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[int]int{}
	claimedN := 0
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for _, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				tr, claimed, err := db.ReserveHPOTrial(ctx, "shared", time.Now())
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[tr.Number]++
				if claimed {
					claimedN++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != workers*each || claimedN != waiting {
		t.Fatalf("%d distinct trials of %d reserved, %d waiting ones claimed of %d", len(seen), workers*each, claimedN, waiting)
	}
	for n, c := range seen {
		if c != 1 || n < 0 || n >= workers*each {
			t.Fatalf("trial %d handed out %d times", n, c)
		}
	}
}

func testRAG(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := store.RAGBlock{Name: "tv.models.resnet.BasicBlock", Class: "BasicBlock", Module: "tv.models.resnet", Code: "class BasicBlock: pass\n",
		ID: "id1", Repo: "/r", Commit: "c1", Paths: []string{"tv/models/resnet.py"}, Sources: `[{"path":"tv/models/resnet.py"}]`,
		Level: 2, Input: "2x16x32x32 tensor", UpdatedAt: t0}
	b := store.RAGBlock{Name: "tv.models.video.resnet.BasicBlock", Class: "BasicBlock", Module: "tv.models.video.resnet", Code: "x = 1\n",
		ID: "id2", Repo: "/r", Level: 1, Error: "forward failed", ErrorKind: "forward", Unresolved: []string{"Missing (m:3): not defined"}, UpdatedAt: t0}
	for _, blk := range []store.RAGBlock{a, b} {
		if err := db.PutBlock(ctx, blk); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := db.Block(ctx, a.Name)
	if err != nil || !ok {
		t.Fatalf("Block: %v %v", ok, err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
	}
	a.Level, a.Code = 1, "class BasicBlock:\n    pass\n"
	if err := db.PutBlock(ctx, a); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    store.RAGFilter
		want string
	}{
		{store.RAGFilter{}, "tv.models.resnet.BasicBlock,tv.models.video.resnet.BasicBlock"},
		{store.RAGFilter{MinLevel: 2}, ""},
		{store.RAGFilter{MinLevel: 1, Class: "BasicBlock"}, "tv.models.resnet.BasicBlock,tv.models.video.resnet.BasicBlock"},
		{store.RAGFilter{Repo: "/other"}, ""},
	}
	for _, tc := range tests {
		bs, err := db.Blocks(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range bs {
			names = append(names, x.Name)
		}
		if strings.Join(names, ",") != tc.want {
			t.Errorf("Blocks(%+v) = %v, want %s", tc.f, names, tc.want)
		}
	}
	if _, ok, err := db.Block(ctx, "nope"); ok || err != nil {
		t.Errorf("missing block: ok=%v err=%v", ok, err)
	}
	if err := db.PutBlock(ctx, store.RAGBlock{Name: "x"}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("incomplete block: err = %v", err)
	}
}

func testClaims(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	db := Open(t, open)
	tests := []struct {
		code, holder string
		want         bool
	}{
		{"c1", "loopA", true},
		{"c1", "loopA", true}, // the holder again (resume)
		{"c1", "loopB", false},
		{"c2", "loopB", true},
	}
	for i, tc := range tests {
		got, err := db.ClaimCode(ctx, tc.code, tc.holder)
		if err != nil || got != tc.want {
			t.Fatalf("step %d: ClaimCode(%s, %s) = %v, %v; want %v", i, tc.code, tc.holder, got, err, tc.want)
		}
	}
	if _, err := db.ClaimCode(ctx, "", "x"); err == nil {
		t.Fatal("claimed an empty code id")
	}
}

// testClaimsShared: coordinators on separate handles race for the same
// codes; each code has exactly one winner, and every claim names it.
func testClaimsShared(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	const holders, codes = 4, 25
	var wg sync.WaitGroup
	wins := make([]map[string]bool, holders)
	errs := make(chan error, holders)
	dbs := make([]store.Store, holders)
	for i := range dbs {
		dbs[i] = Open(t, open)
	}
	for h := range holders {
		wins[h] = map[string]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range codes {
				ok, err := dbs[h].ClaimCode(ctx, fmt.Sprintf("code-%d", c), fmt.Sprintf("loop-%d", h))
				if err != nil {
					errs <- err
					return
				}
				if ok {
					wins[h][fmt.Sprintf("code-%d", c)] = true
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for c := range codes {
		n := 0
		for h := range holders {
			if wins[h][fmt.Sprintf("code-%d", c)] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("code-%d won by %d holders, want exactly 1", c, n)
		}
	}
}

// testSharedCorpus: two handles import overlapping data at once; every
// row lands once and both see it.
func testSharedCorpus(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	a, b := Open(t, open), Open(t, open)
	var recs []lemur.Record
	for i := range 200 {
		recs = append(recs, rec(fmt.Sprintf("N%d", i%5), 1+i%4, float64(i)/400, float64(i%13)/100))
	}
	var wg sync.WaitGroup
	res := make([]store.AddResult, 2)
	errs := make([]error, 2)
	for i, db := range []store.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = db.AddStats(ctx, recs[i*50:i*50+150])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if res[0].Added+res[1].Added != 200 || res[0].Present+res[1].Present != 100 {
		t.Fatalf("overlapping imports: %+v %+v, want 200 added and 100 present in all", res[0], res[1])
	}
	for _, db := range []store.Store{a, b} {
		if got := Collect(t, db, store.Filter{}); len(got) != 200 {
			t.Fatalf("a handle sees %d rows, want 200", len(got))
		}
	}
}
