package dashboard

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
	"github.com/nngpt/nngpt/zoo"
)

// bigLoop stores a loop of n candidates shaped like a real one: zoo-sized
// code, parents from the cycle before, every outcome.
func bigLoop(b *testing.B, db *sqlite.DB, n int) string {
	b.Helper()
	ctx := context.Background()
	id := "20261203-120000-big"
	if err := db.PutLoop(ctx, store.Loop{ID: id, Status: "running", Config: `{"Cycles":100,"Candidates":100,"Epochs":2,"Dataset":"cifar-10"}`,
		Cycles: 100, CycleDone: n/100 - 1}); err != nil {
		b.Fatal(err)
	}
	ms := zoo.Models()
	states := []string{store.StateDone, store.StateDone, store.StateDone, store.StateRejected, store.StatePruned, store.StateFailed, store.StateDuplicate, store.StateDone}
	prm := lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "momentum", Value: 0.9}, {Key: "batch", Value: int64(64)}, {Key: "transform", Value: "norm"}}
	for i := range n {
		cyc, idx := i/100+1, i%100
		st := states[i%len(states)]
		if i >= n-4 {
			st = store.StateRunning
		}
		code := ms[i%len(ms)].Code + fmt.Sprintf("\n# variant %d\n", i)
		c := store.CandidateRow{ID: fmt.Sprintf("%s-c%02d-%02d", id, cyc, idx), LoopID: id, Cycle: cyc, Index: idx, State: st,
			Name: "evolve-" + lemur.CodeID(code), CodeID: lemur.CodeID(code), Code: code, Generator: "evolve",
			Operators: []string{"conv:insert 3x3 after line 24", "hp:lr=0.01"}, Prm: prm, Repro: `{"seed":1}`,
			Pipeline: lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc"}}
		if cyc > 1 {
			c.Parents = []string{fmt.Sprintf("evolve-%d", i-100)}
		} else {
			c.Parents = []string{ms[i%len(ms)].Name}
		}
		if st == store.StateDone || st == store.StatePruned {
			a := 0.2 + 0.6*float64((i*7919)%1000)/1000
			c.Epochs, c.Durations = []float64{a * 0.8, a}, []int64{5e9, 1e10}
			c.Params, c.Duration, c.Admitted = int64(10_000+(i*104729)%2_000_000), 1e10, st == store.StateDone && a > 0.5
		}
		if st == store.StateRejected || st == store.StateFailed {
			c.Reason, c.Detail = "contract", "Net.learn missing"
		}
		if err := db.PutCandidate(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	return id
}

func benchDB(b *testing.B) *sqlite.DB {
	b.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "nngpt.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func benchGet(b *testing.B, h http.Handler, path string) {
	b.Helper()
	var size int
	get(b, h, path) // the first view reads the journal: see cold
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		w := get(b, h, path)
		if w.Code != 200 {
			b.Fatalf("%s: status %d: %s", path, w.Code, firstN(w.Body.String(), 300))
		}
		size = w.Body.Len()
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(size)/1024, "KiB/page")
}

// reportCPU adds the process CPU time per op: on a shared machine the
// wall time also counts other programs' turns.
func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64((cpuTime()-since).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkLoopPage renders a loop page of 10,000 candidates from SQLite:
// journal read, statistics, table sort and page, chart data, lineage.
// cold is a dashboard's first view of the loop (the whole journal read);
// live is a view after the loop wrote a candidate (the feed saw it, the
// rows written since are read); idle is a view with no write since the
// last one (served from the cache).
func BenchmarkLoopPage(b *testing.B) {
	db := benchDB(b)
	id := bigLoop(b, db, 10_000)
	time.Sleep(catchUp + time.Second) // the loop's rows are older than a catch-up read
	c := &counter{}
	s, err := New(Options{Store: db, Changes: c, Poll: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	for !s.feed.live.Load() {
		time.Sleep(time.Millisecond)
	}
	h := s.Handler()
	page := "/loops/" + id
	b.Run("cold", func(b *testing.B) {
		cpu := cpuTime()
		defer func() { reportCPU(b, cpu) }()
		for range b.N {
			b.StopTimer()
			s.journal = journal{}
			b.StartTimer()
			if w := get(b, h, page); w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Run("live", func(b *testing.B) {
		rows, err := db.Candidates(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		r := rows[len(rows)-1]
		get(b, h, page) // warm
		b.ResetTimer()
		var cpu time.Duration
		defer func() { b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op") }()
		for i := range b.N {
			b.StopTimer()
			r.Epochs = append(r.Epochs[:0], float64(i%100)/100)
			if err := db.PutCandidate(ctx, r); err != nil {
				b.Fatal(err)
			}
			before := s.feed.current()
			c.v.Add(1)
			for s.feed.current() == before {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
			t0 := cpuTime()
			if w := get(b, h, page); w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
			cpu += cpuTime() - t0
		}
	})
	b.Run("idle", func(b *testing.B) { benchGet(b, h, page) })
	b.Run("sorted-filtered", func(b *testing.B) { benchGet(b, h, page+"?state=trained&sort=acc&dir=desc&page=3") })
	b.Run("outcomes-svg", func(b *testing.B) { benchGet(b, h, page+"/plot/outcomes_per_cycle.svg") })
	b.Run("candidate", func(b *testing.B) { benchGet(b, h, "/candidates/"+id+"-c50-00") })
	b.Run("loops", func(b *testing.B) { benchGet(b, h, "/") })
}

// BenchmarkStudyPage renders a study of 5,000 trials: history,
// intermediate values, parallel coordinates, importance and the table.
func BenchmarkStudyPage(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	sp, err := hpo.NewSpace(hpo.LEMURParam("lr"), hpo.LEMURParam("momentum"), hpo.LEMURParam("dropout"),
		hpo.Param{Name: "batch", Kind: hpo.Pow2, Low: 4, High: 256},
		hpo.Param{Name: "transform", Kind: hpo.Categorical, Choices: []string{"echo", "norm", "complex"}})
	if err != nil {
		b.Fatal(err)
	}
	st := hpo.StoreStorage{S: db}
	if _, _, err := st.CreateStudy(ctx, hpo.StudyInfo{Name: "big", Direction: hpo.Maximize, Space: sp, Sampler: "tpe", Seed: 1}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 5000 {
		rng := hpo.NewRand(1, i)
		cfg := sp.Decode(sp.Random(rng))
		v := rng.Float64()
		tr := hpo.Trial{State: hpo.Complete, Params: cfg, Value: v, Source: "tpe", Started: now, Finished: now.Add(time.Minute),
			Intermediate: []hpo.Step{{Step: 1, Value: v * 0.6}, {Step: 2, Value: v * 0.9}, {Step: 3, Value: v}}}
		if i%5 == 0 {
			tr.State, tr.Intermediate = hpo.Pruned, tr.Intermediate[:1]
		}
		if _, err := st.AddTrial(ctx, "big", tr); err != nil {
			b.Fatal(err)
		}
	}
	s, err := New(Options{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	benchGet(b, s.Handler(), "/hpo/big")
}

// BenchmarkIdleSSE measures the dashboard's CPU while 20 browsers hold an
// event stream open and nothing is written: the change probe's cost. The
// clients live in this process, so the figure includes their side too.
func BenchmarkIdleSSE(b *testing.B) {
	db := benchDB(b)
	id := bigLoop(b, db, 1000)
	_ = id
	changes, err := db.Changes(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer changes.Close()
	s, err := New(Options{Store: db, Changes: changes})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	ts := httptest.NewServer(s.Handler())
	defer func() { cancel(); ts.Close() }()
	const clients = 20
	for range clients {
		resp, err := http.Get(ts.URL + "/events")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "event: change") {
					b.Error("a change event with no write")
				}
			}
		}()
	}
	for s.feed.clients() < clients {
		time.Sleep(time.Millisecond)
	}
	const window = 10 * time.Second
	b.ResetTimer()
	for range b.N {
		before := cpuTime()
		time.Sleep(window)
		used := cpuTime() - before
		b.ReportMetric(100*used.Seconds()/window.Seconds(), "cpu-%")
		b.ReportMetric(float64(used.Microseconds())/window.Seconds()/1000, "cpu-ms/s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
