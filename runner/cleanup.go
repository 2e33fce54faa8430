package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// removeAll deletes a scratch folder even where the model took away the
// permissions of what it wrote (a folder of mode 000 stops os.RemoveAll
// for a non-root coordinator).
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// makeScratch creates a fresh scratch folder (with tmp/ inside) under root
// ("": the system temporary folder) that the worker's uid can write. Its
// name carries this process's id and start time, so a later coordinator
// can tell the folders of a dead one (sweepStale).
func (s *Sandbox) makeScratch(root, prefix string) (string, error) {
	if root == "" {
		root = os.TempDir()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("scratch: %w", err)
	}
	dir, err := os.MkdirTemp(root, prefix+ownerTag()+"-")
	if err != nil {
		return "", fmt.Errorf("scratch: %w", err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		removeAll(dir)
		return "", fmt.Errorf("scratch: %w", err)
	}
	for _, d := range []string{tmp, dir} {
		if err := s.prepareDir(d); err != nil {
			removeAll(dir)
			return "", fmt.Errorf("scratch %s: %w", d, err)
		}
	}
	return dir, nil
}

var (
	ownerOnce sync.Once
	ownerStr  string
)

// ownerTag is "<pid>.<start time in clock ticks since boot>": a pid alone
// may have been reused by another process since.
func ownerTag() string {
	ownerOnce.Do(func() {
		pid := os.Getpid()
		st, _ := procStart(pid)
		ownerStr = fmt.Sprintf("%d.%d", pid, st)
	})
	return ownerStr
}

// procStart is field 22 of /proc/PID/stat (start time since boot).
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, errors.New("malformed stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// reOwned matches the folders makeScratch (and Prepare) name: prefix,
// owner pid and start time, random suffix.
var reOwned = regexp.MustCompile(`^(nngpt-[a-z]+-|\.prep-)(\d+)\.(\d+)-[0-9]+$`)

// reLegacy matches scratch folders of versions before owner tags.
var reLegacy = regexp.MustCompile(`^nngpt-(run|probe|blockprobe)-[0-9]+$`)

// sweepStale removes the scratch folders under root whose coordinator is
// gone (killed with -9, or the machine rebooted), and legacy ones older
// than a day. It returns how many it removed.
func sweepStale(root string, log *slog.Logger) int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		stale := false
		if m := reOwned.FindStringSubmatch(name); m != nil {
			pid, _ := strconv.Atoi(m[2])
			start, _ := strconv.ParseUint(m[3], 10, 64)
			cur, err := procStart(pid)
			stale = err != nil || cur != start
		} else if reLegacy.MatchString(name) {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				stale = true
			}
		}
		if !stale {
			continue
		}
		p := filepath.Join(root, name)
		if err := removeAll(p); err != nil {
			log.Warn("stale scratch folder not removed", "path", p, "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		log.Info("removed scratch folders of coordinators that are gone", "root", root, "count", n)
	}
	return n
}
