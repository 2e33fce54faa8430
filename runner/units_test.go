package runner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

// writeNpy writes a v1 .npy file the way numpy.save does.
func writeNpy(t *testing.T, path, descr string, shape []int, data any) {
	t.Helper()
	var dims []string
	for _, d := range shape {
		dims = append(dims, fmt.Sprint(d))
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh)
	pad := 64 - (10+len(h)+1)%64
	h += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	binary.Write(&b, binary.LittleEndian, data)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadNpyAndAccuracy(t *testing.T) {
	dir := t.TempDir()
	logits := []float32{
		0.1, 0.9, 0.0, // 1
		2, 1, 0, // 0
		0, 0, 5, // 2
		float32(math.NaN()), 0, 1, // NaN row: never a hit
	}
	writeNpy(t, filepath.Join(dir, "p.npy"), "<f4", []int{4, 3}, logits)
	writeNpy(t, filepath.Join(dir, "y.npy"), "|u1", []int{4}, []uint8{1, 0, 1, 0})
	p, err := readNpy(filepath.Join(dir, "p.npy"), 100)
	if err != nil {
		t.Fatal(err)
	}
	y, err := readNpy(filepath.Join(dir, "y.npy"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.Shape) != "[4 3]" || len(y.I) != 4 {
		t.Fatalf("shapes %v %v", p.Shape, y.Shape)
	}
	acc, err := accuracy(p.F, 3, y.I)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 0.5 {
		t.Fatalf("accuracy %v, want 0.5", acc)
	}
	if _, err := accuracy(p.F, 4, y.I); err == nil {
		t.Fatal("a shape mismatch was accepted")
	}
	// Size limits and lies in the header are refused before reading.
	if _, err := readNpy(filepath.Join(dir, "p.npy"), 11); err == nil {
		t.Fatal("a file over maxElems was read")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "p.npy"))
	os.WriteFile(filepath.Join(dir, "short.npy"), b[:len(b)-4], 0o644)
	if _, err := readNpy(filepath.Join(dir, "short.npy"), 100); err == nil {
		t.Fatal("a truncated file was read")
	}
	// A worker's scratch folder may hold traps instead of predictions.
	os.Symlink(filepath.Join(dir, "p.npy"), filepath.Join(dir, "link.npy"))
	if _, err := readNpy(filepath.Join(dir, "link.npy"), 100); err == nil {
		t.Fatal("a symlink was followed")
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.npy"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readNpy(filepath.Join(dir, "fifo.npy"), 100); err == nil || !strings.Contains(err.Error(), "regular") {
		t.Fatalf("a FIFO was read: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "junk.npy"), []byte("not numpy at all"), 0o644)
	if _, err := readNpy(filepath.Join(dir, "junk.npy"), 100); err == nil {
		t.Fatal("junk was read")
	}
}

func TestCapLogKeepsHeadAndTail(t *testing.T) {
	flooded := 0
	c := newCapLog(400, 5000, func() { flooded++ })
	c.Write([]byte("HEAD-"))
	for i := 0; i < 200; i++ {
		fmt.Fprintf(c, "line %03d\n", i)
	}
	c.Write([]byte("THE-END\n"))
	s := c.String()
	if !strings.HasPrefix(s, "HEAD-") || !strings.HasSuffix(s, "THE-END\n") || !strings.Contains(s, "bytes of output dropped") {
		t.Fatalf("log %q", s)
	}
	if len(s) > 500 {
		t.Fatalf("kept %d bytes, cap 400 (+ marker)", len(s))
	}
	if c.Total() != int64(5+200*9+8) {
		t.Fatalf("total %d", c.Total())
	}
	if flooded != 0 {
		t.Fatal("flood before the limit")
	}
	c.Write(make([]byte, 4000))
	c.Write([]byte("x"))
	if flooded != 1 {
		t.Fatalf("flood called %d times, want once", flooded)
	}
}

func TestCheckPrm(t *testing.T) {
	given := lemur.Dict{{Key: "lr", Value: 0.02}}
	defs := DefaultHyperparameters
	tests := []struct {
		name string
		got  lemur.Dict
		ok   bool
	}{
		{"given plus default", lemur.Dict{{Key: "lr", Value: 0.02}, {Key: "momentum", Value: 0.9}}, true},
		{"given only", lemur.Dict{{Key: "lr", Value: 0.02}}, true},
		{"changed", lemur.Dict{{Key: "lr", Value: 0.5}}, false},
		{"int for float", lemur.Dict{{Key: "lr", Value: 0.02}, {Key: "momentum", Value: int64(1)}}, false},
		{"dropped", lemur.Dict{{Key: "momentum", Value: 0.9}}, false},
		{"invented", lemur.Dict{{Key: "lr", Value: 0.02}, {Key: "beta", Value: 0.5}}, false},
	}
	for _, tc := range tests {
		if err := checkPrm(tc.got, given, defs); (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestExitFailure(t *testing.T) {
	run := func(script string) *os.ProcessState {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Run()
		return cmd.ProcessState
	}
	tests := []struct {
		script string
		bwrap  bool
		kind   FailKind
	}{
		{"exit 0", false, FailExited},
		{"exit 3", false, FailCrashed},
		{"kill -SEGV $$", false, FailCrashed},
		{"kill -XCPU $$", false, FailTimeout},
		{"exit 139", true, FailCrashed},   // bubblewrap's way of saying SIGSEGV
		{"exit 152", true, FailTimeout},   // 128 + SIGXCPU
		{"exit 153", true, FailForbidden}, // 128 + SIGXFSZ
	}
	for _, tc := range tests {
		f := exitFailure(run(tc.script), tc.bwrap, StageTrain)
		if f.Kind != tc.kind {
			t.Errorf("%q (bwrap %v): %s (%s), want %s", tc.script, tc.bwrap, f.Kind, f.Message, tc.kind)
		}
	}
}

func TestValidTransform(t *testing.T) {
	for s, ok := range map[string]bool{"norm": true, "echo_32": true, "complex_299_flip": true, "norm_flip": true,
		"norm_33": false, "flip": false, "Norm": false, "norm_64_flip_x": false, "": false} {
		if validTransform(s) != ok {
			t.Errorf("validTransform(%q) = %v", s, !ok)
		}
	}
}

func TestDatasetKey(t *testing.T) {
	a := DatasetSpec{Name: "shapes"}.Key()
	b := DatasetSpec{Name: "shapes", Size: 32, Classes: 10, NTrain: 5000, NTest: 1000}.Key()
	if a != b {
		t.Fatalf("defaults change the key: %s vs %s", a, b)
	}
	if a == (DatasetSpec{Name: "shapes", Seed: 1}).Key() {
		t.Fatal("the seed is not in the key")
	}
	if k := (DatasetSpec{Name: "cifar-10"}).Key(); k != "cifar-10-full-v2" {
		t.Fatalf("cifar key %s", k)
	}
}

// TestSandboxCommandExposesNothingOfTheHost checks the bubblewrap command
// line itself: namespaces, dropped capabilities, and no bind of the home,
// workspace or root folder.
func TestSandboxCommandExposesNothingOfTheHost(t *testing.T) {
	sb := &Sandbox{Isolation: IsolationBwrap, Bwrap: "/usr/bin/bwrap", UID: -1, GID: -1}
	extra := filepath.Join(t.TempDir(), "site-packages")
	os.MkdirAll(filepath.Join(extra, "sub"), 0o755)
	py := &Python{Path: "/usr/bin/python3", Real: "/usr/bin/python3.11", Prefixes: []string{"/usr"},
		SysPath: []string{"/usr/lib/python3.11", extra, extra + "/sub"}}
	l := &launch{py: py, worker: "/cache/worker-x", scratch: "/tmp/s1", threads: 3,
		mounts: []Mount{{Host: "/cache/datasets/k/public", Sandbox: "/nngpt/data"}}}
	cmd, err := sb.command(l)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(cmd.ExtraFiles)
	args := strings.Join(cmd.Args, " ")
	for _, want := range []string{"--unshare-all", "--die-with-parent", "--cap-drop ALL", "--new-session",
		"--ro-bind /cache/worker-x /nngpt/worker", "--bind /tmp/s1 /nngpt/scratch", "--ro-bind /cache/datasets/k/public /nngpt/data",
		"--ro-bind " + extra + " " + extra, "-m nngpt_worker"} {
		if !strings.Contains(args, want) {
			t.Errorf("command lacks %q:\n%s", want, args)
		}
	}
	home, _ := os.UserHomeDir()
	for _, bad := range []string{"--share-net", "--ro-bind / /", " " + home + " ", extra + "/sub " + extra, "private"} {
		if strings.Contains(args, bad) {
			t.Errorf("command has %q:\n%s", bad, args)
		}
	}
	env := strings.Join(cmd.Env, " ")
	if !strings.Contains(env, "OMP_NUM_THREADS=3") || !strings.Contains(env, "HOME=/nngpt/scratch") ||
		!strings.Contains(env, "PYTHONPATH=/nngpt/worker:"+extra) {
		t.Errorf("env %s", env)
	}
	if cmd.SysProcAttr == nil || !cmd.SysProcAttr.Setpgid {
		t.Error("the worker does not get its own process group")
	}
	for _, want := range []string{"--seccomp 4", "--size 268435456 --tmpfs /tmp", "--size 268435456 --tmpfs /dev/shm", "--remount-ro /dev --remount-ro / "} {
		if !strings.Contains(args, want) {
			t.Errorf("command lacks %q:\n%s", want, args)
		}
	}
	if len(cmd.ExtraFiles) != 1 {
		t.Errorf("command holds %d extra files, want the seccomp pipe", len(cmd.ExtraFiles))
	}
	l.net, l.cuda = true, true
	cmd2, err := sb.command(l)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(cmd2.ExtraFiles)
	args2 := strings.Join(cmd2.Args, " ")
	if !strings.Contains(args2, "--share-net") {
		t.Error("net: no --share-net")
	}
	// The GPU's device files are bound into /dev before it is sealed.
	if i := strings.Index(args2, "--ro-bind /sys /sys"); i < 0 || i > strings.Index(args2, "--remount-ro /dev") {
		t.Errorf("cuda: device binds after /dev is read-only:\n%s", args2)
	}
}

func TestSubmitRejectsBadJobs(t *testing.T) {
	l := &Local{slots: make(chan struct{}, 1), threads: 1}
	d := &Dataset{Name: "shapes", Classes: 10}
	tests := []struct {
		name string
		job  Job
		want string
	}{
		{"no code", Job{Name: "a", Data: d}, "no code"},
		{"bad name", Job{Name: "../x", Code: "x", Data: d}, "model name"},
		{"no data", Job{Name: "a", Code: "x"}, "no dataset"},
		{"transform", Job{Name: "a", Code: "x", Data: d, Transform: "fancy"}, "transform"},
		{"device", Job{Name: "a", Code: "x", Data: d, Device: "tpu"}, "device"},
		{"prm", Job{Name: "a", Code: "x", Data: d, Prm: lemur.Dict{{Key: "lr", Value: "high"}}}, "hyperparameter lr"},
		{"batch", Job{Name: "a", Code: "x", Data: d, Batch: -4}, "batch"},
	}
	for _, tc := range tests {
		_, err := l.Submit(t.Context(), tc.job)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}
