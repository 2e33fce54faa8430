package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nngpt/nngpt/internal/text"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/worker"
)

// DatasetSpec says which dataset to prepare and how.
type DatasetSpec struct {
	Name string
	// Shapes only: image size (default 32), classes (2..10, default 10).
	Size, Classes int
	// NTrain and NTest: shapes' sizes (defaults 5000 and 1000), or a
	// seeded subset of a real dataset (0: all of it).
	NTrain, NTest int
	// Seed of the generator or the subset.
	Seed int64
	// DataDir holds the real datasets' files (flag --data-dir, env NNGPT_DATA).
	DataDir string
	// Download lets torchvision fetch missing files (needs network).
	Download bool
}

func (s DatasetSpec) withDefaults() DatasetSpec {
	if s.Name == "" {
		s.Name = "shapes"
	}
	if s.Name == "shapes" {
		if s.Size == 0 {
			s.Size = 32
		}
		if s.Classes == 0 {
			s.Classes = 10
		}
		if s.NTrain == 0 {
			s.NTrain = 5000
		}
		if s.NTest == 0 {
			s.NTest = 1000
		}
	}
	return s
}

// Key names the cache folder of a spec: every setting that changes the
// data is in it.
func (s DatasetSpec) Key() string {
	s = s.withDefaults()
	if s.Name == "shapes" {
		return fmt.Sprintf("shapes-s%d-c%d-n%d-t%d-seed%d-v4", s.Size, s.Classes, s.NTrain, s.NTest, s.Seed)
	}
	if s.NTrain == 0 && s.NTest == 0 {
		return s.Name + "-full-v2"
	}
	return fmt.Sprintf("%s-n%d-t%d-seed%d-v2", s.Name, s.NTrain, s.NTest, s.Seed)
}

// Dataset is a prepared dataset in the cache.
type Dataset struct {
	Name     string    `json:"name"` // LEMUR's spelling: shapes, cifar-10, ...
	Task     string    `json:"task"` // img-classification
	Key      string    `json:"key"`  // cache folder name
	Dir      string    `json:"dir"`  // cache folder
	Classes  int       `json:"classes"`
	Channels int       `json:"channels"`
	Height   int       `json:"height"`
	Width    int       `json:"width"`
	NTrain   int       `json:"n_train"`
	NTest    int       `json:"n_test"`
	Mean     []float64 `json:"mean"`
	Std      []float64 `json:"std"`
	// Subset: the training or test split is a seeded subset of a real
	// dataset's (NTrain, NTest smaller than the source's), not all of it.
	Subset bool `json:"subset"`
	// Seed drew the training subset (real datasets) or generated the
	// training split (shapes). The test split is drawn with a secret.
	Seed int64 `json:"seed"`

	once     sync.Once
	labels   []int64
	splitID  string
	labelErr error
}

// Public is the folder bound read-only into training sandboxes (no test labels).
func (d *Dataset) Public() string { return filepath.Join(d.Dir, "public") }

// DataProvenance is what a run trained and was scored on.
type DataProvenance struct {
	Name    string `json:"name"`
	Key     string `json:"key"` // cache key: the spec (sizes, seed, format version)
	NTrain  int    `json:"n_train"`
	NTest   int    `json:"n_test"`
	Subset  bool   `json:"subset"` // a subset of a real dataset: not comparable with full-data results
	Seed    int64  `json:"seed"`
	SplitID string `json:"split_id"`
}

// Provenance is what a run on d records about its data.
func (d *Dataset) Provenance() DataProvenance {
	return DataProvenance{Name: d.Name, Key: d.Key, NTrain: d.NTrain, NTest: d.NTest, Subset: d.Subset, Seed: d.Seed, SplitID: d.SplitID()}
}

// Chance is the accuracy of guessing.
func (d *Dataset) Chance() float64 { return 1 / float64(max(1, d.Classes)) }

// Labels are the test split's labels (coordinator side only).
func (d *Dataset) Labels() ([]int64, error) {
	d.load()
	return d.labels, d.labelErr
}

// SplitID identifies the exact splits: a hash of meta.json and the test
// labels, so runs on different data never compare as equal.
func (d *Dataset) SplitID() string {
	d.load()
	return d.splitID
}

func (d *Dataset) load() {
	d.once.Do(func() {
		p := filepath.Join(d.Dir, "private", "test_y.npy")
		if err := checkOwned(d.Dir, p); err != nil {
			d.labelErr = fmt.Errorf("dataset %s: %w; delete %s to rebuild it", d.Key, err, d.Dir)
			return
		}
		a, err := readNpy(p, 1<<28)
		if err != nil {
			d.labelErr = fmt.Errorf("dataset %s: test labels: %w", d.Key, err)
			return
		}
		if a.I == nil || len(a.I) != d.NTest {
			d.labelErr = fmt.Errorf("dataset %s: %s holds %d labels, meta.json says %d", d.Key, p, len(a.I)+len(a.F), d.NTest)
			return
		}
		d.labels = a.I
		h := sha256.New()
		for _, f := range []string{filepath.Join(d.Public(), "meta.json"), p} {
			if fh, err := os.Open(f); err == nil {
				_, _ = io.Copy(h, fh)
				fh.Close()
			}
		}
		d.splitID = hex.EncodeToString(h.Sum(nil))[:16]
	})
}

