package runner

import (
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
