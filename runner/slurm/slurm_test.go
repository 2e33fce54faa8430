package slurm

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nngpt/nngpt/runner"
)

// The tests run against a real Slurm (scripts/services.sh starts a
// single-node one; ./scripts/test does it for you) and skip without one.
func needSlurm(t *testing.T) (shared string) {
	t.Helper()
	shared = os.Getenv("NNGPT_TEST_SLURM_SHARED")
	if shared == "" || os.Getenv("SLURM_CONF") == "" {
		why := os.Getenv("NNGPT_TEST_SLURM_MISSING")
		if why == "" {
			why = "SLURM_CONF and NNGPT_TEST_SLURM_SHARED are not set"
		}
		t.Skipf("no Slurm cluster: %s (scripts/services.sh start brings one up)", why)
	}
	return shared
}

var (
	envOnce sync.Once
	envPy   *runner.Python
	envData *runner.Dataset
	envErr  error
)

// testEnv is an interpreter with torch and a tiny shapes dataset in a
// coordinator-private cache.
func testEnv(t *testing.T) (*runner.Python, *runner.Dataset) {
	t.Helper()
	envOnce.Do(func() {
		ctx := context.Background()
		cache, err := os.MkdirTemp("", "nngpt-slurm-test-")
		if err != nil {
			envErr = err
			return
		}
		os.Chmod(cache, 0o755)
		envPy, _, envErr = runner.FindPython(ctx, runner.PythonOptions{CacheDir: cache})
		if envErr != nil {
			return
		}
		sb, err := runner.NewSandbox(ctx, runner.SandboxAuto)
		if err != nil {
			envErr = err
			return
		}
		envData, envErr = runner.Datasets{CacheDir: cache, Sandbox: sb}.Prepare(ctx, envPy, runner.DatasetSpec{Name: "shapes", NTrain: 96, NTest: 40, Seed: 1})
	})
	if envErr != nil {
		t.Skipf("needs python3 with torch: %v", envErr)
	}
	return envPy, envData
}

