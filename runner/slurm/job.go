package slurm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nngpt/nngpt/runner"
)

// slurmJob is one training's Slurm job as the coordinator sees it
// (runner.Worker): everything is read from the job's files on the shared
// folder and from scontrol, so a new coordinator can pick it up.
type slurmJob struct {
	l    *launcher
	rec  keyRecord
	dir  string
	job  runner.Job
	out  int64          // the output cap (Limits.Output)
	done *runner.Result // the stored result of a finished run (attach)

	mu      sync.Mutex
	attempt int
	iso     runner.Isolation
	last    jobState      // the latest state read
	lastAt  time.Time     // when
	closed  chan struct{} // closed by End: the attempt's event reader stops
}

var (
	_ runner.Worker   = (*slurmJob)(nil)
	_ runner.Finished = (*slurmJob)(nil)
)

func (j *slurmJob) RunID() string          { return j.rec.RunID }
func (j *slurmJob) Nonce() string          { return j.rec.Nonce }
func (j *slurmJob) Result() *runner.Result { return j.done }
func (j *slurmJob) Scratch() string        { return filepath.Join(j.dir, "scratch") }
func (j *slurmJob) Isolation() runner.Isolation {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.iso
}

func (j *slurmJob) currentAttempt() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.attempt
}

func (j *slurmJob) attemptDir() string {
	return filepath.Join(j.dir, fmt.Sprintf("attempt-%d", j.currentAttempt()))
}

// latestAttempt is the highest attempt folder of a run (-1: none).
func latestAttempt(dir string) int {
	ms, _ := filepath.Glob(filepath.Join(dir, "attempt-*"))
	best := -1
	for _, m := range ms {
		if n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(m), "attempt-")); err == nil && n > best {
			best = n
		}
	}
	return best
}

// state reads the job's state, at most once per second (scontrol is a
// process and a round trip to slurmctld).
func (j *slurmJob) state(ctx context.Context) (jobState, error) {
	j.mu.Lock()
	if !j.lastAt.IsZero() && time.Since(j.lastAt) < time.Second {
		s := j.last
		j.mu.Unlock()
		return s, nil
	}
	j.mu.Unlock()
	s, err := j.l.cli.query(ctx, j.rec.JobID)
	if err != nil {
		return s, err
	}
	j.mu.Lock()
	j.last, j.lastAt = s, time.Now()
	j.mu.Unlock()
	return s, nil
}

func (j *slurmJob) fresh() {
	j.mu.Lock()
	j.lastAt = time.Time{}
	j.mu.Unlock()
}

func readStamp(path string) (time.Time, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, false
	}
	return parseStamp(strings.TrimSpace(string(b)))
}

func parseStamp(s string) (time.Time, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*1e9)), true
}

// Start waits until the job's script has started the worker.
func (j *slurmJob) Start(ctx context.Context) (io.Reader, time.Time, *runner.Failure, error) {
	queued := time.Now()
	closed := make(chan struct{})
	j.mu.Lock()
	j.closed = closed
	j.mu.Unlock()
	for {
		st, err := j.state(ctx)
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		j.mu.Lock()
		j.attempt = max(j.attempt, st.Restarts, latestAttempt(j.dir))
		j.mu.Unlock()
		a := j.attemptDir()
		if t, ok := readStamp(filepath.Join(a, "started")); ok {
			iso, _ := os.ReadFile(filepath.Join(a, "isolation"))
			j.mu.Lock()
			j.iso = runner.Isolation(strings.TrimSpace(string(iso)))
			j.mu.Unlock()
			return &tail{j: j, path: filepath.Join(a, "events"), exit: filepath.Join(a, "exit"), closed: closed}, t, nil, nil
		}
		if b, err := os.ReadFile(filepath.Join(a, "hostfail")); err == nil {
			return nil, time.Time{}, &runner.Failure{Stage: runner.StageStart, Kind: runner.FailInternal, Message: strings.TrimSpace(string(b))}, nil
		}
		switch {
		case !st.Known:
			return nil, time.Time{}, &runner.Failure{Stage: runner.StageStart, Kind: runner.FailCrashed,
				Message: fmt.Sprintf("Slurm no longer knows job %s and it left no files (purged before it ran?)", j.rec.JobID)}, nil
		case st.final():
			if f := st.failure(j.rec.Limit); f != nil {
				return nil, time.Time{}, f, nil
			}
			return nil, time.Time{}, &runner.Failure{Stage: runner.StageStart, Kind: runner.FailCrashed,
				Message: fmt.Sprintf("job %s ended (%s) before its script started the worker; see %s", j.rec.JobID, st.State, filepath.Join(j.dir, "slurm-"+j.rec.JobID+".out"))}, nil
		case st.pending() && j.l.o.PendingTimeout > 0 && time.Since(queued) > j.l.o.PendingTimeout:
			j.Kill()
			return nil, time.Time{}, &runner.Failure{Stage: runner.StageStart, Kind: runner.FailQueue,
				Message: fmt.Sprintf("job %s still queued after %v (reason: %s)", j.rec.JobID, j.l.o.PendingTimeout, st.Reason)}, nil
		}
		select {
		case <-ctx.Done():
			return nil, time.Time{}, nil, ctx.Err()
		case <-time.After(j.l.o.Poll):
		}
	}
}

// tail reads a growing events file: io.EOF once the attempt recorded its
// exit (the file is complete then), the job is over, or it was requeued.
type tail struct {
	j          *slurmJob
	path, exit string
	closed     <-chan struct{}
	f          *os.File
	over       bool
}

