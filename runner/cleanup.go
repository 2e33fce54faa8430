package runner

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
// ("": the system temporary folder) that the worker's uid can write.
func (s *Sandbox) makeScratch(root, prefix string) (string, error) {
	if root == "" {
		root = os.TempDir()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("scratch: %w", err)
	}
	dir, err := os.MkdirTemp(root, prefix)
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
