package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/internal/text"
)

// TestHostileRecord runs the attacks on the record rather than the host
// (issue 13): each must fail, or succeed without the forged number landing
// in the result.
func TestHostileRecord(t *testing.T) {
	_, sb := needBwrap(t)
	d := tinyShapes(t, 96, 40)
	lim := Limits{Memory: 3 << 30, Processes: 64, Output: 1 << 20, StartTimeout: 120 * time.Second,
		StageTimeout: 20 * time.Second, SetupTimeout: 40 * time.Second, EpochTimeout: 60 * time.Second,
		TmpSize: 32 << 20, Scratch: 48 << 20}
	l := newTestLocal(t, sb, lim, 2)
	cases := []struct {
		name                 string
		init, forward, learn string
		job                  func(*Job)
		kind                 FailKind // "": the run must pass, check judges it
		stage                Stage
		check                func(t *testing.T, res *Result)
	}{
		{
			// The old split: the test part regenerated from the public seed
			// with the worker's own generator, labels output in order.
			name: "ScoreForgeByReproducingTheSplit",
			init: `import json, numpy as np
from nngpt_worker import prepare
m = json.load(open('/nngpt/data/meta.json'))
p = m['params']
a, b = np.random.SeedSequence(int(p.get('seed', 0))).spawn(2)
self.guess = prepare._shapes(np.random.default_rng(b), m['n_test'], m['height'], m['classes'])[1]
self.k = 0`,
			forward: `if not self.training:
    y = torch.as_tensor(self.guess[self.k:self.k + x.shape[0]])
    self.k += x.shape[0]
    out = torch.nn.functional.one_hot(y, self.n_classes).float() * 10 + 0 * out`,
			learn: "self.k = 0",
			check: func(t *testing.T, res *Result) {
				if res.Best() > 0.6 {
					t.Fatalf("accuracy %.3f from a regenerated test split: the split is derivable", res.Best())
				}
			},
		},
		{
			// Forged events: train in the build stage, then report the
			// epoch through the harness's own channel as if it took 80 µs.
			name: "ForgedEventsAndDuration",
			init: `import numpy as np, time
ch = [o for o in gc.get_objects() if type(o).__name__ == 'Channel'][0]
time.sleep(2.5)  # the hidden training
ch.emit('stage', stage='build', in_shape=[16, 3, 32, 32], out_shape=[self.n_classes])
ch.emit('stage', stage='forward', output=[16, self.n_classes])
ch.emit('stage', stage='params', params=1, trainable=1, tensors=1)
sys.stdin.buffer.readline()
np.save('/nngpt/scratch/pred-1.npy', np.zeros((40, self.n_classes), dtype='<f4'))
ch.emit('epoch', epoch=1, train_loss=0.01, train_seconds=0.00008, eval_seconds=0.0, samples=10**9, batches=1, samples_per_sec=1e12, pred='pred-1.npy')
ch.emit('done', stopped=False, epochs=1)
time.sleep(30)`,
			check: func(t *testing.T, res *Result) {
				if !res.OK {
					t.Fatalf("run failed: %+v", res.Failure)
				}
				e := res.Epochs[0]
				if e.Duration < int64(2*time.Second) || res.SetupSec < 2 {
					t.Fatalf("duration %v, setup %.2fs: the work hidden in __init__ does not show", time.Duration(e.Duration), res.SetupSec)
				}
				if e.TrainSeconds > e.Seconds || e.Samples > d.NTrain || e.SamplesPerSec > float64(d.NTrain)/e.Seconds*1.0001 {
					t.Fatalf("forged split of the epoch kept: %+v", e)
				}
			},
		},
		{
			name: "PretrainingPastTheSetupDeadline",
			init: "import time\ntime.sleep(3)", forward: "import time\ntime.sleep(3)",
			job:  func(j *Job) { j.Limits = Limits{SetupTimeout: 4 * time.Second} },
			kind: FailTimeout, stage: StageForward,
			check: func(t *testing.T, res *Result) {
				if !strings.Contains(res.Failure.Message, "SetupTimeout") {
					t.Errorf("message %q does not name the setup deadline", res.Failure.Message)
				}
			},
		},
		{
			name: "PlainTensorWeights",
			init: "self.w = [torch.zeros(2_000_000) for _ in range(3)]",
			kind: FailTooBig, stage: StageParams,
		},
		{
			name: "WeightsHiddenFromTheCount",
			init: "torch._hidden = torch.ones(150_000_000)  # in another module: the harness's count does not look there",
			job:  func(j *Job) { j.MaxParams = 100_000 },
			kind: FailTooBig, stage: StageParams,
			check: func(t *testing.T, res *Result) {
				if !strings.Contains(res.Failure.Message, "resident memory") {
					t.Errorf("message %q: want the coordinator's memory check", res.Failure.Message)
				}
			},
		},
		{
			name: "FillDevShmAndTmp",
			init: `for p in ('/dev/shm/fill', '/tmp/fill'):
    try:
        with open(p, 'wb') as f:
            for _ in range(64):
                f.write(b'x' * (1 << 20))
    except OSError as e:
        print('refused', p, e, flush=True)
        last = e
raise last`,
			kind: FailForbidden, stage: StageBuild,
		},
		{
			name: "FillScratch",
			init: `import time
for i in range(8):
    with open('/nngpt/scratch/fill%d' % i, 'wb') as f:
        f.write(b'x' * (16 << 20))
time.sleep(15)`,
			kind: FailDisk, stage: StageBuild,
		},
		{
			name: "TerminalInjection",
			init: `print('\x1b[2K\x1b[1A\rPASSED best acc 1.0000\x1b]0;pwned\x07', flush=True)
raise ValueError('\x1b[32mPASSED\x1b[0m')`,
			kind: FailBuild, stage: StageBuild,
			check: func(t *testing.T, res *Result) {
				for _, s := range []string{res.LogTail, res.Failure.Message, res.Failure.Traceback} {
					if strings.ContainsAny(s, "\x1b\r\x07") {
						t.Errorf("control characters reach the result: %q", s)
					}
				}
			},
		},
	}
	if runtime.GOARCH == "amd64" {
		cases = append(cases, struct {
			name                 string
			init, forward, learn string
			job                  func(*Job)
			kind                 FailKind
			stage                Stage
			check                func(t *testing.T, res *Result)
		}{
			name: "SyscallsTheFilterRefuses",
			init: `libc = ctypes.CDLL(None, use_errno=True)
got = []
for name, nr, a in (('ptrace', 101, 0), ('keyctl', 250, 0), ('bpf', 321, 0), ('perf_event_open', 298, 0),
                    ('userfaultfd', 323, 0), ('mount', 165, 0), ('unshare', 272, 0x10000000), ('clone-newuser', 56, 0x10000000)):
    r = libc.syscall(nr, ctypes.c_long(a), 0, 0, 0, 0)
    got.append((name, r, ctypes.get_errno()))
print('SYSCALLS', [g for g in got if g[1:] != (-1, 1)], flush=True)`,
			check: func(t *testing.T, res *Result) {
				if !res.OK || !strings.Contains(res.LogTail, "SYSCALLS []") {
					t.Fatalf("a syscall the filter must refuse went through (want each -1 with EPERM):\n%s\n%+v", res.LogTail, res.Failure)
				}
			},
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := Job{Name: "trust-" + strings.ToLower(tc.name), Code: hostileModel(tc.init, tc.forward, tc.learn), Data: d, Batch: 16, Epochs: 1}
			if tc.job != nil {
				tc.job(&job)
			}
			res, _ := runJob(t, l, job)
			if tc.kind == "" {
				tc.check(t, res)
				return
			}
			if res.OK || res.Failure == nil {
				t.Fatalf("hostile model passed (acc %.3f); log:\n%s", res.Best(), res.LogTail)
			}
			if res.Failure.Kind != tc.kind || res.Failure.Stage != tc.stage {
				t.Fatalf("failed with %s at %s (%s), want %s at %s\nlog:\n%s", res.Failure.Kind, res.Failure.Stage,
					res.Failure.Message, tc.kind, tc.stage, text.LastLines(res.LogTail, 15))
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// TestHostileLabelSwapWithoutSandbox: a run with --sandbox none (as
// nobody, under a root coordinator) tries to replace the test labels for
// every later run; the cache is the coordinator's, so each attempt fails
// and the labels stay.
func TestHostileLabelSwapWithoutSandbox(t *testing.T) {
	py, _ := needTorch(t)
	if os.Geteuid() != 0 {
		t.Skip("skipping: workers run as another uid only under a root coordinator; as one uid nothing of the user's files holds")
	}
	d := tinyShapes(t, 96, 40)
	before := snapshot(t, d.Dir)
	sb, err := NewSandbox(context.Background(), SandboxNone)
	if err != nil {
		t.Fatal(err)
	}
	scr := filepath.Join(testCache, "scratch-none")
	os.MkdirAll(scr, 0o755)
	l, err := NewLocal(context.Background(), LocalConfig{Python: py, Sandbox: sb, CacheDir: testCache, ScratchRoot: scr,
		Limits: Limits{StageTimeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	priv := filepath.Join(d.Dir, "private")
	init := fmt.Sprintf(`import numpy as np
d, priv = %q, %q
ok = []
attempts = [
    lambda: np.save(priv + '/test_y.npy', np.zeros(40, dtype=np.uint8)),
    lambda: os.rename(priv, d + '/old'),
    lambda: os.mkdir(d + '/new'),
    lambda: os.chmod(d, 0o777),
    lambda: os.rename(d + '/public', d + '/pub2'),
    lambda: os.listdir(priv),
]
for i, a in enumerate(attempts):
    try:
        a()
        ok.append(i)
    except OSError:
        pass
print('SWAP', ok, flush=True)`, d.Dir, priv)
	res, _ := runJob(t, l, Job{Name: "labelswap", Code: hostileModel(init, "", ""), Data: d, Batch: 16, Epochs: 1})
	if !strings.Contains(res.LogTail, "SWAP []") {
		t.Fatalf("an attempt on the labels went through:\n%s\n%+v", res.LogTail, res.Failure)
	}
	if diff := sameSnapshot(before, snapshot(t, d.Dir)); diff != "" {
		t.Fatalf("dataset cache changed: %s", diff)
	}
}
