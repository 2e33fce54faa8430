package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Python is an interpreter that can import torch.
type Python struct {
	Path        string   `json:"path"`        // the executable as found (absolute)
	Real        string   `json:"real"`        // its resolved path
	Version     string   `json:"version"`     // Python version
	Torch       string   `json:"torch"`       // torch.__version__
	TorchFile   string   `json:"torch_file"`  // torch/__init__.py, to notice reinstalls
	Torchvision string   `json:"torchvision"` // version, or "" when missing (only --download needs it)
	Numpy       string   `json:"numpy"`
	Scipy       string   `json:"scipy"` // only SVHN needs it
	CUDA        bool     `json:"cuda"`  // torch.cuda.is_available()
	CUDAVersion string   `json:"cuda_version"`
	GPUs        []string `json:"gpus"`
	Prefixes    []string `json:"prefixes"` // sys.prefix, base_prefix, exec_prefix
	SysPath     []string `json:"sys_path"` // existing folders on sys.path
	// Why says how this interpreter was chosen (for nngpt doctor).
	Why string `json:"why"`
}

// PythonCandidate is one interpreter FindPython looked at.
type PythonCandidate struct {
	Path   string
	Source string // "--python", "NNGPT_PYTHON", "PATH", ...
	Err    error  // why it was not taken (nil for the one taken)
}

// PythonOptions steer FindPython.
type PythonOptions struct {
	// Path is an explicit interpreter (flag --python); when set, no search.
	Path string
	// NoEnv ignores $NNGPT_PYTHON.
	NoEnv bool
	// CacheDir keeps probe results between runs (probing imports torch,
	// which costs seconds); "": no cache.
	CacheDir string
	// Fresh ignores cached probe results.
	Fresh bool
}

// ErrNoTorch is returned (wrapped) when no interpreter can import torch.
var ErrNoTorch = errors.New("no python interpreter that can import torch")

// FindPython picks the interpreter for workers: opts.Path, else
// $NNGPT_PYTHON, else the first of python3 on PATH, /usr/bin/python3,
// python3.X on PATH (newest first) that imports torch. The candidates it
// rejected, and why, come back too (nngpt doctor prints them).
func FindPython(ctx context.Context, opts PythonOptions) (*Python, []PythonCandidate, error) {
	type cand struct{ path, source string }
	var cands []cand
	explicit := false
	switch {
	case opts.Path != "":
		cands = append(cands, cand{opts.Path, "--python"})
		explicit = true
	case !opts.NoEnv && os.Getenv("NNGPT_PYTHON") != "":
		cands = append(cands, cand{os.Getenv("NNGPT_PYTHON"), "NNGPT_PYTHON"})
		explicit = true
	default:
		if p, err := exec.LookPath("python3"); err == nil {
			cands = append(cands, cand{p, "python3 on PATH"})
		}
		cands = append(cands, cand{"/usr/bin/python3", "/usr/bin/python3"})
		for v := 14; v >= 8; v-- {
			name := fmt.Sprintf("python3.%d", v)
			if p, err := exec.LookPath(name); err == nil {
				cands = append(cands, cand{p, name + " on PATH"})
			}
		}
	}
	var tried []PythonCandidate
	seen := map[string]bool{}
	for _, c := range cands {
		path := c.path
		if !filepath.IsAbs(path) {
			if p, err := exec.LookPath(path); err == nil {
				path = p
			}
		}
		abs, _ := filepath.Abs(path)
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			tried = append(tried, PythonCandidate{Path: c.path, Source: c.source, Err: fmt.Errorf("not found: %w", err)})
			continue
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		py, err := probePython(ctx, abs, real, opts)
		if err != nil {
			tried = append(tried, PythonCandidate{Path: abs, Source: c.source, Err: err})
			continue
		}
		py.Why = c.source
		if len(tried) > 0 {
			var skipped []string
			for _, t := range tried {
				skipped = append(skipped, t.Path)
			}
			py.Why += " (skipped " + strings.Join(skipped, ", ") + ": no torch)"
		}
		tried = append(tried, PythonCandidate{Path: abs, Source: c.source})
		return py, tried, nil
	}
	var b strings.Builder
	for _, t := range tried {
		fmt.Fprintf(&b, "\n  %s (%s): %v", t.Path, t.Source, t.Err)
	}
	fix := "install PyTorch (Debian: apt install python3-torch python3-torchvision; elsewhere: pip install torch torchvision) or point --python / NNGPT_PYTHON at an interpreter that has it"
	if explicit {
		return nil, tried, fmt.Errorf("%w: %s%s\n%s", ErrNoTorch, cands[0].path, b.String(), fix)
	}
	return nil, tried, fmt.Errorf("%w; tried:%s\n%s", ErrNoTorch, b.String(), fix)
}

