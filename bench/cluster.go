package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
)

// StoreImportResult compares one LEMUR import into SQLite and into
// PostgreSQL.
type StoreImportResult struct {
	Source       string        `json:"source"`
	Records      int           `json:"records"`
	SQLiteWall   time.Duration `json:"sqlite_wall_ns"`
	PostgresWall time.Duration `json:"postgres_wall_ns"`
	// Digests hash every stat row (id, uid, accuracy, epoch, duration,
	// hyperparameters as Python writes them) and every code row, sorted:
	// equal digests mean identical corpora.
	SQLiteDigest   string       `json:"sqlite_digest"`
	PostgresDigest string       `json:"postgres_digest"`
	SQLiteCounts   store.Counts `json:"sqlite_counts"`
	PostgresCounts store.Counts `json:"postgres_counts"`
	Identical      bool         `json:"identical"`
}

// StoreImport imports the LEMUR tree at src into a fresh SQLite file under
// tmp and into pg (an empty PostgreSQL store), timing each, and compares
// what both hold row by row.
func StoreImport(ctx context.Context, src, tmp string, pg store.Store) (*StoreImportResult, error) {
	dir, err := os.MkdirTemp(tmp, "nngpt-bench-stores-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	lite, err := sqlite.Open(ctx, filepath.Join(dir, "nngpt.db"))
	if err != nil {
		return nil, err
	}
	defer lite.Close()
	res := &StoreImportResult{Source: src}
	for _, s := range []struct {
		st   store.Store
		wall *time.Duration
	}{{lite, &res.SQLiteWall}, {pg, &res.PostgresWall}} {
		t0 := time.Now()
		rep, err := corpus.Import(ctx, s.st, src, corpus.ImportOptions{})
		if err != nil {
			return nil, err
		}
		*s.wall, res.Records = time.Since(t0), rep.Records
	}
	if res.SQLiteDigest, res.SQLiteCounts, err = digest(ctx, lite); err != nil {
		return nil, err
	}
	if res.PostgresDigest, res.PostgresCounts, err = digest(ctx, pg); err != nil {
		return nil, err
	}
	res.Identical = res.SQLiteDigest == res.PostgresDigest && res.SQLiteCounts == res.PostgresCounts
	return res, nil
}

func digest(ctx context.Context, st store.Store) (string, store.Counts, error) {
	var lines []string
	for r, err := range st.Stats(ctx, store.Filter{}) {
		if err != nil {
			return "", store.Counts{}, err
		}
		d := "-"
		if r.Duration != nil {
			d = fmt.Sprint(*r.Duration)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %v %d %s %s", r.ID, r.UID, r.Pipeline, r.Accuracy, r.Epoch, d, lemur.Repr(r.Prm)))
	}
	for _, k := range store.CodeKinds {
		for c, err := range st.Codes(ctx, k, "") {
			if err != nil {
				return "", store.Counts{}, err
			}
			lines = append(lines, fmt.Sprintf("%s %s %s %s", k, c.Name, c.ID, lemur.CodeID(c.Code)))
		}
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l + "\n"))
	}
	c, err := st.Counts(ctx)
	return hex.EncodeToString(h.Sum(nil))[:16], c, err
}

// ExecutorRun is one job's timing through an executor.
type ExecutorRun struct {
	FirstEvent time.Duration // Submit to the first event (the start stage)
	Total      time.Duration // Submit to the result
	Startup    float64       // the worker's own start-up (python, torch, data), seconds
	OK         bool
}

// ExecutorFigures summarise jobs through one executor.
type ExecutorFigures struct {
	Jobs               int     `json:"jobs"`
	OK                 int     `json:"ok"`
	MedianFirstEventS  float64 `json:"median_first_event_s"`
	MedianTotalS       float64 `json:"median_total_s"`
	MedianStartupS     float64 `json:"median_startup_s"`
	MedianOverheadS    float64 `json:"median_overhead_s"` // total minus the worker's start-up and training, per job
	DistinctRuns       int     `json:"distinct_runs"`
	WallS              float64 `json:"wall_s"`
	JobsPerMinute      float64 `json:"jobs_per_minute"`
	LostOrDoubled      int     `json:"lost_or_doubled"`
	trainingSecondsSum float64
}

// RunJobs submits n copies of job (each its own Key when keyed) through
// ex, at most parallel at once, and measures them.
func RunJobs(ctx context.Context, ex runner.Executor, job runner.Job, n, parallel int, keyed bool) (*ExecutorFigures, error) {
	t0 := time.Now()
	runs := make([]ExecutorRun, n)
	ids := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	var mu sync.Mutex
	fig := &ExecutorFigures{Jobs: n}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			j := job
			if keyed {
				j.Key = fmt.Sprintf("bench-%d-%d", t0.UnixNano(), i)
			}
			s := time.Now()
			r, err := ex.Submit(ctx, j)
			if err != nil {
				errs <- err
				return
			}
			first := time.Duration(0)
			for range r.Events() {
				if first == 0 {
					first = time.Since(s)
				}
			}
			res, err := r.Wait(ctx)
			if err != nil {
				errs <- err
				return
			}
			runs[i] = ExecutorRun{FirstEvent: first, Total: time.Since(s), Startup: res.StartupSec, OK: res.OK}
			ids[i] = res.RunID
			mu.Lock()
			for _, e := range res.Epochs {
				fig.trainingSecondsSum += e.TrainSeconds + e.EvalSeconds
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return nil, err
	}
	fig.WallS = time.Since(t0).Seconds()
	fig.JobsPerMinute = float64(n) / fig.WallS * 60
	var fe, tot, st, over []float64
	seen := map[string]int{}
	for i, r := range runs {
		if r.OK {
			fig.OK++
		}
		seen[ids[i]]++
		fe = append(fe, r.FirstEvent.Seconds())
		tot = append(tot, r.Total.Seconds())
		st = append(st, r.Startup)
	}
	train := fig.trainingSecondsSum / float64(max(1, n))
	for i := range runs {
		over = append(over, tot[i]-st[i]-train)
	}
	fig.DistinctRuns = len(seen)
	fig.LostOrDoubled = n - fig.OK + (n - len(seen))
	fig.MedianFirstEventS, fig.MedianTotalS, fig.MedianStartupS, fig.MedianOverheadS = median(fe), median(tot), median(st), median(over)
	return fig, nil
}