// OpenDataset reads a prepared dataset folder.
func OpenDataset(dir string) (*Dataset, error) {
	b, err := os.ReadFile(filepath.Join(dir, "public", "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("dataset cache %s: %w", dir, err)
	}
	d := &Dataset{Dir: dir, Key: filepath.Base(dir)}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("dataset cache %s: meta.json: %w", dir, err)
	}
	d.Key = filepath.Base(dir)
	if d.Classes < 2 || d.NTest <= 0 || d.NTrain <= 0 || len(d.Mean) != d.Channels {
		return nil, fmt.Errorf("dataset cache %s: meta.json is incomplete; delete the folder to rebuild it", dir)
	}
	return d, nil
}

// Pipeline is the LEMUR pipeline of a model trained on d.
func (d *Dataset) Pipeline(nn string) lemur.Pipeline {
	task := d.Task
	if task == "" {
		task = "img-classification"
	}
	return lemur.Pipeline{Task: task, Dataset: d.Name, Metric: "acc", NN: nn}
}

// Datasets prepares datasets into a cache folder.
type Datasets struct {
	// CacheDir holds datasets/<key>/ ("": worker.DefaultCacheDir()).
	CacheDir string
	// Sandbox runs the preparing worker (nil: NewSandbox(auto)).
	Sandbox *Sandbox
	Logger  *slog.Logger
}

