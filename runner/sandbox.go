package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Isolation is what a worker ran under.
type Isolation string

const (
	IsolationBwrap  Isolation = "bwrap"       // bubblewrap namespaces + resource limits
	IsolationLimits Isolation = "limits-only" // resource limits and deadlines only
)

// SandboxMode is the user's choice (flag --sandbox).
type SandboxMode string

const (
	SandboxAuto  SandboxMode = "auto"  // bubblewrap when it works, else limits only with a warning
	SandboxBwrap SandboxMode = "bwrap" // bubblewrap or fail
	SandboxNone  SandboxMode = "none"  // limits only
)

// NobodyID is the uid and gid a root coordinator runs workers as: root
// inside a user namespace maps back to host root, which the kernel exempts
// from RLIMIT_NPROC and which owns (so could read) root's files.
const NobodyID = 65534

// Sandbox builds worker command lines.
type Sandbox struct {
	Isolation Isolation
	// Bwrap is the bubblewrap executable ("" without).
	Bwrap string
	// Reason says why bubblewrap is not used (empty when it is).
	Reason string
	// UID and GID the worker runs as; -1: the coordinator's own.
	UID, GID int
}

// NewSandbox resolves mode: it checks that bubblewrap is installed and can
// actually create a sandbox here (containers often forbid user
// namespaces).
func NewSandbox(ctx context.Context, mode SandboxMode) (*Sandbox, error) {
	s := &Sandbox{Isolation: IsolationLimits, UID: -1, GID: -1}
	if os.Geteuid() == 0 {
		s.UID, s.GID = NobodyID, NobodyID
	}
	switch mode {
	case "", SandboxAuto, SandboxBwrap:
	case SandboxNone:
		s.Reason = "disabled (--sandbox none)"
		return s, nil
	default:
		return nil, fmt.Errorf("sandbox mode %q: want auto, bwrap or none", mode)
	}
	path, err := exec.LookPath("bwrap")
	if err != nil {
		s.Reason = "bubblewrap is not installed (Debian/Ubuntu: apt install bubblewrap; Fedora: dnf install bubblewrap)"
	} else if err := trySandbox(ctx, path, s.UID, s.GID); err != nil {
		s.Reason = fmt.Sprintf("bubblewrap cannot create a sandbox here: %v (user namespaces disabled? try: sysctl kernel.unprivileged_userns_clone=1, or run outside a restricted container)", err)
	} else {
		s.Bwrap = path
		s.Isolation = IsolationBwrap
		return s, nil
	}
	if mode == SandboxBwrap {
		return nil, errors.New("--sandbox bwrap: " + s.Reason)
	}
	return s, nil
}