const probeScript = `
import json, os, sys
r = {"version": sys.version.split()[0], "prefixes": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix}),
     "sys_path": [p for p in sys.path if p and os.path.isdir(p)]}
try:
    import torch
    r["torch"] = torch.__version__
    r["torch_file"] = torch.__file__
    r["cuda"] = bool(torch.cuda.is_available())
    r["cuda_version"] = torch.version.cuda or ""
    r["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if r["cuda"] else []
except Exception as e:
    r["error"] = "import torch: %s: %s" % (type(e).__name__, e)
for mod in ("numpy", "scipy", "torchvision"):
    try:
        from importlib.metadata import version
        r[mod] = version(mod)
    except Exception:
        try:
            import importlib.util
            r[mod] = "present" if importlib.util.find_spec(mod) else ""
        except Exception:
            r[mod] = ""
print(json.dumps(r))
`

type probeCache struct {
	Key   string  `json:"key"`
	Saved int64   `json:"saved"`
	Py    *Python `json:"py"`
}

var probeMu sync.Mutex

func fileKey(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", path, st.Size(), st.ModTime().UnixNano())
}

func probePython(ctx context.Context, abs, real string, opts PythonOptions) (*Python, error) {
	probeMu.Lock()
	defer probeMu.Unlock()
	cacheFile := ""
	if opts.CacheDir != "" {
		cacheFile = filepath.Join(opts.CacheDir, "python", strings.ReplaceAll(strings.TrimPrefix(real, "/"), "/", "_")+".json")
		if !opts.Fresh {
			if b, err := os.ReadFile(cacheFile); err == nil {
				var pc probeCache
				if json.Unmarshal(b, &pc) == nil && pc.Py != nil && pc.Key == fileKey(real)+"|"+fileKey(pc.Py.TorchFile) {
					py := *pc.Py
					py.Path = abs
					return &py, nil
				}
			}
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, abs, "-c", probeScript)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			msg += ": " + lastLine(string(ee.Stderr))
		}
		return nil, fmt.Errorf("probe failed: %s", msg)
	}
	var r struct {
		Python
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(lastLine(string(out))), &r); err != nil {
		return nil, fmt.Errorf("probe printed %q: %w", lastLine(string(out)), err)
	}
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	if r.Numpy == "" {
		return nil, errors.New("torch imports but numpy is missing (apt install python3-numpy or pip install numpy)")
	}
	py := r.Python
	py.Path, py.Real = abs, real
	if cacheFile != "" {
		if b, err := json.Marshal(probeCache{Key: fileKey(real) + "|" + fileKey(py.TorchFile), Saved: time.Now().Unix(), Py: &py}); err == nil {
			_ = os.MkdirAll(filepath.Dir(cacheFile), 0o755)
			tmp := cacheFile + ".tmp"
			if os.WriteFile(tmp, b, 0o644) == nil {
				_ = os.Rename(tmp, cacheFile)
			}
		}
	}
	return &py, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// CheckDevice reports whether this interpreter's torch can train on
// device: cpu always; cuda and cuda:N only when it sees a GPU (N below
// their count). Commands check before they start, so a study or a loop
// does not record a failed trial per candidate on a machine without one.
func (p *Python) CheckDevice(device string) error {
	if device == "" || device == "cpu" {
		return nil
	}
	n := -1
	if device != "cuda" {
		idx, ok := strings.CutPrefix(device, "cuda:")
		v, err := strconv.Atoi(idx)
		if !ok || err != nil || v < 0 {
			return fmt.Errorf("device %q: want cpu, cuda or cuda:N", device)
		}
		n = v
	}
	if !p.CUDA {
		return fmt.Errorf("device %s: torch %s at %s sees no GPU (torch.cuda.is_available() is False): use --device cpu, or see `nngpt doctor`", device, p.Torch, p.Path)
	}
	if n >= len(p.GPUs) {
		return fmt.Errorf("device %s: torch sees %d GPU(s) (%s); want cuda:0 to cuda:%d", device, len(p.GPUs), strings.Join(p.GPUs, ", "), len(p.GPUs)-1)
	}
	return nil
}
