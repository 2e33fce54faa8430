package runner

import (
	"io/fs"
	"syscall"
)

// diskBytes is what a file takes on disk (512-byte blocks), so a sparse
// file counts for what it holds, not for its apparent size.
func diskBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