func trySandbox(ctx context.Context, bwrap string, uid, gid int) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	args := append(systemBinds(), baseArgs(false, DefaultLimits.TmpSize)...)
	// The check uses the real filter too: a kernel without seccomp, or a
	// bubblewrap that cannot install it, must not pass for a sandbox.
	sec, err := seccompArgs()
	if err != nil {
		return err
	}
	defer closeFiles(sec.files)
	args = append(append(append(args, sec.args...), sealArgs...), "--", "/bin/sh", "-c", "exit 0")
	cmd := exec.CommandContext(ctx, bwrap, args...)
	cmd.SysProcAttr = procAttr(uid, gid)
	// ExtraFiles start at fd 3; seccompArgs names fd 4 (startProc puts the
	// event pipe on 3), so 3 is a placeholder here.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devNull.Close()
	cmd.ExtraFiles = append([]*os.File{devNull}, sec.files...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func procAttr(uid, gid int) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if uid >= 0 {
		a.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	return a
}

// baseArgs are the namespaces and the synthetic file systems: /proc, a
// /dev of device nodes (made read-only once built), and sized tmpfs for
// /tmp and /dev/shm, so a model cannot fill the host's memory through
// them.
func baseArgs(net bool, tmpSize int64) []string {
	a := []string{"--unshare-all"}
	if net {
		a = append(a, "--share-net")
	}
	size := fmt.Sprint(tmpSize)
	return append(a, "--die-with-parent", "--new-session", "--cap-drop", "ALL",
		"--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm",
		"--size", size, "--tmpfs", "/tmp")
}

// sealArgs end a command line's mounts: the root tmpfs and /dev hold only
// mount points and device nodes once built (the GPU's are bound in last),
// so both become read-only and nothing can be written outside scratch
// and the sized tmpfs.
var sealArgs = []string{"--remount-ro", "/dev", "--remount-ro", "/"}

// seccomp is the --seccomp part of a command line and the descriptor it
// names.
type seccomp struct {
	args  []string
	files []*os.File // ExtraFiles after the event pipe (fd 4 on)
}

// seccompArgs builds the filter's pipe; the program goes to fd 4, since
// startProc puts the event pipe on fd 3.
func seccompArgs() (seccomp, error) {
	prog, err := seccompFilter()
	if err != nil {
		return seccomp{}, err
	}
	r, err := seccompPipe(seccompBytes(prog))
	if err != nil {
		return seccomp{}, err
	}
	return seccomp{args: []string{"--seccomp", "4"}, files: []*os.File{r}}, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// etcFiles are the parts of /etc a Python process needs: the dynamic
// linker's cache, the alternatives Debian resolves BLAS through, user and
// group names, the time zone. Nothing else of /etc enters.
var etcFiles = []string{"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime",
	"passwd", "group", "nsswitch.conf", "mime.types"}

func systemBinds() []string {
	var a []string
	for _, d := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"} {
		fi, err := os.Lstat(d)
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if t, err := os.Readlink(d); err == nil {
				a = append(a, "--symlink", t, d)
			}
			continue
		}
		if fi.IsDir() {
			a = append(a, "--ro-bind", d, d)
		}
	}
	for _, f := range etcFiles {
		p := "/etc/" + f
		if _, err := os.Stat(p); err == nil {
			a = append(a, "--ro-bind", p, p)
		}
	}
	if ms, _ := filepath.Glob("/etc/python3*"); len(ms) > 0 {
		for _, m := range ms {
			a = append(a, "--ro-bind", m, m)
		}
	}
	return a
}

// Mount is a host folder made visible to a worker.
type Mount struct {
	Host    string // host path
	Sandbox string // path inside the sandbox
	RW      bool
}

// launch is everything needed to start one worker.
type launch struct {
	py      *Python
	worker  string  // host folder holding nngpt_worker
	scratch string  // host scratch folder (writable)
	mounts  []Mount // further folders (dataset, sources)
	net     bool
	cuda    bool
	threads int
	tmpSize int64 // bytes of each of /tmp and /dev/shm (0: DefaultLimits.TmpSize)
	env     []string
	// elsewhere: the command runs on another machine (a cluster node),
	// where the seccomp filter's descriptor cannot follow it.
	elsewhere bool
}

// Paths the sandbox shows a worker.
const (
	sbWorker  = "/nngpt/worker"
	sbScratch = "/nngpt/scratch"
)

// inside maps a host path of l to what the worker sees.
func (s *Sandbox) inside(m Mount) string {
	if s.Isolation == IsolationBwrap {
		return m.Sandbox
	}
	return m.Host
}

func (s *Sandbox) scratchPath(l *launch) string {
	return s.inside(Mount{Host: l.scratch, Sandbox: sbScratch})
}

