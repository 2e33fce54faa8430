package runner

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxScratchEntries bounds the files a worker may create in scratch: each
// costs an inode even when empty, and the quota walk reads them all.
const maxScratchEntries = 100_000

// scratchUse sums the disk blocks under dir (what the files really take,
// sparse ones included) and counts its entries, stopping past
// maxScratchEntries.
func scratchUse(dir string) (bytes int64, entries int) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		entries++
		if entries > maxScratchEntries {
			return filepath.SkipAll
		}
		if fi, err := d.Info(); err == nil {
			bytes += diskBytes(fi)
		}
		return nil
	})
	return bytes, entries
}

// watchScratch checks the scratch folder's size from outside every
// interval until the run is over; past quota (or maxScratchEntries) it
// closes p.disk, which ends the run with kind "disk". RLIMIT_FSIZE bounds
// each file; this bounds their sum.
func (p *proc) watchScratch(dir string, quota int64, interval time.Duration) {
	p.disk = make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
			}
			b, n := scratchUse(dir)
			var msg string
			switch {
			case n > maxScratchEntries:
				msg = fmt.Sprintf("created more than %d files in its scratch folder", maxScratchEntries)
			case b > quota:
				msg = fmt.Sprintf("its scratch folder holds %d MiB, more than the quota of %d MiB (Limits.Scratch)", b>>20, quota>>20)
			default:
				continue
			}
			p.diskMsg = msg
			close(p.disk)
			return
		}
	}()
}

// treeRSS is the resident memory of pid and all its descendants, read from
// /proc by the coordinator (nothing the worker reports). With bubblewrap
// the tree is bwrap, the sandbox's init and the interpreter with whatever
// it forked.
func treeRSS(pid int) (int64, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], c)
	}
	page := int64(os.Getpagesize())
	var total int64
	seen := 0
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		q := queue[0]
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", q))
		if err != nil {
			continue
		}
		seen++
		if f := strings.Fields(string(b)); len(f) > 1 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			total += n * page
		}
		queue = append(queue, children[q]...)
	}
	if seen == 0 {
		return 0, fmt.Errorf("process %d is gone", pid)
	}
	return total, nil
}
