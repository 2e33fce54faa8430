package runner

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// runFilter is a classic-BPF interpreter for the instructions the filter
// uses, so the program's decisions are tested without a kernel.
func runFilter(t *testing.T, p []unix.SockFilter, arch, nr, arg0 uint32) uint32 {
	t.Helper()
	var a uint32
	for pc := 0; pc < len(p); pc++ {
		in := p[pc]
		switch in.Code {
		case bpfLdAbs:
			switch in.K {
			case offNr:
				a = nr
			case offArch:
				a = arch
			case offArg0:
				a = arg0
			default:
				t.Fatalf("load of offset %d", in.K)
			}
		case bpfJeq, bpfJge, bpfJset:
			ok := a == in.K
			if in.Code == bpfJge {
				ok = a >= in.K
			} else if in.Code == bpfJset {
				ok = a&in.K != 0
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case bpfRet:
			return in.K
		default:
			t.Fatalf("unknown instruction %#x", in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

func TestSeccompFilter(t *testing.T) {
	p, err := seccompFilter()
	if err != nil {
		t.Skip(err)
	}
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	cases := []struct {
		name           string
		arch, nr, arg0 uint32
		want           uint32
	}{
		{"read", seccompArch, unix.SYS_READ, 0, unix.SECCOMP_RET_ALLOW},
		{"mmap", seccompArch, unix.SYS_MMAP, 0, unix.SECCOMP_RET_ALLOW},
		{"ptrace", seccompArch, unix.SYS_PTRACE, 0, eperm},
		{"keyctl", seccompArch, unix.SYS_KEYCTL, 0, eperm},
		{"bpf", seccompArch, unix.SYS_BPF, 0, eperm},
		{"perf_event_open", seccompArch, unix.SYS_PERF_EVENT_OPEN, 0, eperm},
		{"userfaultfd", seccompArch, unix.SYS_USERFAULTFD, 0, eperm},
		{"mount", seccompArch, unix.SYS_MOUNT, 0, eperm},
		{"unshare", seccompArch, unix.SYS_UNSHARE, 0, eperm},
		{"clone a thread", seccompArch, unix.SYS_CLONE, unix.CLONE_VM | unix.CLONE_THREAD, unix.SECCOMP_RET_ALLOW},
		{"clone a user namespace", seccompArch, unix.SYS_CLONE, unix.CLONE_NEWUSER, eperm},
		{"clone3 falls back", seccompArch, unix.SYS_CLONE3, 0, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"another ABI", 0x40000003, unix.SYS_READ, 0, eperm},
	}
	if seccompX32 {
		cases = append(cases, struct {
			name           string
			arch, nr, arg0 uint32
			want           uint32
		}{"x32", seccompArch, 0x40000000 | unix.SYS_READ, 0, eperm})
	}
	for _, c := range cases {
		if got := runFilter(t, p, c.arch, c.nr, c.arg0); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
	if b := seccompBytes(p); len(b) != 8*len(p) {
		t.Fatalf("%d bytes for %d instructions", len(b), len(p))
	}
}

func TestSweepStale(t *testing.T) {
	root := t.TempDir()
	start, err := procStart(os.Getpid())
	if err != nil {
		t.Skip("no /proc:", err)
	}
	mine := fmt.Sprintf("nngpt-run-%d.%d-123", os.Getpid(), start)
	reused := fmt.Sprintf("nngpt-run-%d.%d-456", os.Getpid(), start+1) // same pid, another process
	dead := "nngpt-probe-999999999.1-789"
	prep := ".prep-999999999.1-5"
	other := "not-ours"
	for _, d := range []string{mine, reused, dead, prep, other} {
		if err := os.MkdirAll(filepath.Join(root, d, "tmp"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if n := sweepStale(root, discardLog()); n != 3 {
		t.Fatalf("removed %d folders, want 3", n)
	}
	for d, keep := range map[string]bool{mine: true, other: true, reused: false, dead: false, prep: false} {
		if _, err := os.Stat(filepath.Join(root, d)); (err == nil) != keep {
			t.Errorf("%s: kept %v, want %v", d, err == nil, keep)
		}
	}
	sb := &Sandbox{UID: -1, GID: -1}
	dir, err := sb.makeScratch(root, "nngpt-run-")
	if err != nil {
		t.Fatal(err)
	}
	if sweepStale(root, discardLog()); !dirExists(dir) {
		t.Fatal("a live coordinator's scratch folder was swept")
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func TestScratchUseCountsBlocks(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30) // a 1 GiB hole takes no disk
	f.Close()
	os.WriteFile(filepath.Join(dir, "data"), make([]byte, 1<<20), 0o644)
	b, n := scratchUse(dir)
	if n != 3 || b < 1<<20 || b > 2<<20 {
		t.Fatalf("%d bytes in %d entries, want about 1 MiB in 3", b, n)
	}
	if rss, err := treeRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("treeRSS of this process: %d, %v", rss, err)
	}
}

func TestClampBatch(t *testing.T) {
	for _, c := range []struct{ batch, n, want int }{{64, 5000, 64}, {64, 40, 32}, {64, 64, 64}, {128, 100, 64}, {16, 0, 16}, {8, 1, 1}} {
		if got := clampBatch(c.batch, c.n); got != c.want {
			t.Errorf("clampBatch(%d, %d) = %d, want %d", c.batch, c.n, got, c.want)
		}
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