// command builds the worker's command line. With bubblewrap, the command
// holds the seccomp filter's pipe in ExtraFiles; startProc puts the event
// pipe before it and closes both once the worker started.
func (s *Sandbox) command(l *launch) (*exec.Cmd, error) {
	scratch := s.scratchPath(l)
	tmpDir := scratch + "/tmp"
	if s.Isolation == IsolationBwrap {
		tmpDir = "/tmp" // the sandbox's own sized tmpfs
	}
	workerDir := s.inside(Mount{Host: l.worker, Sandbox: sbWorker})
	pypath := []string{workerDir}
	// Folders on the interpreter's sys.path outside its prefixes (user
	// site, PYTHONPATH) would vanish with HOME and the environment:
	// name them explicitly.
	for _, p := range l.py.SysPath {
		under := false
		for _, pre := range append(append([]string{}, l.py.Prefixes...), "/usr") {
			if p == pre || strings.HasPrefix(p, strings.TrimSuffix(pre, "/")+"/") {
				under = true
			}
		}
		if !under {
			pypath = append(pypath, p)
		}
	}
	threads := fmt.Sprint(max(1, l.threads))
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + scratch,
		"TMPDIR=" + tmpDir,
		"LANG=C.UTF-8",
		"PYTHONPATH=" + strings.Join(pypath, ":"),
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
		"OMP_NUM_THREADS=" + threads,
		"MKL_NUM_THREADS=" + threads,
		"OPENBLAS_NUM_THREADS=" + threads,
		// Spinning OpenMP threads collapse when runs share cores (a 2-thread
		// run on a busy machine trains 4-6x slower); waiting passively costs
		// little on an idle one. The user's own setting wins.
		"OMP_WAIT_POLICY=" + envOr("OMP_WAIT_POLICY", "PASSIVE"),
		"TORCH_HOME=" + scratch + "/torch",
		"MPLCONFIGDIR=" + tmpDir,
	}
	if l.cuda {
		for _, k := range []string{"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"} {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	env = append(env, l.env...)
	argv := []string{l.py.Path, "-B", "-m", "nngpt_worker"}
	var cmd *exec.Cmd
	if s.Isolation != IsolationBwrap {
		cmd = exec.Command(argv[0], argv[1:]...)
		cmd.Dir = l.scratch
	} else {
		args := systemBinds()
		args = append(args, baseArgs(l.net, cmp.Or(l.tmpSize, DefaultLimits.TmpSize))...)
		// The interpreter and its packages where they live outside /usr.
		var extra []string
		for _, p := range append(append([]string{filepath.Dir(l.py.Real)}, l.py.Prefixes...), l.py.SysPath...) {
			if p == "" || strings.HasPrefix(p, "/usr/") || p == "/usr" {
				continue
			}
			extra = append(extra, p)
		}
		for _, p := range topLevel(extra) {
			if _, err := os.Stat(p); err == nil {
				args = append(args, "--ro-bind", p, p)
			}
		}
		if l.py.Path != l.py.Real && !strings.HasPrefix(l.py.Path, "/usr/") {
			args = append(args, "--ro-bind", l.py.Path, l.py.Path)
		}
		args = append(args,
			"--ro-bind", l.worker, sbWorker,
			"--bind", l.scratch, sbScratch,
		)
		for _, m := range l.mounts {
			if m.RW {
				args = append(args, "--bind", m.Host, m.Sandbox)
			} else {
				args = append(args, "--ro-bind", m.Host, m.Sandbox)
			}
		}
		if l.cuda {
			args = append(args, nvidiaBinds()...)
		}
		var sec seccomp
		if !l.elsewhere {
			var err error
			if sec, err = seccompArgs(); err != nil {
				return nil, err
			}
		}
		args = append(args, sec.args...)
		args = append(args, sealArgs...)
		args = append(args, "--chdir", sbScratch, "--")
		args = append(args, argv...)
		cmd = exec.Command(s.Bwrap, args...)
		cmd.ExtraFiles = sec.files
	}
	cmd.Env = env
	cmd.SysProcAttr = procAttr(s.UID, s.GID)
	return cmd, nil
}

// nvidiaBinds exposes the GPU: the device files, and /sys and the
// driver's /proc entry that CUDA reads.
func nvidiaBinds() []string {
	var a []string
	devs, _ := filepath.Glob("/dev/nvidia*")
	sort.Strings(devs)
	for _, d := range devs {
		a = append(a, "--dev-bind", d, d)
	}
	if _, err := os.Stat("/dev/dri"); err == nil {
		a = append(a, "--dev-bind", "/dev/dri", "/dev/dri")
	}
	a = append(a, "--ro-bind", "/sys", "/sys")
	if _, err := os.Stat("/proc/driver/nvidia"); err == nil {
		a = append(a, "--ro-bind", "/proc/driver/nvidia", "/proc/driver/nvidia")
	}
	return a
}

// topLevel drops paths nested inside others of the list.
func topLevel(ps []string) []string {
	sort.Strings(ps)
	var out []string
	for _, p := range ps {
		p = filepath.Clean(p)
		if len(out) > 0 {
			last := out[len(out)-1]
			if p == last || strings.HasPrefix(p, last+"/") {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// prepareDir makes a folder the worker's uid can write.
func (s *Sandbox) prepareDir(dir string) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if s.UID >= 0 {
		return os.Chown(dir, s.UID, s.GID)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
