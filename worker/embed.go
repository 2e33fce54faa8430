// Package worker holds nngpt's Python worker (the package nngpt_worker)
// embedded in the binary, and unpacks it where a Python interpreter can
// import it. The code runs from the same bytes whether nngpt was started
// from a source checkout or installed alone.
package worker

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// FS is the Python package, rooted so that FS holds nngpt_worker/....
//
//go:embed nngpt_worker/*.py
var FS embed.FS

// Package is the importable name (python3 -m nngpt_worker).
const Package = "nngpt_worker"

// Hash is the content hash of the embedded package (hex sha256 over the
// sorted file names and contents); it names the unpacked folder.
func Hash() string {
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(FS, Package, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := FS.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Unpack writes the package under cacheDir/worker-<hash12>/ unless it is
// already there, and returns that folder: the directory to put on
// PYTHONPATH. The folder is written under a temporary name and renamed into
// place, so concurrent callers and interrupted runs never see half a copy.
// Files are world-readable so a sandbox running as another uid can import
// them.
func Unpack(cacheDir string) (string, error) {
	dir := filepath.Join(cacheDir, "worker-"+Hash()[:12])
	if _, err := os.Stat(filepath.Join(dir, Package, "__main__.py")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("worker cache %s: %w", cacheDir, err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".worker-tmp-")
	if err != nil {
		return "", fmt.Errorf("worker cache %s: %w", cacheDir, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	err = fs.WalkDir(FS, Package, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("unpack worker: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process won the race: use its copy.
		if _, serr := os.Stat(filepath.Join(dir, Package, "__main__.py")); serr == nil {
			return dir, nil
		}
		return "", fmt.Errorf("unpack worker into %s: %w", dir, err)
	}
	return dir, nil
}

// DefaultCacheDir is where Unpack's copies (and prepared datasets) go
// unless told otherwise: $NNGPT_CACHE, else for root /var/cache/nngpt (the
// sandbox then runs as nobody, who cannot enter /root), else the user cache
// folder (~/.cache/nngpt), else the system temporary folder.
func DefaultCacheDir() string {
	if d := os.Getenv("NNGPT_CACHE"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/nngpt"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "nngpt")
	}
	return filepath.Join(os.TempDir(), "nngpt-cache")
}