// Prepare returns the prepared dataset for spec, building it first when
// the cache does not have it. Building runs the worker (kind "prepare")
// in the sandbox with the data folder read-only (writable, and with network,
// only for Download).
func (ds Datasets) Prepare(ctx context.Context, py *Python, spec DatasetSpec) (*Dataset, error) {
	spec = spec.withDefaults()
	if _, err := lemur.TrainableDataset(spec.Name); err != nil {
		return nil, err
	}
	cache := ds.CacheDir
	if cache == "" {
		cache = worker.DefaultCacheDir()
	}
	root := filepath.Join(cache, "datasets")
	dir := filepath.Join(root, spec.Key())
	if d, err := OpenDataset(dir); err == nil {
		return d, nil
	}
	if py == nil {
		return nil, errors.New("prepare dataset: no python interpreter")
	}
	if spec.Name != "shapes" && spec.DataDir == "" {
		return nil, fmt.Errorf("dataset %s needs a data folder: pass --data-dir or set NNGPT_DATA (with --download, torchvision fetches the files into it)", spec.Name)
	}
	sb := ds.Sandbox
	if sb == nil {
		var err error
		if sb, err = NewSandbox(ctx, SandboxAuto); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("dataset cache: %w", err)
	}
	log := ds.Logger
	if log == nil {
		log = slog.Default()
	}
	workerDir, err := worker.Unpack(cache)
	if err != nil {
		return nil, err
	}
	if err := reachable(sb, workerDir, root); err != nil {
		return nil, err
	}
	sweepStale(root, log)
	tmp, err := os.MkdirTemp(root, ".prep-"+ownerTag()+"-")
	if err != nil {
		return nil, fmt.Errorf("dataset cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "out")
	scratch := filepath.Join(tmp, "scratch")
	for _, d := range []string{out, scratch, filepath.Join(scratch, "tmp")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
		if err := sb.prepareDir(d); err != nil {
			return nil, fmt.Errorf("dataset cache: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	l := &launch{py: py, worker: workerDir, scratch: scratch, threads: 1,
		mounts: []Mount{{Host: out, Sandbox: "/nngpt/out", RW: true}}, net: spec.Download}
	params := map[string]any{"seed": spec.Seed}
	if spec.Name == "shapes" {
		params["size"], params["classes"] = spec.Size, spec.Classes
	}
	if spec.NTrain > 0 {
		params["n_train"] = spec.NTrain
	}
	if spec.NTest > 0 {
		params["n_test"] = spec.NTest
	}
	// The test split is drawn (shapes: generated; real data: subset and
	// order) with a secret only this call knows: nothing in the cache, its
	// path or its meta.json lets a model rebuild it or line its labels up.
	job := map[string]any{"kind": "prepare", "name": spec.Name, "params": params, "test_secret": newNonce(),
		"out": sb.inside(l.mounts[0]), "download": spec.Download,
		"limits": map[string]any{"memory": 0, "nproc": 512, "nofile": 1024}}
	if spec.DataDir != "" {
		abs, err := filepath.Abs(spec.DataDir)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("data folder %s: not a folder (set --data-dir or NNGPT_DATA)", abs)
		}
		l.mounts = append(l.mounts, Mount{Host: abs, Sandbox: "/nngpt/src", RW: spec.Download})
		job["data_dir"] = sb.inside(l.mounts[1])
	}
	log.Info("preparing dataset", "key", spec.Key(), "isolation", sb.Isolation)
	timeout := 10 * time.Minute
	if spec.Download {
		timeout = time.Hour
	}
	cmd, err := sb.command(l)
	if err != nil {
		return nil, err
	}
	p, err := startProc(cmd, job, 64<<20, 32<<10)
	if err != nil {
		return nil, err
	}
	ev, err := p.next(ctx, timeout)
	p.kill()
	st := p.wait(5 * time.Second)
	switch {
	case err != nil && errors.Is(err, errEOF):
		f := exitFailure(st, sb.Isolation == IsolationBwrap, "prepare")
		return nil, fmt.Errorf("prepare dataset %s: %s\n%s", spec.Name, f.Message, text.LastLines(p.log.String(), 20))
	case err != nil:
		return nil, fmt.Errorf("prepare dataset %s: %w\n%s", spec.Name, err, text.LastLines(p.log.String(), 20))
	case ev.T == "error":
		if ev.Kind == string(FailData) {
			msg := ev.Message
			if len(l.mounts) > 1 {
				msg = strings.ReplaceAll(msg, sb.inside(l.mounts[1]), l.mounts[1].Host)
			}
			return nil, fmt.Errorf("prepare dataset: %s", msg)
		}
		return nil, fmt.Errorf("prepare dataset %s: %s: %s\n%s", spec.Name, ev.Kind, ev.Message, ev.Traceback)
	case ev.T != "done":
		return nil, fmt.Errorf("prepare dataset %s: unexpected event %q", spec.Name, ev.T)
	}
	if err := secureCache(out); err != nil {
		return nil, fmt.Errorf("dataset cache: %w", err)
	}
	if err := os.Rename(out, dir); err != nil {
		if d, oerr := OpenDataset(dir); oerr == nil {
			return d, nil // prepared concurrently
		}
		return nil, fmt.Errorf("dataset cache: %w", err)
	}
	return OpenDataset(dir)
}

// secureCache makes a freshly prepared cache the coordinator's: every
// entry owned by its user (the preparing worker may have run as nobody),
// public/ read-only to others, private/ (the test labels) closed to them,
// and nothing but folders and regular files. A worker of a later run, even
// one without bubblewrap as another uid, can then neither read the labels
// nor swap them by renaming what it owns.
func secureCache(out string) error {
	uid, gid := os.Geteuid(), os.Getegid()
	priv := filepath.Join(out, "private")
	return filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: a %s in a prepared dataset, want folders and files only", p, fi.Mode().Type())
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
		closed := p == priv || strings.HasPrefix(p, priv+string(filepath.Separator))
		mode := os.FileMode(0o644)
		switch {
		case fi.IsDir() && closed:
			mode = 0o700
		case fi.IsDir():
			mode = 0o755
		case closed:
			mode = 0o600
		}
		return os.Chmod(p, mode)
	})
}

// checkOwned refuses a cache whose labels another user could have put
// there: the dataset folder, private/ and the labels must be the
// coordinator's and writable by nobody else.
func checkOwned(dir, labels string) error {
	uid := os.Geteuid()
	for _, p := range []string{dir, filepath.Dir(labels), labels} {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		if int(st.Uid) != uid || fi.Mode().Perm()&0o022 != 0 || fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s is owned by uid %d with mode %v: another user (a sandboxed worker) could have replaced the test labels", p, st.Uid, fi.Mode())
		}
	}
	return nil
}

// reachable checks that a worker running as another uid can reach the
// folders it needs (a root coordinator's worker runs as nobody).
func reachable(sb *Sandbox, dirs ...string) error {
	if sb.UID < 0 {
		return nil
	}
	for _, d := range dirs {
		for p := d; ; p = filepath.Dir(p) {
			st, err := os.Stat(p)
			bit := os.FileMode(0o001)
			if sys, ok := st.Sys().(*syscall.Stat_t); err == nil && ok && int(sys.Uid) == sb.UID {
				bit = 0o100
			}
			if err == nil && st.Mode().Perm()&bit == 0 {
				return fmt.Errorf("folder %s cannot be entered by uid %d, which workers run as when nngpt runs as root: chmod o+x %s, or set NNGPT_CACHE (or --cache-dir) to a folder others can enter", p, sb.UID, p)
			}
			if p == filepath.Dir(p) {
				break
			}
		}
	}
	return nil
}
