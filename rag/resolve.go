package rag

import (
	"strings"

	"github.com/nngpt/nngpt/pyast"
)

// This file resolves a module-level name the way Python's import system
// would when the module is imported: the last binding that always runs
// wins; bindings under if/try after it may replace it at runtime, so they
// all count; imports are followed through re-exports and star imports to
// the statement that defines the value.

type tKind int

const (
	tUnresolved tKind = iota
	tDef              // defined by statements of the repository
	tModule           // a module (or namespace package) of the repository
	tExternal         // something imported from outside the repository
	tBuiltin          // a builtin or a module dunder
)

type target struct {
	kind   tKind
	module string // tDef: defining module; tModule: the module
	name   string // tDef: the name bound there
	stmts  []int  // tDef: the statements binding it, in source order
	ext    extRef
	reason string // tUnresolved; for tExternal, why a repository name is imported instead of inlined
}

// extRef is a value imported from outside the repository.
type extRef struct {
	Module    string // dotted module
	Attr      string // `from Module import Attr`; "" for the module itself
	Submodule string // `import a.b.c` (no alias) binds a (Module) and needs a.b.c loaded
	Bound     string // the name the source bound it to: the preferred name
}

func (e extRef) key() string { return e.Module + "|" + e.Attr }

// full is the dotted name of the value.
func (e extRef) full() string {
	if e.Attr != "" {
		return e.Module + "." + e.Attr
	}
	return e.Module
}

type resKey struct{ module, name string }

type stmtKey struct {
	module string
	stmt   int
}

var builtins = toSet(`ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup BlockingIOError
BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError ConnectionError ConnectionRefusedError
ConnectionResetError DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception ExceptionGroup False
FileExistsError FileNotFoundError FloatingPointError FutureWarning GeneratorExit IOError ImportError ImportWarning
IndentationError IndexError InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError
ModuleNotFoundError NameError None NotADirectoryError NotImplemented NotImplementedError OSError OverflowError
PendingDeprecationWarning PermissionError ProcessLookupError RecursionError ReferenceError ResourceWarning RuntimeError
RuntimeWarning StopAsyncIteration StopIteration SyntaxError SyntaxWarning SystemError SystemExit TabError TimeoutError
True TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning
UserWarning ValueError Warning ZeroDivisionError __build_class__ __debug__ __doc__ __import__ __loader__ __name__
__package__ __spec__ __file__ __builtins__ __path__ __annotations__ __dict__ __cached__ abs aiter all anext any ascii bin
bool breakpoint bytearray bytes callable chr classmethod compile complex copyright credits delattr dict dir divmod
enumerate eval exec exit filter float format frozenset getattr globals hasattr hash help hex id input int isinstance
issubclass iter len license list locals map max memoryview min next object oct open ord pow print property quit range
repr reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip reveal_type unicode`)

func toSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

// inRepo reports whether an absolute module name belongs to the repository.
func (idx *Index) inRepo(mod string) bool {
	first, _, _ := strings.Cut(mod, ".")
	return idx.tops[first]
}

// isPackage reports whether mod is a package of the repository, with an
// __init__.py or as a namespace folder.
func (idx *Index) isPackage(mod string) bool {
	if m, ok := idx.Modules[mod]; ok {
		return m.IsPackage
	}
	for name := range idx.Modules {
		if strings.HasPrefix(name, mod+".") {
			return true
		}
	}
	return false
}

func (idx *Index) moduleExists(mod string) bool {
	if _, ok := idx.Modules[mod]; ok {
		return true
	}
	return idx.isPackage(mod)
}

// resolveName resolves name as a global of module m. Results are memoised;
// a name met again while it is being resolved is an import cycle Python
// itself could not complete.
func (idx *Index) resolveName(m *Module, name string) target {
	k := resKey{m.Name, name}
	if t, ok := idx.res[k]; ok {
		return t
	}
	idx.res[k] = target{kind: tUnresolved, reason: "circular import of " + name + " in " + m.Name}
	t := idx.resolveName1(m, name)
	idx.res[k] = t
	return t
}

