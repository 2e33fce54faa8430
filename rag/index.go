// Package rag is NN-RAG: it indexes a Python repository (every module's
// top-level classes, functions, assignments and imports) and extracts a
// named nn.Module class with everything it needs at runtime into one
// self-contained file, which the sandboxed worker then validates.
//
//	idx, _ := rag.Open(ctx, "path/to/repo", rag.Options{CacheDir: dir}) // seconds; then cached
//	blk, _ := idx.Extract(ctx, "ResNet")                                // or "pkg.module.ResNet"
//	val, _ := rag.SandboxValidator{Exec: local}.Validate(ctx, blk, 2)   // level 1 and 2
//	_ = st.PutBlock(ctx, rag.Record(blk, &val))                         // the block library
//	b, _ := rag.Get(ctx, st, "ResNet")                                  // synthesis reads it back
//
// Extraction follows Python's own rules statically: relative imports,
// package re-exports, aliases, star imports (with __all__), imports under
// try/if (the whole statement is kept, so Python picks the branch at run
// time), import cycles, and scoping (see pyast.Symbols). Definitions from
// the repository are inlined once, in an order where everything a
// statement needs when it runs is defined before it; clashing names get a
// numeric suffix; imports from outside the repository stay imports. Names
// it cannot resolve are listed in Block.Unresolved and in the file's
// header, never guessed.
//
// Extract also finds the repository's own ways to build the class
// (Block.Builders, see builders.go), which level 2 tries before inferring
// arguments from its signature.
package rag

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nngpt/nngpt/pyast"
)

// Module is one Python module of an indexed repository.
type Module struct {
	Name      string // dotted import name
	Path      string // slash path relative to the repository folder
	IsPackage bool   // an __init__.py
	Size      int64
	ModTime   int64 // unix nanoseconds
	Sym       *pyast.Module
}

// Package is the dotted package relative imports start from.
func (m *Module) Package() string {
	if m.IsPackage {
		return m.Name
	}
	if i := strings.LastIndexByte(m.Name, '.'); i >= 0 {
		return m.Name[:i]
	}
	return ""
}

// Index is the symbol index of a repository.
type Index struct {
	Root    string // absolute repository folder
	Commit  string // git HEAD of the repository, "" when unknown
	Modules map[string]*Module
	// tops are the first components of the repository's module names:
	// absolute imports starting with one of them stay in the repository.
	tops map[string]bool
	// prefix is the path of Root relative to the import root ("" or a
	// package folder name) so module paths can be read back.
	importRoot string
	// extensions are the repository's compiled modules (.so, .pyd).
	extensions map[string]bool

	srcMu sync.Mutex
	src   map[string][]byte

	// mu serialises resolution: its memo is filled while resolving.
	mu    sync.Mutex
	res   map[resKey]target
	users map[resKey][]stmtKey // see userGraph
}

// skipDir lists folders that never hold the repository's own code.
var skipDir = map[string]bool{
	"__pycache__": true, "node_modules": true, "site-packages": true, "venv": true,
	".venv": true, "env": true, ".tox": true, "build": true, "dist": true,
}

// Options tune indexing.
type Options struct {
	// CacheDir keeps parsed symbol tables between runs; "" disables the cache.
	CacheDir string
}

type cacheFile struct {
	Root    string
	Modules map[string]*Module
}

// cacheVersion changes whenever the cached types or the analysis change.
const cacheVersion = "rag-index-v1"

