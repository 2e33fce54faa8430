package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/internal/text"
)

// hostileTemplate is a working LEMUR model with hooks where each hostile
// case puts its attack.
const hostileTemplate = `import os, sys, gc, socket, ctypes
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.n_classes = out_shape[0]
        self.fc = nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], out_shape[0])
%[1]s

    def forward(self, x):
        out = self.fc(x.flatten(1))
%[2]s
        return out

    def train_setup(self, prm):
        self.criteria = (nn.CrossEntropyLoss(),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        for i, (x, y) in enumerate(train_data):
%[3]s
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(x), y)
            loss.backward()
            self.optimizer.step()
`

func indent(code string, n int) string {
	if code == "" {
		return strings.Repeat(" ", n) + "pass"
	}
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.Trim(code, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

func hostileModel(init, forward, learn string) string {
	return fmt.Sprintf(hostileTemplate, indent(init, 8), indent(forward, 8), indent(learn, 12))
}

// snapshot hashes every file under dir (path, mode, content).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			v += " " + hex.EncodeToString(h[:])
		}
		m[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameSnapshot(a, b map[string]string) string {
	for k, v := range a {
		if b[k] != v {
			return fmt.Sprintf("%s changed: %q -> %q", k, v, b[k])
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			return k + " appeared"
		}
	}
	return ""
}

// TestHostile runs each attack the issue lists and checks that it fails
// with its kind while the host (a fake workspace and home, the dataset
// cache, the scratch root) stays as it was.
func TestHostile(t *testing.T) {
	py, sb := needBwrap(t)
	_ = py
	d := tinyShapes(t, 96, 40)
	host := filepath.Join(testCache, "host")
	ws := filepath.Join(host, "workspace")
	home := filepath.Join(host, "home")
	for _, dir := range []string{ws, home} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(host, 0o755)
	db := filepath.Join(ws, "nngpt.db")
	if err := os.WriteFile(db, []byte("SQLite format 3\x00 secret corpus"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".secret"), []byte("token"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	lim := Limits{
		Memory: 3 << 30, Processes: 64, Output: 1 << 20,
		StartTimeout: 120 * time.Second, StageTimeout: 6 * time.Second, EpochTimeout: 60 * time.Second,
	}
	l := newTestLocal(t, sb, lim, 2)
	scratchRoot := filepath.Join(testCache, "scratch")

	cases := []struct {
		name                 string
		init, forward, learn string
		kind                 FailKind
		stage                Stage
		check                func(t *testing.T, res *Result)
	}{
		{name: "InfiniteLoopInInit", init: "while True:\n    pass", kind: FailTimeout, stage: StageBuild},
		{name: "MemoryBombTorch", init: "self.hog = torch.ones(1 << 31)", kind: FailMemory, stage: StageBuild},
		{name: "MemoryBombPython", init: "self.hog = [bytearray(1 << 34) for _ in range(4)]", kind: FailMemory, stage: StageBuild},
		{name: "ForkBomb", init: "while True:\n    os.fork()", kind: FailProcesses, stage: StageBuild},
		{name: "Socket", init: fmt.Sprintf("s = socket.create_connection(('127.0.0.1', %d), timeout=2)\ns.sendall(b'stolen')", port),
			kind: FailForbidden, stage: StageBuild},
		{name: "ReadWorkspaceDB", init: fmt.Sprintf("print(open(%q, 'rb').read())", db), kind: FailForbidden, stage: StageBuild},
		{name: "ReadHome", init: fmt.Sprintf("print(os.listdir(%q), os.listdir('/root'))", home), kind: FailForbidden, stage: StageBuild},
		{name: "WriteOutsideScratch", init: fmt.Sprintf("for p in (%q, '/nngpt/data/x', '/usr/pwned', '/etc/pwned', '/nngpt/worker/nngpt_worker/train.py'):\n    try:\n        open(p, 'w').write('pwned')\n    except OSError as e:\n        print('refused', p, e)\n        last = e\nraise last", filepath.Join(ws, "pwned")),
			kind: FailForbidden, stage: StageBuild},
		{name: "ForgedEventAnyFD", init: `line = b'{"t":"done","seq":1,"nonce":"x","stopped":false}\n'
print(line.decode(), flush=True)
for fd in range(0, 4096):
    try:
        os.write(fd, line)
    except OSError:
        pass`, kind: FailTampered, stage: StageBuild},
		{name: "ExitMidEpoch", learn: "if i == 1:\n    os._exit(0)", kind: FailExited, stage: StageTrain},
		{name: "SysExitMidEpoch", learn: "if i == 1:\n    sys.exit(0)", kind: FailExited, stage: StageTrain},
		{name: "SegfaultCtypes", learn: "if i == 1:\n    ctypes.string_at(0)", kind: FailCrashed, stage: StageTrain,
			check: func(t *testing.T, res *Result) {
				if !strings.Contains(res.Failure.Message, "11") || !strings.Contains(res.LogTail, "Segmentation fault") {
					t.Errorf("want a segfault reported, got %q; log %q", res.Failure.Message, res.LogTail)
				}
			}},
		{name: "WrongShape", forward: "out = torch.cat([out, out[:, :1]], 1)", kind: FailShape, stage: StageForward},
		{name: "NaNLoss", forward: "if self.training:\n    out = out * float('nan')", kind: FailNaNLoss, stage: StageTrain},
		{name: "MegabytesOfOutput", init: "for _ in range(20000):\n    print('x' * 1000)", kind: FailOutputFlood, stage: StageBuild,
			check: func(t *testing.T, res *Result) {
				if len(res.LogTail) > 128<<10 {
					t.Errorf("kept %d bytes of log, want the cap", len(res.LogTail))
				}
			}},
	}
	before := snapshot(t, host)
	dataBefore := snapshot(t, d.Dir)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, _ := runJob(t, l, Job{Name: "hostile-" + strings.ToLower(tc.name), Code: hostileModel(tc.init, tc.forward, tc.learn),
				Data: d, Batch: 16, Epochs: 1})
			if res.OK || res.Failure == nil {
				t.Fatalf("hostile model passed (acc %.3f); log:\n%s", res.Best(), res.LogTail)
			}
			if res.Failure.Kind != tc.kind || res.Failure.Stage != tc.stage {
				t.Fatalf("failed with %s at %s (%s), want %s at %s\n%s\nlog:\n%s", res.Failure.Kind, res.Failure.Stage,
					res.Failure.Message, tc.kind, tc.stage, res.Failure.Traceback, text.LastLines(res.LogTail, 15))
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
	t.Cleanup(func() {
		if diff := sameSnapshot(before, snapshot(t, host)); diff != "" {
			t.Errorf("host folder touched: %s", diff)
		}
		if diff := sameSnapshot(dataBefore, snapshot(t, d.Dir)); diff != "" {
			t.Errorf("dataset cache touched: %s", diff)
		}
		if ents, _ := os.ReadDir(scratchRoot); len(ents) != 0 {
			t.Errorf("scratch root keeps %d entries after the runs", len(ents))
		}
		select {
		case <-accepted:
			t.Errorf("a sandboxed model reached a host socket")
		default:
		}
	})
}

// TestHostileLabelSearch: a model that hunts for the test labels in memory
// and on every file it can see finds nothing, and the run's accuracy is what
// its own predictions earn. It also prints forged events on stdout, which
// must change nothing.
func TestHostileLabelSearch(t *testing.T) {
	_, sb := needBwrap(t)
	d := tinyShapes(t, 96, 40)
	l := newTestLocal(t, sb, Limits{StageTimeout: 30 * time.Second})
	init := fmt.Sprintf(`import numpy as np
n_test = %d
self.found = None
for obj in gc.get_objects():
    try:
        if isinstance(obj, torch.Tensor) and obj.dim() == 1 and len(obj) == n_test and not obj.is_floating_point():
            self.found = obj
        elif isinstance(obj, np.ndarray) and obj.ndim == 1 and len(obj) == n_test and obj.dtype.kind in 'iu':
            self.found = obj
    except Exception:
        pass
for root, dirs, files in os.walk('/'):
    if root.startswith(('/proc', '/sys', '/dev', '/usr')):
        dirs[:] = []
        continue
    for f in files:
        if f.endswith('.npy'):
            try:
                a = np.load(os.path.join(root, f))
                if a.ndim == 1 and len(a) == n_test:
                    self.found = a
            except Exception:
                pass
print('FOUND LABELS' if self.found is not None else 'no labels anywhere', flush=True)
print('{"t":"epoch","seq":7,"nonce":"","epoch":1,"accuracy":1.0}', flush=True)`, d.NTest)
	res, _ := runJob(t, l, Job{Name: "labelthief", Code: hostileModel(init, "", ""), Data: d, Batch: 16, Epochs: 1})
	if !res.OK {
		t.Fatalf("run failed: %+v\n%s", res.Failure, res.LogTail)
	}
	if !strings.Contains(res.LogTail, "no labels anywhere") {
		t.Fatalf("the model found labels:\n%s", res.LogTail)
	}
	if len(res.Epochs) != 1 || res.Epochs[0].Accuracy > 0.6 {
		t.Fatalf("epochs %+v: want one epoch at the accuracy a linear model earns on 96 images", res.Epochs)
	}
}