func (t *tail) Read(p []byte) (int, error) {
	for {
		if t.f == nil {
			f, err := os.Open(t.path)
			if err == nil {
				t.f = f
			} else if !errors.Is(err, os.ErrNotExist) {
				return 0, err
			}
		}
		if t.f != nil {
			n, err := t.f.Read(p)
			if n > 0 {
				return n, nil
			}
			if err != nil && err != io.EOF {
				return 0, err
			}
		}
		if t.over {
			if t.f != nil {
				t.f.Close()
			}
			return 0, io.EOF
		}
		// Nothing new: is more coming? One more read after the answer
		// "no" drains what was written meanwhile.
		if _, err := os.Stat(t.exit); err == nil {
			t.over = true
			continue
		}
		if st, err := t.j.state(context.Background()); err == nil && (!st.Known || st.final() || st.Restarts > t.j.currentAttempt()) {
			t.over = true
			continue
		}
		select {
		case <-t.closed:
			t.over = true
		case <-time.After(t.j.l.o.Poll):
		}
	}
}

// Decide appends the answer after epoch n to the control file, unless an
// earlier coordinator already gave it.
func (j *slurmJob) Decide(n int, word string) string {
	path := filepath.Join(j.attemptDir(), "control")
	lines := readLines(path)
	if len(lines) >= n {
		return lines[n-1]
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		j.l.log.Warn("slurm: cannot answer the job", "job", j.rec.JobID, "err", err)
		return word
	}
	defer f.Close()
	if _, err := f.WriteString(word + "\n"); err != nil {
		j.l.log.Warn("slurm: cannot answer the job", "job", j.rec.JobID, "err", err)
	}
	return word
}

// Resumed is when the job's feeder passed the answer after epoch n on.
func (j *slurmJob) Resumed(n int) (time.Time, bool) {
	lines := readLines(filepath.Join(j.attemptDir(), "delivered"))
	if len(lines) < n {
		return time.Time{}, false
	}
	return parseStamp(lines[n-1])
}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// Kill cancels the job (scancel: Slurm kills every process of it).
func (j *slurmJob) Kill() {
	if j.rec.JobID == "" {
		return
	}
	if _, err := j.l.cli.run(context.Background(), "scancel", j.rec.JobID); err != nil {
		j.l.log.Warn("slurm: scancel failed", "job", j.rec.JobID, "err", err)
	}
	j.fresh()
}

// End waits for the job to be over and reads how the worker ended.
func (j *slurmJob) End(ctx context.Context, grace time.Duration) runner.Exit {
	a := j.attemptDir()
	deadline := time.Now().Add(grace)
	killed := false
	var ex runner.Exit
	for {
		st, err := j.state(ctx)
		if err == nil && st.Restarts > j.currentAttempt() {
			ex.Requeued = true
			break
		}
		if b, rerr := os.ReadFile(filepath.Join(a, "exit")); rerr == nil {
			var code, flood int
			fmt.Sscan(string(b), &code, &flood)
			ex.Code = code
			if flood == 1 {
				ex.Failure = &runner.Failure{Kind: runner.FailOutputFlood, Message: fmt.Sprintf("wrote more than %d bytes to stdout/stderr", j.out)}
			}
			break
		}
		if err == nil && (!st.Known || st.final()) {
			if ex.Failure = st.failure(j.rec.Limit); ex.Failure == nil {
				ex.Failure = &runner.Failure{Kind: runner.FailCrashed, Message: fmt.Sprintf("job %s ended (%s, exit %s) without recording the worker's exit", j.rec.JobID, st.State, st.ExitCode)}
			}
			if !st.Known {
				ex.Failure.Message = fmt.Sprintf("job %s vanished from Slurm without recording the worker's exit", j.rec.JobID)
			}
			break
		}
		if time.Now().After(deadline) {
			if killed {
				ex.Failure = &runner.Failure{Kind: runner.FailCrashed, Message: fmt.Sprintf("job %s did not end after scancel", j.rec.JobID)}
				break
			}
			j.Kill()
			killed, deadline = true, time.Now().Add(grace)
		}
		select {
		case <-ctx.Done():
			ex.Failure = &runner.Failure{Kind: runner.FailCanceled, Message: ctx.Err().Error()}
			return ex
		case <-time.After(j.l.o.Poll):
		}
	}
	ex.Log, ex.LogBytes = logTail(filepath.Join(a, "log"), 64<<10)
	j.mu.Lock()
	if j.closed != nil {
		close(j.closed)
		j.closed = nil
	}
	j.mu.Unlock()
	return ex
}

// logTail is the last keep bytes of a log and its size.
func logTail(path string, keep int64) (string, int64) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0
	}
	off := max(0, fi.Size()-keep)
	b := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(b, off)
	return strings.ToValidUTF8(string(b[:n]), "?"), fi.Size()
}

// Finish stores the result beside the key record (a later Submit of the
// key returns it) and removes the job's working files.
func (j *slurmJob) Finish(res *runner.Result, keep bool) error {
	if keep {
		res.Scratch = j.Scratch()
	}
	if err := writeResult(filepath.Join(j.dir, "result.json"), res); err != nil {
		return fmt.Errorf("slurm: store the result of %s: %w", j.rec.RunID, err)
	}
	ms, _ := filepath.Glob(filepath.Join(j.dir, "attempt-*"))
	for _, m := range ms {
		removeTree(m)
	}
	for _, f := range []string{"spec.bwrap", "spec.plain"} {
		os.Remove(filepath.Join(j.dir, f))
	}
	if !keep {
		removeTree(j.Scratch())
	}
	return nil
}