// Open indexes the repository at dir: every .py file below it, parsed in
// parallel. Files whose size and modification time match the cache are not
// parsed again.
func Open(ctx context.Context, dir string, opt Options) (*Index, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", dir, err)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("repository %q is not a folder: pass the folder that holds the Python package(s)", dir)
	}
	idx := &Index{Root: root, Modules: map[string]*Module{}, tops: map[string]bool{}, src: map[string][]byte{}, res: map[resKey]target{}, extensions: map[string]bool{}}
	// A folder that is itself a package imports as its own name.
	if _, err := os.Stat(filepath.Join(root, "__init__.py")); err == nil {
		idx.importRoot = filepath.Base(root)
	}
	type file struct {
		rel, name string
		pkg       bool
		size, mt  int64
	}
	var files []file
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || skipDir[d.Name()]) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(d.Name()); ext == ".so" || ext == ".pyd" {
			// A compiled extension: it cannot be inlined, only imported.
			rel, _ := filepath.Rel(root, p)
			stem, _, _ := strings.Cut(filepath.ToSlash(rel), ".")
			if name, _ := idx.moduleName(stem + ".py"); name != "" {
				idx.extensions[name] = true
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".py") || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		name, pkg := idx.moduleName(rel)
		if name == "" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, file{rel, name, pkg, info.Size(), info.ModTime().UnixNano()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("repository %s holds no .py files", root)
	}
	cached := idx.loadCache(opt.CacheDir)
	var todo []*Module
	for _, f := range files {
		if prev, ok := idx.Modules[f.name]; ok {
			// src/ layout and a top-level copy can name the same module:
			// the first found (shorter path) wins, as on sys.path.
			if len(prev.Path) <= len(f.rel) {
				continue
			}
		}
		m := &Module{Name: f.name, Path: f.rel, IsPackage: f.pkg, Size: f.size, ModTime: f.mt}
		if c, ok := cached[f.rel]; ok && c.Size == f.size && c.ModTime == f.mt && c.Name == f.name {
			m.Sym = c.Sym
		} else {
			todo = append(todo, m)
		}
		idx.Modules[f.name] = m
	}
	start := time.Now()
	if err := idx.parseAll(ctx, todo); err != nil {
		return nil, err
	}
	slog.Debug("rag index", "repo", root, "modules", len(idx.Modules), "parsed", len(todo), "took", time.Since(start))
	if len(todo) > 0 {
		idx.saveCache(opt.CacheDir)
	}
	for name := range idx.Modules {
		first, _, _ := strings.Cut(name, ".")
		idx.tops[first] = true
	}
	idx.Commit = gitCommit(ctx, root)
	return idx, nil
}

// moduleName maps a repository path to its dotted import name. A src/
// folder is a source root of its own (the src layout).
func (idx *Index) moduleName(rel string) (string, bool) {
	rel = strings.TrimSuffix(rel, ".py")
	if idx.importRoot == "" {
		rel = strings.TrimPrefix(rel, "src/")
	}
	parts := strings.Split(rel, "/")
	pkg := false
	if parts[len(parts)-1] == "__init__" {
		parts = parts[:len(parts)-1]
		pkg = true
	}
	if idx.importRoot != "" {
		parts = append([]string{idx.importRoot}, parts...)
	}
	if len(parts) == 0 {
		return "", false
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, ".- ") {
			return "", false // not importable by a dotted name
		}
	}
	return strings.Join(parts, "."), pkg
}

