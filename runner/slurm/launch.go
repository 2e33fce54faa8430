package slurm

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/runner"
)

// launcher submits trainings as sbatch jobs (runner.Launcher).
type launcher struct {
	o      Options
	cli    *cli
	worker string // worker code on the shared folder
	log    *slog.Logger
	dataMu sync.Mutex
}

// keyRecord ties a caller's key to its run and job, on the shared folder.
type keyRecord struct {
	Key   string        `json:"key"`
	RunID string        `json:"run_id"`
	JobID string        `json:"job_id"` // "" while sbatch has not answered
	Nonce string        `json:"nonce"`
	Limit time.Duration `json:"limit"` // the job's time limit
}

func (l *launcher) keyPath(key string) string {
	sum := md5.Sum([]byte(key))
	return filepath.Join(l.o.SharedDir, "keys", hex.EncodeToString(sum[:])+".json")
}

func (l *launcher) runDir(runID string) string { return filepath.Join(l.o.SharedDir, "runs", runID) }

func (l *launcher) readKey(key string) (keyRecord, bool) {
	var rec keyRecord
	if key == "" {
		return rec, false
	}
	b, err := os.ReadFile(l.keyPath(key))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Key != key {
		return keyRecord{}, false
	}
	return rec, true
}

// writeJSON replaces path atomically (a coordinator killed mid-write
// leaves the old file or the new one, never half of one).
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp-" + randHex(4)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Launch implements runner.Launcher.
func (l *launcher) Launch(ctx context.Context, ln *runner.Launch) (runner.Worker, error) {
	if rec, ok := l.readKey(ln.Job.Key); ok {
		j, err := l.attach(ctx, ln, rec)
		if err != nil || j != nil {
			return j, err
		}
		l.log.Info("slurm: the recorded job of this key is gone without a trace; submitting it again", "key", rec.Key, "job", rec.JobID)
	}
	return l.submit(ctx, ln)
}

// timeLimit is a job's time limit: every deadline the run can use, plus
// the start-up allowance, in whole minutes as sbatch takes it.
func (l *launcher) timeLimit(ln *runner.Launch) time.Duration {
	lim := ln.Limits
	d := l.o.Startup + lim.StartTimeout + 5*lim.StageTimeout + time.Duration(ln.Job.Epochs)*lim.EpochTimeout
	return time.Duration(math.Ceil(d.Minutes())) * time.Minute
}

// sbatchArgs are the job's resources and placement.
func (l *launcher) sbatchArgs(ln *runner.Launch, runID, dir string) []string {
	job := ln.Job
	a := []string{"--parsable", "--job-name=nngpt-" + runID, "--output=" + filepath.Join(dir, "slurm-%j.out"),
		"--chdir=" + dir, "--export=ALL", "--nodes=1", "--ntasks=1",
		fmt.Sprintf("--cpus-per-task=%d", job.Threads),
		fmt.Sprintf("--time=%d", int(l.timeLimit(ln).Minutes())),
		// The address-space limit bounds what the worker can touch; the
		// job's memory covers it plus the script around it.
		fmt.Sprintf("--mem=%d", ln.Limits.Memory>>20+256),
	}
	if strings.HasPrefix(job.Device, "cuda") {
		a = append(a, fmt.Sprintf("--gres=gpu:%d", l.o.GPUsPerJob))
	}
	if *l.o.Requeue {
		a = append(a, "--requeue")
	} else {
		a = append(a, "--no-requeue")
	}
	if l.o.Partition != "" {
		a = append(a, "--partition="+l.o.Partition)
	}
	if l.o.Account != "" {
		a = append(a, "--account="+l.o.Account)
	}
	return append(a, l.o.ExtraArgs...)
}

