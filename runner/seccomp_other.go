//go:build !amd64 && !arm64

package runner

const (
	seccompArch = 0 // no filter: the sandbox runs without one and says so
	seccompX32  = false
)

var archDeniedSyscalls []uint32