func (idx *Index) parseAll(ctx context.Context, todo []*Module) error {
	jobs := make(chan *Module)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				src, err := os.ReadFile(filepath.Join(idx.Root, filepath.FromSlash(m.Path)))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("read %s: %w", m.Path, err)
					}
					mu.Unlock()
					continue
				}
				f := pyast.Parse(src)
				m.Sym = pyast.Symbols(f)
				f.Close()
			}
		}()
	}
	for _, m := range todo {
		if ctx.Err() != nil {
			break
		}
		jobs <- m
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

func cachePath(dir, root string) string {
	h := sha256.Sum256([]byte(cacheVersion + "\x00" + root))
	return filepath.Join(dir, "index-"+hex.EncodeToString(h[:8])+".gob")
}

func (idx *Index) loadCache(dir string) map[string]*Module {
	if dir == "" {
		return nil
	}
	b, err := os.ReadFile(cachePath(dir, idx.Root))
	if err != nil {
		return nil
	}
	var c cacheFile
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil || c.Root != idx.Root {
		slog.Warn("rag: ignoring unreadable index cache", "dir", dir, "err", err)
		return nil
	}
	byPath := map[string]*Module{}
	for _, m := range c.Modules {
		byPath[m.Path] = m
	}
	return byPath
}

func (idx *Index) saveCache(dir string) {
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		slog.Warn("rag: index cache not written", "err", err)
		return
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(cacheFile{Root: idx.Root, Modules: idx.Modules}); err != nil {
		slog.Warn("rag: index cache not written", "err", err)
		return
	}
	p := cachePath(dir, idx.Root)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err == nil {
		err = os.Rename(tmp, p)
		if err != nil {
			slog.Warn("rag: index cache not written", "err", err)
		}
	}
}

// gitCommit returns HEAD of the git repository holding root, "" when root
// is not in one or git is missing.
func gitCommit(ctx context.Context, root string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Source returns the text of a module, read once.
func (idx *Index) Source(m *Module) ([]byte, error) {
	idx.srcMu.Lock()
	defer idx.srcMu.Unlock()
	if b, ok := idx.src[m.Name]; ok {
		return b, nil
	}
	b, err := os.ReadFile(filepath.Join(idx.Root, filepath.FromSlash(m.Path)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", m.Path, err)
	}
	if int64(len(b)) != m.Size {
		return nil, fmt.Errorf("%s changed since it was indexed: index the repository again", m.Path)
	}
	idx.src[m.Name] = b
	return b, nil
}

// ClassRef names a top-level class of the repository.
type ClassRef struct {
	Module string `json:"module"`
	Name   string `json:"name"`
	Line   int    `json:"line"`
}

// Qualified is module.Name.
func (c ClassRef) Qualified() string { return c.Module + "." + c.Name }

// Classes lists the top-level classes of the repository, sorted by module
// and line; with modulesOnly, only those that derive (through the
// repository's own classes) from torch's nn.Module or one of its subclasses.
func (idx *Index) Classes(modulesOnly bool) []ClassRef {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	return idx.classes(modulesOnly)
}

func (idx *Index) classes(modulesOnly bool) []ClassRef {
	var out []ClassRef
	for _, m := range idx.Modules {
		for i := range m.Sym.Stmts {
			s := &m.Sym.Stmts[i]
			if s.Kind != pyast.StmtClass || len(s.Names) == 0 {
				continue
			}
			if modulesOnly && !idx.isTorchModule(m, i, map[stmtKey]bool{}) {
				continue
			}
			out = append(out, ClassRef{Module: m.Name, Name: s.Names[len(s.Names)-1].Name, Line: s.StartLine})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Module != out[j].Module {
			return out[i].Module < out[j].Module
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// ErrNotFound is returned when no class has the requested name.
var ErrNotFound = errors.New("class not found")

// Find locates a class: "Name" anywhere in the repository, or
// "pkg.module.Name" in (or re-exported by) that module.
func (idx *Index) Find(spec string) (ClassRef, error) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	return idx.find(spec)
}

func (idx *Index) find(spec string) (ClassRef, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return ClassRef{}, fmt.Errorf("empty class name")
	}
	if i := strings.LastIndexByte(spec, '.'); i >= 0 {
		mod, name := spec[:i], spec[i+1:]
		m, ok := idx.Modules[mod]
		if !ok {
			return ClassRef{}, fmt.Errorf("%s: module %s is not in the repository %s: %w", spec, mod, idx.Root, ErrNotFound)
		}
		t := idx.resolveName(m, name)
		if t.kind != tDef {
			return ClassRef{}, fmt.Errorf("%s: %s does not define %s: %w", spec, mod, name, ErrNotFound)
		}
		dm := idx.Modules[t.module]
		last := &dm.Sym.Stmts[t.stmts[len(t.stmts)-1]]
		if last.Kind != pyast.StmtClass && last.Kind != pyast.StmtCompound { // a class defined under if/try counts
			return ClassRef{}, fmt.Errorf("%s is a %s, not a class", spec, last.Kind)
		}
		return ClassRef{Module: t.module, Name: t.name, Line: last.StartLine}, nil
	}
	var found []ClassRef
	for _, c := range idx.classes(false) {
		if c.Name == spec {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return ClassRef{}, fmt.Errorf("%s: no top-level class of that name in %s: %w", spec, idx.Root, ErrNotFound)
	case 1:
		return found[0], nil
	}
	var qs []string
	for _, c := range found {
		qs = append(qs, c.Qualified())
	}
	return ClassRef{}, fmt.Errorf("%s is defined in %d modules: name one of %s", spec, len(found), strings.Join(qs, ", "))
}