func (idx *Index) resolveName1(m *Module, name string) target {
	var cands []int
	for i := range m.Sym.Stmts {
		s := &m.Sym.Stmts[i]
		if s.Inert {
			continue
		}
		binds := s.Binds(name)
		if !binds && s.Kind == pyast.StmtImport && s.Imports[0].Star {
			base, ok := idx.importBase(m, s.Imports[0])
			if ok && idx.inRepo(base) {
				if bm := idx.Modules[base]; bm != nil && idx.exports(bm, name) {
					binds = true
				}
			}
		}
		if !binds {
			continue
		}
		if !s.Conditional && !s.Augmented {
			cands = cands[:0]
		}
		cands = append(cands, i)
	}
	if len(cands) == 0 {
		if idx.isPackage(m.Name) && idx.moduleExists(m.Name+"."+name) {
			return target{kind: tModule, module: m.Name + "." + name}
		}
		if builtins[name] {
			return target{kind: tBuiltin, name: name}
		}
		// A star import from outside the repository is the only place
		// left the name can come from.
		for i := len(m.Sym.Stmts) - 1; i >= 0; i-- {
			s := &m.Sym.Stmts[i]
			if s.Kind != pyast.StmtImport || !s.Imports[0].Star {
				continue
			}
			if base, ok := idx.importBase(m, s.Imports[0]); ok && !idx.inRepo(base) {
				return target{kind: tExternal, ext: extRef{Module: base, Attr: name, Bound: name}}
			}
		}
		return target{kind: tUnresolved, reason: "not defined in " + m.Name}
	}
	if len(cands) == 1 {
		s := &m.Sym.Stmts[cands[0]]
		if s.Kind == pyast.StmtImport && !s.Conditional {
			return idx.followImport(m, s.Imports[0], name)
		}
	}
	return target{kind: tDef, module: m.Name, name: name, stmts: cands}
}

// exports reports whether `from bm import *` binds name.
func (idx *Index) exports(bm *Module, name string) bool {
	if bm.Sym.HasAll {
		for _, a := range bm.Sym.All {
			if a == name {
				return true
			}
		}
		return false
	}
	if strings.HasPrefix(name, "_") {
		return false
	}
	t := idx.resolveName(bm, name)
	return t.kind == tDef || t.kind == tExternal || (t.kind == tModule && bm.Sym != nil && bindsAnywhere(bm, name))
}

func bindsAnywhere(m *Module, name string) bool {
	for i := range m.Sym.Stmts {
		if m.Sym.Stmts[i].Binds(name) {
			return true
		}
	}
	return false
}

// absolute maps an absolute import to a repository module. A name that
// is not a top-level module of the repository but is a sibling of the
// importing module resolves to the sibling: research code often runs its
// scripts from their own folder, where Python finds siblings first.
func (idx *Index) absolute(m *Module, name string) string {
	if idx.inRepo(name) {
		return name
	}
	if pkg := m.Package(); pkg != "" {
		first, _, _ := strings.Cut(name, ".")
		if idx.moduleExists(pkg + "." + first) {
			return pkg + "." + name
		}
	}
	return name
}

// importBase is the absolute module a from-import reads from.
func (idx *Index) importBase(m *Module, im pyast.Import) (string, bool) {
	if im.Level == 0 {
		return idx.absolute(m, im.Module), true
	}
	pkg := m.Package()
	for i := 1; i < im.Level; i++ {
		j := strings.LastIndexByte(pkg, '.')
		if j < 0 {
			if pkg == "" {
				return "", false
			}
			pkg = ""
			continue
		}
		pkg = pkg[:j]
	}
	if im.Module == "" {
		return pkg, pkg != ""
	}
	if pkg == "" {
		return im.Module, true
	}
	return pkg + "." + im.Module, true
}

// followImport resolves the value an import statement binds to name.
func (idx *Index) followImport(m *Module, im pyast.Import, name string) target {
	if im.Star {
		base, ok := idx.importBase(m, im)
		if !ok {
			return target{kind: tUnresolved, reason: "relative import beyond the top-level package in " + m.Name}
		}
		if bm := idx.Modules[base]; bm != nil {
			return idx.resolveName(bm, name)
		}
		return target{kind: tUnresolved, reason: "module " + base + " not found in the repository"}
	}
	for i := len(im.Items) - 1; i >= 0; i-- {
		if im.Items[i].Bound(im.From) == name {
			return idx.resolveItem(m, im, im.Items[i])
		}
	}
	return target{kind: tUnresolved, reason: "import does not bind " + name}
}