func (l *launcher) submit(ctx context.Context, ln *runner.Launch) (runner.Worker, error) {
	job := ln.Job
	runID := randHex(8)
	dir := l.runDir(runID)
	scratch := filepath.Join(dir, "scratch")
	if err := os.MkdirAll(filepath.Join(scratch, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("slurm: run folder: %w", err)
	}
	// The coordinator's files stay out of the worker's reach; only
	// scratch is the worker's (as nobody when the job runs as root).
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		for _, d := range []string{scratch, filepath.Join(scratch, "tmp")} {
			if err := os.Chown(d, runner.NobodyID, runner.NobodyID); err != nil {
				return nil, fmt.Errorf("slurm: scratch: %w", err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(scratch, job.Name+".py"), []byte(job.Code), 0o644); err != nil {
		return nil, fmt.Errorf("slurm: model file: %w", err)
	}
	data, err := l.sharedData(job.Data)
	if err != nil {
		return nil, err
	}
	nonce := randHex(16)
	cuda := strings.HasPrefix(job.Device, "cuda")
	sbB := &runner.Sandbox{Isolation: runner.IsolationBwrap, Bwrap: "bwrap", UID: -1, GID: -1}
	sbP := &runner.Sandbox{Isolation: runner.IsolationLimits, UID: -1, GID: -1}
	d := scriptData{RunID: runID, Name: job.Name, Dir: shellQuote(dir), Mode: shellQuote(string(l.o.Sandbox)),
		UID: runner.NobodyID, CUDA: cuda, OutputCap: ln.Limits.Output, Poll: strconv.FormatFloat(l.o.Poll.Seconds(), 'f', 3, 64)}
	for _, v := range []struct {
		sb         *runner.Sandbox
		file       string
		argv, envs *string
	}{{sbB, "spec.bwrap", &d.BwrapArgv, &d.BwrapEnv}, {sbP, "spec.plain", &d.PlainArgv, &d.PlainEnv}} {
		sIn, dIn := runner.SpecPaths(v.sb, scratch, data)
		spec, err := ln.Spec(nonce, sIn, dIn)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, v.file), spec, 0o600); err != nil {
			return nil, fmt.Errorf("slurm: job spec: %w", err)
		}
		argv, env, err := runner.WorkerCommand(v.sb, l.o.Python, l.worker, scratch, data, job.Threads, cuda)
		if err != nil {
			return nil, err
		}
		if v.sb == sbB {
			argv[0] = "bwrap" // found on the node's PATH
		}
		env = slices.DeleteFunc(env, func(kv string) bool {
			return strings.HasPrefix(kv, "CUDA_VISIBLE_DEVICES=") || strings.HasPrefix(kv, "NVIDIA_VISIBLE_DEVICES=")
		})
		*v.argv, *v.envs = shellWords(argv), shellWords(env)
	}
	script, err := renderScript(d)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return nil, fmt.Errorf("slurm: job script: %w", err)
	}
	rec := keyRecord{Key: job.Key, RunID: runID, Nonce: nonce, Limit: l.timeLimit(ln)}
	// The key is recorded before sbatch: a coordinator killed between the
	// two finds the job by its name instead of submitting it twice.
	if job.Key != "" {
		if err := writeJSON(l.keyPath(job.Key), rec); err != nil {
			return nil, fmt.Errorf("slurm: key record: %w", err)
		}
	}
	out, err := l.cli.run(ctx, "sbatch", append(l.sbatchArgs(ln, runID, dir), path)...)
	if err != nil {
		if job.Key != "" {
			os.Remove(l.keyPath(job.Key))
		}
		removeTree(dir)
		return nil, fmt.Errorf("slurm: submit %s: %w", job.Name, err)
	}
	rec.JobID, _, _ = strings.Cut(strings.TrimSpace(out), ";")
	if job.Key != "" {
		if err := writeJSON(l.keyPath(job.Key), rec); err != nil {
			return nil, fmt.Errorf("slurm: key record: %w", err)
		}
	}
	if err := writeJSON(filepath.Join(dir, "run.json"), rec); err != nil {
		return nil, err
	}
	l.log.Debug("slurm: submitted", "job", rec.JobID, "run", runID, "name", job.Name, "key", job.Key)
	return &slurmJob{l: l, rec: rec, dir: dir, job: job, out: ln.Limits.Output}, nil
}

// attach returns the job recorded for a key: finished (its stored
// result), or queued or running (its files replayed from the start). nil:
// nothing of it is left, submit again.
func (l *launcher) attach(ctx context.Context, ln *runner.Launch, rec keyRecord) (runner.Worker, error) {
	dir := l.runDir(rec.RunID)
	j := &slurmJob{l: l, rec: rec, dir: dir, job: ln.Job, out: ln.Limits.Output}
	if res, err := readResult(filepath.Join(dir, "result.json")); err == nil {
		j.done = res
		return j, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("slurm: stored result of %s: %w", rec.Key, err)
	}
	if rec.JobID == "" {
		out, err := l.cli.run(ctx, "squeue", "-h", "-n", "nngpt-"+rec.RunID, "-o", "%i")
		if err != nil {
			return nil, err
		}
		rec.JobID = strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
		if rec.JobID == "" {
			return nil, nil
		}
		j.rec = rec
	}
	st, err := l.cli.query(ctx, rec.JobID)
	if err != nil {
		return nil, err
	}
	if !st.Known && latestAttempt(dir) < 0 {
		return nil, nil
	}
	l.log.Info("slurm: attached to the job of an earlier coordinator", "key", rec.Key, "job", rec.JobID, "state", st.State)
	return j, nil
}

// sharedData copies a dataset's public part to the shared folder once.
func (l *launcher) sharedData(ds *runner.Dataset) (string, error) {
	dst := filepath.Join(l.o.SharedDir, "data", ds.Key)
	l.dataMu.Lock()
	defer l.dataMu.Unlock()
	if _, err := os.Stat(filepath.Join(dst, "meta.json")); err == nil {
		return dst, nil
	}
	tmp := dst + ".tmp-" + randHex(4)
	if err := copyTree(ds.Public(), tmp); err != nil {
		removeTree(tmp)
		return "", fmt.Errorf("slurm: copy dataset %s to the shared folder: %w", ds.Name, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		removeTree(tmp)
		if _, serr := os.Stat(filepath.Join(dst, "meta.json")); serr == nil {
			return dst, nil // another coordinator was first
		}
		return "", fmt.Errorf("slurm: dataset on the shared folder: %w", err)
	}
	return dst, nil
}

// copyTree copies the files under src (the public part: no labels) to
// dst, readable by every node's worker.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, in); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

func removeTree(dir string) { _ = os.RemoveAll(dir) }

// storedResult is result.json: the Result and its hyperparameters (which
// Result's JSON leaves out) with Python's types.
type storedResult struct {
	Result *runner.Result  `json:"result"`
	Prm    json.RawMessage `json:"prm"`
}

func readResult(path string) (*runner.Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s storedResult
	if err := json.Unmarshal(b, &s); err != nil || s.Result == nil {
		return nil, fmt.Errorf("%s is damaged (%v): delete it to train again", path, err)
	}
	if len(s.Prm) > 0 {
		v, err := lemur.DecodeJSON(s.Prm)
		if err != nil {
			return nil, fmt.Errorf("%s: prm: %w", path, err)
		}
		s.Result.Prm, _ = v.(lemur.Dict)
	}
	return s.Result, nil
}

func writeResult(path string, res *runner.Result) error {
	s := storedResult{Result: res}
	if res.Prm != nil {
		b, err := lemur.EncodeJSON(res.Prm, 0, false)
		if err != nil {
			return err
		}
		s.Prm = b
	}
	return writeJSON(path, s)
}