func newTestExecutor(t *testing.T, shared string) *Executor {
	t.Helper()
	py, _ := testEnv(t)
	x, err := New(context.Background(), Options{SharedDir: shared, Python: py, Threads: 1,
		Limits: runner.Limits{Memory: 2 << 30, EpochTimeout: 2 * time.Minute, StartTimeout: 2 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// linearModel is a LEMUR-contract model; learn runs extra before each
// epoch's batches (e.g. a sleep, to keep an epoch going).
func linearModel(extra string) string {
	return `import time
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.fc = nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], out_shape[0])

    def forward(self, x):
        return self.fc(x.flatten(1))

    def train_setup(self, prm):
        self.criteria = (nn.CrossEntropyLoss(),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        ` + extra + `
        for x, y in train_data:
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(x), y)
            loss.backward()
            self.optimizer.step()
`
}

func wait(t *testing.T, r runner.Run) (*runner.Result, []runner.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var evs []runner.Event
	for ev := range r.Events() {
		evs = append(evs, ev)
	}
	res, err := r.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res, evs
}

func TestTrainOnSlurm(t *testing.T) {
	shared := needSlurm(t)
	t.Parallel() // each waits on its own jobs; the node runs several at once
	_, d := testEnv(t)
	x := newTestExecutor(t, shared)
	ctx := context.Background()
	tests := []struct {
		name    string
		code    string
		epochs  int
		onEpoch func(runner.EpochResult) runner.Decision
		kind    runner.FailKind
		stopped bool
		trained int
	}{
		{name: "trains", code: linearModel("pass"), epochs: 2, trained: 2},
		{name: "stops", code: linearModel("pass"), epochs: 3, trained: 1, stopped: true,
			onEpoch: func(runner.EpochResult) runner.Decision { return runner.Stop }},
		{name: "syntax", code: "def broken(:\n", epochs: 1, kind: runner.FailSyntax},
		{name: "escapes", code: linearModel("open('" + filepath.Join(shared, "escaped") + "', 'w').write('x')"), epochs: 1, kind: runner.FailForbidden},
	}
	runs := make([]runner.Run, len(tests))
	for i, tc := range tests {
		r, err := x.Submit(ctx, runner.Job{Name: "lin-" + tc.name, Code: tc.code, Data: d, Batch: 16, Epochs: tc.epochs, OnEpoch: tc.onEpoch})
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = r
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, evs := wait(t, runs[i])
			if tc.kind != "" {
				if res.Failure == nil || res.Failure.Kind != tc.kind {
					t.Fatalf("failure %+v, want kind %s\n%s", res.Failure, tc.kind, res.LogTail)
				}
				return
			}
			if !res.OK || res.Stopped != tc.stopped || len(res.Epochs) != tc.trained {
				t.Fatalf("ok %v stopped %v epochs %d failure %+v\n%s", res.OK, res.Stopped, len(res.Epochs), res.Failure, res.LogTail)
			}
			if res.Isolation != runner.IsolationBwrap || res.Torch == "" || res.StartupSec <= 0 {
				t.Errorf("isolation %q torch %q startup %.2fs: want bwrap, a torch version, a start-up time", res.Isolation, res.Torch, res.StartupSec)
			}
			for k, e := range res.Epochs {
				if e.Accuracy < 0 || e.Accuracy > 1 || e.Duration <= 0 || (k > 0 && e.Duration <= res.Epochs[k-1].Duration) {
					t.Errorf("epoch %d: accuracy %v duration %d", e.Epoch, e.Accuracy, e.Duration)
				}
			}
			if evs[len(evs)-1].Type != runner.EventDone {
				t.Errorf("last event %s, want done", evs[len(evs)-1].Type)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(shared, "escaped")); err == nil {
		t.Error("the sandboxed model wrote to the shared folder")
	}
}

func TestCancelOnSlurm(t *testing.T) {
	shared := needSlurm(t)
	t.Parallel() // each waits on its own jobs; the node runs several at once
	_, d := testEnv(t)
	x := newTestExecutor(t, shared)
	r, err := x.Submit(context.Background(), runner.Job{Name: "lin-sleepy", Code: linearModel("time.sleep(600)"), Data: d, Batch: 16, Key: "cancel-" + randHex(4)})
	if err != nil {
		t.Fatal(err)
	}
	for ev := range r.Events() {
		if ev.Type == runner.EventStage && ev.Stage == runner.StageParams {
			break // training: the epoch sleeps
		}
	}
	r.Cancel()
	res, _ := wait(t, r)
	if res.Failure == nil || res.Failure.Kind != runner.FailCanceled {
		t.Fatalf("failure %+v, want canceled", res.Failure)
	}
	id := x.JobID(findKey(t, x, res.RunID))
	st, err := x.l.cli.query(context.Background(), id)
	if err != nil || (st.Known && st.State != "CANCELLED") {
		t.Fatalf("job %s after Cancel: %+v %v", id, st, err)
	}
}

// findKey is the key recorded for a run.
func findKey(t *testing.T, x *Executor, runID string) string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(x.l.o.SharedDir, "keys", "*.json"))
	for _, m := range ms {
		b, _ := os.ReadFile(m)
		if strings.Contains(string(b), runID) {
			var rec keyRecord
			if err := json.Unmarshal(b, &rec); err == nil {
				return rec.Key
			}
		}
	}
	t.Fatalf("no key record for run %s", runID)
	return ""
}

// TestReattachAfterKill: a coordinator process killed with SIGKILL while
// its job trains; a new one submitting the same key attaches to the job
// (no second sbatch) and gets every epoch.
func TestReattachAfterKill(t *testing.T) {
	shared := needSlurm(t)
	t.Parallel() // each waits on its own jobs; the node runs several at once
	_, d := testEnv(t)
	key := "loop-c01-" + randHex(4)
	cmd := exec.Command(os.Args[0], "-test.run=TestHelperCoordinator", "-test.v")
	cmd.Env = append(os.Environ(), "NNGPT_SLURM_HELPER="+key, "NNGPT_SLURM_HELPER_DATA="+d.Dir)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	x := newTestExecutor(t, shared)
	// Wait for the job's first epoch on the shared folder, then kill -9.
	deadline := time.Now().Add(3 * time.Minute)
	var jobID string
	for {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the helper's job never finished an epoch:\n%s", out)
		}
		if jobID = x.JobID(key); jobID != "" {
			rec, _ := x.l.readKey(key)
			b, _ := os.ReadFile(filepath.Join(x.l.runDir(rec.RunID), "attempt-0", "events"))
			if strings.Contains(string(b), `"t":"epoch"`) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	r, err := x.Submit(context.Background(), runner.Job{Name: "lin-slow", Code: linearModel("time.sleep(2)"), Data: d, Batch: 16, Epochs: 3, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := wait(t, r)
	if !res.OK || len(res.Epochs) != 3 {
		t.Fatalf("after re-attach: ok %v, %d epochs, failure %+v\n%s", res.OK, len(res.Epochs), res.Failure, res.LogTail)
	}
	if got := x.JobID(key); got != jobID {
		t.Fatalf("job %s after re-attach, want the first coordinator's %s (resubmitted?)", got, jobID)
	}
	// Once more: the finished run's stored result, no job at all.
	r, err = x.Submit(context.Background(), runner.Job{Name: "lin-slow", Code: linearModel("time.sleep(2)"), Data: d, Batch: 16, Epochs: 3, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := wait(t, r)
	accs := func(r *runner.Result) string {
		var b strings.Builder
		for _, e := range r.Epochs {
			fmt.Fprintf(&b, "%d:%v:%d ", e.Epoch, e.Accuracy, e.Duration)
		}
		return b.String()
	}
	if again.RunID != res.RunID || accs(again) != accs(res) || x.JobID(key) != jobID || len(again.Prm) == 0 {
		t.Fatalf("the finished run was not returned as stored: %+v", again)
	}
}

// TestHelperCoordinator is the coordinator TestReattachAfterKill kills.
func TestHelperCoordinator(t *testing.T) {
	key := os.Getenv("NNGPT_SLURM_HELPER")
	if key == "" {
		t.Skip("helper process of TestReattachAfterKill")
	}
	shared := needSlurm(t)
	d, err := runner.OpenDataset(os.Getenv("NNGPT_SLURM_HELPER_DATA"))
	if err != nil {
		t.Fatal(err)
	}
	x := newTestExecutor(t, shared)
	r, err := x.Submit(context.Background(), runner.Job{Name: "lin-slow", Code: linearModel("time.sleep(2)"), Data: d, Batch: 16, Epochs: 3, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, r)
	t.Fatal("the helper should have been killed before its run ended")
}

func TestJobStates(t *testing.T) {
	tests := []struct {
		line string
		kind runner.FailKind // "" : judged by the exit status
		fin  bool
	}{
		{"JobId=7 JobState=COMPLETED Reason=None Restarts=0 ExitCode=0:0", "", true},
		{"JobId=7 JobState=FAILED Reason=NonZeroExitCode ExitCode=1:0", "", true},
		{"JobId=7 JobState=TIMEOUT Reason=TimeLimit", runner.FailTimeout, true},
		{"JobId=7 JobState=OUT_OF_MEMORY Reason=OutOfMemory", runner.FailMemory, true},
		{"JobId=7 JobState=NODE_FAIL Reason=NodeDown NodeList=n1", runner.FailNodeFailed, true},
		{"JobId=7 JobState=PREEMPTED", runner.FailPreempted, true},
		{"JobId=7 JobState=CANCELLED Reason=None", runner.FailCanceled, true},
		{"JobId=7 JobState=PENDING Reason=Resources", "", false},
		{"JobId=7 JobState=RUNNING Reason=None", "", false},
	}
	for _, tc := range tests {
		st := parseJob(tc.line)
		if st.final() != tc.fin {
			t.Errorf("%q: final %v, want %v", tc.line, st.final(), tc.fin)
		}
		if !tc.fin {
			continue
		}
		f := st.failure(time.Minute)
		if (f == nil) != (tc.kind == "") || (f != nil && f.Kind != tc.kind) {
			t.Errorf("%q: failure %+v, want kind %q", tc.line, f, tc.kind)
		}
	}
	if st := parseJob("JobId=9 JobState=PENDING Restarts=2"); st.Restarts != 2 || !st.pending() {
		t.Errorf("requeued job read as %+v", st)
	}
}

func TestCheck(t *testing.T) {
	shared := needSlurm(t)
	t.Parallel() // each waits on its own jobs; the node runs several at once
	py, _ := testEnv(t)
	got := Check(context.Background(), Options{SharedDir: shared, Python: py})
	want := []string{"slurm", "shared folder", "node", "torch on the node", "shared folder on the node", "bubblewrap on the node"}
	if len(got) != len(want) {
		t.Fatalf("findings %+v, want %v", got, want)
	}
	for i, f := range got {
		if f.Name != want[i] || !f.OK {
			t.Errorf("finding %d: %+v, want %s ok", i, f, want[i])
		}
	}
	bad := Check(context.Background(), Options{SharedDir: "relative/dir", Python: py})
	if last := bad[len(bad)-1]; last.OK || last.Name != "shared folder" || last.Fix == "" {
		t.Errorf("a relative shared folder: %+v", bad)
	}
}

// TestRequeue: a job requeued mid-training (as preemption does) runs
// again from the start, and the run still ends with every epoch.
func TestRequeue(t *testing.T) {
	shared := needSlurm(t)
	t.Parallel() // each waits on its own jobs; the node runs several at once
	_, d := testEnv(t)
	x := newTestExecutor(t, shared)
	ctx := context.Background()
	key := "requeue-" + randHex(4)
	r, err := x.Submit(ctx, runner.Job{Name: "lin-requeued", Code: linearModel("time.sleep(2)"), Data: d, Batch: 16, Epochs: 3, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	id := x.JobID(key)
	requeued := false
	var details []string
	for ev := range r.Events() {
		details = append(details, ev.Detail)
		if ev.Type == runner.EventEpoch && !requeued {
			requeued = true
			if _, err := x.l.cli.run(ctx, "scontrol", "requeue", id); err != nil {
				t.Fatal(err)
			}
			// Slurm holds a requeued job back for a while; let it go now.
			for range 100 {
				if st, _ := x.l.cli.query(ctx, id); st.pending() {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			x.l.cli.run(ctx, "scontrol", "update", "JobId="+id, "StartTime=now")
		}
	}
	res, _ := wait(t, r)
	if !res.OK || len(res.Epochs) != 3 {
		t.Fatalf("after the requeue: ok %v, %d epochs, failure %+v\n%s", res.OK, len(res.Epochs), res.Failure, res.LogTail)
	}
	if !strings.Contains(strings.Join(details, "\n"), "requeued") {
		t.Fatalf("no requeue reported in the events: %q", details)
	}
	if st, _ := x.l.cli.query(ctx, id); st.Restarts < 1 {
		t.Fatalf("job %s: %+v, want a restart", id, st)
	}
}

// TestScript: the job script is valid bash, and a CUDA job takes the GPUs
// Slurm assigned it.
func TestScript(t *testing.T) {
	for _, cuda := range []bool{false, true} {
		s, err := renderScript(scriptData{RunID: "r1", Name: "m", Dir: shellQuote("/shared/runs/r 1"), Mode: "auto",
			BwrapArgv: shellWords([]string{"bwrap", "--ro-bind", "/usr", "/usr", "--", "python3", "-c", "print('it''s')"}),
			PlainArgv: "python3", UID: 65534, CUDA: cuda, OutputCap: 1 << 20, Poll: "0.100"})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(s)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cuda %v: bash -n: %v: %s\n%s", cuda, err, out, s)
		}
		if got := strings.Contains(s, "CUDA_VISIBLE_DEVICES"); got != cuda {
			t.Errorf("cuda %v: script passes CUDA_VISIBLE_DEVICES: %v", cuda, got)
		}
	}
}

// TestSbatchArgs: resources follow from the job and the options.
func TestSbatchArgs(t *testing.T) {
	f := false
	l := &launcher{o: Options{Partition: "gpu", Account: "lab", ExtraArgs: []string{"--qos=short"}, GPUsPerJob: 2, Startup: 2 * time.Minute, Requeue: &f}}
	lim := runner.Limits{Memory: 4 << 30, StartTimeout: time.Minute, StageTimeout: 30 * time.Second, EpochTimeout: 10 * time.Minute}
	tests := []struct {
		device string
		epochs int
		want   []string
		not    string
	}{
		{"cpu", 3, []string{"--time=36", "--mem=4352", "--cpus-per-task=4", "--partition=gpu", "--account=lab", "--qos=short", "--no-requeue"}, "--gres"},
		{"cuda", 1, []string{"--time=16", "--gres=gpu:2"}, "--requeue"},
	}
	for _, tc := range tests {
		args := strings.Join(l.sbatchArgs(&runner.Launch{Job: runner.Job{Device: tc.device, Epochs: tc.epochs, Threads: 4}, Limits: lim}, "r1", "/s/runs/r1"), " ")
		for _, w := range tc.want {
			if !strings.Contains(args, w) {
				t.Errorf("%s: %s lacks %s", tc.device, args, w)
			}
		}
		if strings.Contains(args, tc.not+" ") || strings.HasSuffix(args, tc.not) {
			t.Errorf("%s: %s has %s", tc.device, args, tc.not)
		}
	}
}
