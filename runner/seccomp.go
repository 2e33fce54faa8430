package runner

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The sandbox's seccomp filter: a classic BPF program that bubblewrap
// installs (--seccomp FD) on the worker just before it runs python. It is a
// flat list of compare-and-return instructions, so it is assembled here by
// hand instead of through libseccomp (cgo) or a BPF assembler dependency.
//
// It refuses, with EPERM, what a training job never needs and what widens
// the kernel surface a model can attack: tracing and reading other
// processes (ptrace, process_vm_*, kcmp), the kernel keyring, eBPF, perf
// events, userfaultfd (a classic exploit helper), io_uring, every mount and
// namespace call (and clone with namespace flags), module and kexec loading,
// swap, reboot, accounting, quotas, file handles, and 32-bit or x32
// syscalls (another ABI with other numbers). clone3 gets ENOSYS, which
// makes glibc fall back to clone, whose flags the filter can see.

// deniedSyscalls are refused on every architecture (numbers per GOARCH).
var deniedSyscalls = []uint32{
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_KCMP,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE,
	unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOUNT_SETATTR,
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE, unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_REBOOT, unix.SYS_ACCT, unix.SYS_QUOTACTL, unix.SYS_SYSLOG,
	unix.SYS_VHANGUP, unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_LOOKUP_DCOOKIE,
}

// cloneNamespaceFlags are clone(2)'s CLONE_NEW* bits (CLONE_NEWNS,
// CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
// CLONE_NEWNET).
const cloneNamespaceFlags = 0x7E020000

// Offsets into struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6]}.
const (
	offNr    = 0
	offArch  = 4
	offArg0  = 16 // low half on little-endian machines (amd64, arm64)
	bpfLdAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfJset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfRet   = unix.BPF_RET | unix.BPF_K
)

// seccompFilter returns the program (struct sock_filter[] in the
// machine's byte order, as bubblewrap reads it), or nil and a reason on an
// architecture this filter does not know.
func seccompFilter() ([]unix.SockFilter, error) {
	if seccompArch == 0 {
		return nil, fmt.Errorf("no seccomp filter for this architecture")
	}
	deny := append(append([]uint32{}, deniedSyscalls...), archDeniedSyscalls...)
	var p []unix.SockFilter
	ins := func(code uint16, jt, jf uint8, k uint32) {
		p = append(p, unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
	}
	// Jumps are relative to the next instruction and go to one of three
	// returns at the end (allow, EPERM, ENOSYS): they are written as
	// placeholders and patched once the returns' positions are known.
	ins(bpfLdAbs, 0, 0, offArch)
	type fix struct {
		at     int
		target string // "eperm", "enosys", "allow"
		onTrue bool
	}
	var fixes []fix
	jump := func(code uint16, k uint32, target string, onTrue bool) {
		fixes = append(fixes, fix{len(p), target, onTrue})
		ins(code, 0, 0, k)
	}
	jump(bpfJeq, seccompArch, "eperm", false) // another ABI: refuse
	ins(bpfLdAbs, 0, 0, offNr)
	if seccompX32 {
		jump(bpfJge, 0x40000000, "eperm", true) // the x32 ABI's numbers
	}
	for _, nr := range deny {
		jump(bpfJeq, nr, "eperm", true)
	}
	jump(bpfJeq, unix.SYS_CLONE3, "enosys", true)
	// clone: refuse namespace flags. Not clone: allow.
	jump(bpfJeq, unix.SYS_CLONE, "allow", false)
	ins(bpfLdAbs, 0, 0, offArg0)
	jump(bpfJset, cloneNamespaceFlags, "eperm", true)
	labels := map[string]int{"allow": len(p), "eperm": len(p) + 1, "enosys": len(p) + 2}
	ins(bpfRet, 0, 0, unix.SECCOMP_RET_ALLOW)
	ins(bpfRet, 0, 0, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))
	ins(bpfRet, 0, 0, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))
	for _, f := range fixes {
		d := labels[f.target] - f.at - 1
		if d < 0 || d > 255 {
			return nil, fmt.Errorf("seccomp: jump of %d instructions", d)
		}
		if f.onTrue {
			p[f.at].Jt = uint8(d)
		} else {
			p[f.at].Jf = uint8(d)
		}
	}
	return p, nil
}

// seccompBytes encodes a program as bubblewrap's --seccomp reads it.
func seccompBytes(p []unix.SockFilter) []byte {
	b := make([]byte, 0, 8*len(p))
	for _, f := range p {
		b = binary.NativeEndian.AppendUint16(b, f.Code)
		b = append(b, f.Jt, f.Jf)
		b = binary.NativeEndian.AppendUint32(b, f.K)
	}
	return b
}

// seccompPipe returns the read end of a pipe holding the program, for
// bubblewrap to read through --seccomp.
func seccompPipe(prog []byte) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("seccomp pipe: %w", err)
	}
	// The program (a few hundred bytes) fits the pipe's buffer, so this
	// write does not wait for bubblewrap.
	if _, err := w.Write(prog); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("seccomp pipe: %w", err)
	}
	w.Close()
	return r, nil
}