// resolveItem resolves one imported item.
func (idx *Index) resolveItem(m *Module, im pyast.Import, it pyast.ImportItem) target {
	bound := it.Bound(im.From)
	if !im.From {
		name := idx.absolute(m, it.Name)
		if name != it.Name {
			// A sibling module: `import x.y` binds x, here pkg.x.
			mod := name
			if it.Alias == "" {
				first, _, _ := strings.Cut(it.Name, ".")
				mod = m.Package() + "." + first
			}
			if !idx.moduleExists(mod) {
				return target{kind: tUnresolved, reason: "module " + mod + " not found in the repository"}
			}
			return target{kind: tModule, module: mod}
		}
		first, _, _ := strings.Cut(it.Name, ".")
		if !idx.inRepo(it.Name) {
			if it.Alias != "" {
				return target{kind: tExternal, ext: extRef{Module: it.Name, Bound: bound}}
			}
			e := extRef{Module: first, Bound: bound}
			if it.Name != first {
				e.Submodule = it.Name
			}
			return target{kind: tExternal, ext: e}
		}
		mod := first
		if it.Alias != "" {
			mod = it.Name
		}
		if !idx.moduleExists(mod) {
			return target{kind: tUnresolved, reason: "module " + mod + " not found in the repository"}
		}
		return target{kind: tModule, module: mod}
	}
	base, ok := idx.importBase(m, im)
	if !ok {
		return target{kind: tUnresolved, reason: "relative import beyond the top-level package in " + m.Name}
	}
	if !idx.inRepo(base) {
		return target{kind: tExternal, ext: extRef{Module: base, Attr: it.Name, Bound: bound}}
	}
	if bm := idx.Modules[base]; bm != nil {
		t := idx.resolveName(bm, it.Name)
		if t.kind != tUnresolved {
			return t
		}
		if idx.moduleExists(base + "." + it.Name) {
			return target{kind: tModule, module: base + "." + it.Name}
		}
		return t
	}
	if idx.moduleExists(base + "." + it.Name) {
		return target{kind: tModule, module: base + "." + it.Name}
	}
	if idx.extensions[base] {
		return target{kind: tExternal, ext: extRef{Module: base, Attr: it.Name, Bound: bound},
			reason: "compiled extension " + base + " of the repository: imported from the installed package"}
	}
	return target{kind: tUnresolved, reason: "module " + base + " not found in the repository"}
}

// resolveAttr resolves attribute attr of repository module mod.
func (idx *Index) resolveAttr(mod, attr string) target {
	if m := idx.Modules[mod]; m != nil {
		return idx.resolveName(m, attr)
	}
	if idx.moduleExists(mod + "." + attr) {
		return target{kind: tModule, module: mod + "." + attr}
	}
	return target{kind: tUnresolved, reason: "module " + mod + " has no attribute " + attr}
}

// resolveRef resolves a read and the attribute chain after it as far as
// it goes through repository modules; n is how many attributes it used.
func (idx *Index) resolveRef(m *Module, r pyast.Ref) (t target, n int) {
	t = idx.resolveName(m, r.Name)
	for t.kind == tModule && n < len(r.Attrs) {
		t = idx.resolveAttr(t.module, r.Attrs[n])
		n++
	}
	return t, n
}

// torchModuleBase reports whether a dotted name outside the repository is
// torch's nn.Module or one of its subclasses.
func torchModuleBase(full string) bool {
	switch full {
	case "torch.nn.Module", "torch.fx.GraphModule", "torch.jit.ScriptModule":
		return true
	}
	for _, p := range []string{"torch.nn.", "torch.ao.nn.", "torch.nn.quantized.", "torch.nn.qat.", "torch.nn.intrinsic."} {
		if !strings.HasPrefix(full, p) {
			continue
		}
		last := full[strings.LastIndexByte(full, '.')+1:]
		if strings.HasPrefix(full, "torch.nn.utils.") || strings.HasPrefix(full, "torch.nn.init") || strings.HasPrefix(full, "torch.nn.functional") {
			return false
		}
		return last != "" && last[0] >= 'A' && last[0] <= 'Z' && last != "Parameter" && last != "UninitializedParameter"
	}
	return false
}

// isTorchModule reports whether class statement si of m derives from
// nn.Module through its bases.
func (idx *Index) isTorchModule(m *Module, si int, seen map[stmtKey]bool) bool {
	k := stmtKey{m.Name, si}
	if seen[k] {
		return false
	}
	seen[k] = true
	s := &m.Sym.Stmts[si]
	if s.BasesEnd == 0 {
		return false
	}
	for _, r := range s.Refs {
		if r.Store || r.Start < s.BasesStart || r.End > s.BasesEnd {
			continue
		}
		t, n := idx.resolveRef(m, r)
		switch t.kind {
		case tDef:
			dm := idx.Modules[t.module]
			last := t.stmts[len(t.stmts)-1]
			if dm.Sym.Stmts[last].Kind == pyast.StmtClass && idx.isTorchModule(dm, last, seen) {
				return true
			}
		case tExternal:
			full := t.ext.full()
			if t.ext.Submodule != "" || t.ext.Attr == "" {
				full = t.ext.Module
			}
			if rest := r.Attrs[n:]; len(rest) > 0 {
				full += "." + strings.Join(rest, ".")
			}
			if torchModuleBase(full) {
				return true
			}
		}
	}
	return false
}
