package rag

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/pyast"
)

// Source is one statement of the repository copied into a block.
type Source struct {
	Module    string `json:"module"`
	Path      string `json:"path"`
	Names     string `json:"names"` // the names the statement binds, comma-separated
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
}

// Unresolved is a name a block reads that could not be resolved (or a
// repository module it had to import instead of inlining).
type Unresolved struct {
	Name   string `json:"name"`
	Module string `json:"module"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Block is one extracted, self-contained file.
type Block struct {
	Name       string       `json:"name"`   // the class
	Module     string       `json:"module"` // the module defining it
	Code       string       `json:"code"`
	Repo       string       `json:"repo"`
	Commit     string       `json:"commit,omitempty"`
	Sources    []Source     `json:"sources"`
	Imports    []string     `json:"imports"` // import lines of outside packages
	Unresolved []Unresolved `json:"unresolved,omitempty"`
	// Builders are the repository's own ways to build the class (nil:
	// none found); level 2 tries them before inferring arguments.
	Builders *Builders `json:"builders,omitempty"`
}

// Paths lists the repository files the block was taken from.
func (b *Block) Paths() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range b.Sources {
		if !seen[s.Path] {
			seen[s.Path] = true
			out = append(out, s.Path)
		}
	}
	return out
}

type dep struct {
	to    stmtKey
	eager bool
}

type edit struct {
	start, end uint
	text       string
}

// extraction holds the state of one closure.
type extraction struct {
	idx        *Index
	units      map[stmtKey]bool
	order      []stmtKey // discovery order
	deps       map[stmtKey][]dep
	edits      map[stmtKey][]edit
	bindOrder  []resKey
	bindSeen   map[resKey]bool
	names      map[resKey]string // emitted names of module-level bindings
	exts       []extRef          // discovery order, one per key
	extSubs    map[string][]string
	extNames   map[string]string
	builtins   map[string]bool // builtins read: never shadowed
	used       map[string]bool
	unresolved []Unresolved
	unresSeen  map[string]bool
	futureAnn  bool
	snips      []*snippet        // rewritten by emit
	newlines   map[string][]uint // byte offsets of each module's newlines
	// pending rewrites resolved after naming: refs and imports.
	refFix []refFix
	impFix []impFix
}

type refFix struct {
	unit       stmtKey
	start, end uint
	bind       resKey // tDef target
	ext        string // external key
}

type impFix struct {
	unit  stmtKey
	mod   *Module
	imp   pyast.Import
	items []target
}

// Extract builds the self-contained file of a class, given as "Name" or
// "pkg.module.Name", and the ways the repository builds it (Block.Builders).
func (idx *Index) Extract(ctx context.Context, spec string) (*Block, error) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	ref, err := idx.find(spec)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := idx.Modules[ref.Module]
	t := idx.resolveName(m, ref.Name)
	if t.kind != tDef {
		return nil, fmt.Errorf("%s: %s", spec, t.reason)
	}
	x := idx.closure(ref, t, nil, nil)
	b, err := x.emit(ref)
	if err != nil {
		return nil, err
	}
	b.Builders, err = idx.builders(ctx, ref, t)
	return b, err
}

// snippet is code of the repository that is not a module-level statement
// (a __main__ block, a README example, a call site) rewritten to run in a
// block: its reads resolve in module mod.
type snippet struct {
	mod  *Module
	src  []byte
	sym  *pyast.Module
	text string // after extraction: src with the block's names
	bad  int    // reads that resolved to nothing in the repository
}

// snippetKey is the unit of the i-th snippet's references.
func snippetKey(i int) stmtKey { return stmtKey{module: "\x00snippet", stmt: -1 - i} }

// closure collects the target t of ref, the extra module-level roots and
// what the snippets read, with everything they need.
func (idx *Index) closure(ref ClassRef, t target, roots []resKey, snips []*snippet) *extraction {
	x := &extraction{
		idx: idx, units: map[stmtKey]bool{}, deps: map[stmtKey][]dep{}, edits: map[stmtKey][]edit{},
		bindSeen: map[resKey]bool{}, names: map[resKey]string{}, extSubs: map[string][]string{}, extNames: map[string]string{},
		builtins: map[string]bool{}, used: map[string]bool{}, unresSeen: map[string]bool{}, newlines: map[string][]uint{},
	}
	root := resKey{ref.Module, ref.Name}
	x.bindOrder = append(x.bindOrder, root)
	x.bindSeen[root] = true
	queue := []stmtKey{}
	add := func(k stmtKey) {
		if !x.units[k] {
			x.units[k] = true
			x.order = append(x.order, k)
			queue = append(queue, k)
		}
	}
	for _, si := range t.stmts {
		add(stmtKey{ref.Module, si})
	}
	for _, r := range roots {
		rt := idx.resolveName(idx.Modules[r.module], r.name)
		if rt.kind != tDef {
			continue
		}
		x.addBinding(resKey{rt.module, rt.name})
		for _, si := range rt.stmts {
			add(stmtKey{rt.module, si})
		}
	}
	x.snips = snips
	for j, sn := range snips {
		for i := range sn.sym.Stmts {
			for _, d := range x.visitStmt(snippetKey(j), sn.mod, &sn.sym.Stmts[i], nil, sn) {
				add(d)
			}
		}
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, d := range x.visit(k) {
			add(d)
		}
	}
	x.allocate()
	return x
}

func (x *extraction) addUnresolved(m *Module, name string, line int, reason string) {
	k := m.Name + "|" + name + "|" + reason
	if x.unresSeen[k] {
		return
	}
	x.unresSeen[k] = true
	x.unresolved = append(x.unresolved, Unresolved{Name: name, Module: m.Name, Line: line, Reason: reason})
}

func (x *extraction) addBinding(k resKey) {
	if !x.bindSeen[k] {
		x.bindSeen[k] = true
		x.bindOrder = append(x.bindOrder, k)
	}
}

func (x *extraction) addExt(e extRef) string {
	k := e.key()
	if _, ok := x.extSubs[k]; !ok {
		x.exts = append(x.exts, e)
		x.extSubs[k] = nil
	}
	if e.Submodule != "" {
		for _, s := range x.extSubs[k] {
			if s == e.Submodule {
				return k
			}
		}
		x.extSubs[k] = append(x.extSubs[k], e.Submodule)
	}
	return k
}

// lineOf is the 1-based line of a byte offset of module m.
func (x *extraction) lineOf(m *Module, src []byte, off uint) int {
	nl, ok := x.newlines[m.Name]
	if !ok {
		for i, c := range src {
			if c == '\n' {
				nl = append(nl, uint(i))
			}
		}
		x.newlines[m.Name] = nl
	}
	return sort.Search(len(nl), func(i int) bool { return nl[i] >= off }) + 1
}

// visit resolves what statement k reads and returns the statements it
// needs.
func (x *extraction) visit(k stmtKey) []stmtKey {
	m := x.idx.Modules[k.module]
	if m.Sym.FutureAnnotations {
		x.futureAnn = true
	}
	src, _ := x.idx.Source(m)
	return x.visitStmt(k, m, &m.Sym.Stmts[k.stmt], src, nil)
}

// visitStmt resolves the reads of statement s of module m (of snippet sn
// when not nil: its bindings are local to it and bad reads are counted).
func (x *extraction) visitStmt(k stmtKey, m *Module, s *pyast.Stmt, src []byte, sn *snippet) []stmtKey {
	var out []stmtKey
	need := func(t target, eager bool) {
		for _, si := range t.stmts {
			d := stmtKey{t.module, si}
			x.deps[k] = append(x.deps[k], dep{d, eager})
			out = append(out, d)
		}
		x.addBinding(resKey{t.module, t.name})
	}
	for _, b := range s.Names {
		if sn != nil {
			break
		}
		x.addBinding(resKey{m.Name, b.Name})
		if b.End > b.Start {
			x.refFix = append(x.refFix, refFix{unit: k, start: b.Start, end: b.End, bind: resKey{m.Name, b.Name}})
		}
	}
	for _, r := range s.Refs {
		// Under `from __future__ import annotations` annotations are
		// never evaluated: they need nothing.
		if r.Annotation && m.Sym.FutureAnnotations {
			continue
		}
		t, n := x.idx.resolveRef(m, r)
		end := r.End
		if n > 0 {
			end = r.AttrEnds[n-1]
		}
		line := 0
		if src != nil {
			line = x.lineOf(m, src, r.Start)
		}
		switch t.kind {
		case tDef:
			need(t, r.Eager)
			x.refFix = append(x.refFix, refFix{unit: k, start: r.Start, end: end, bind: resKey{t.module, t.name}})
		case tExternal:
			x.refFix = append(x.refFix, refFix{unit: k, start: r.Start, end: end, ext: x.addExt(t.ext)})
			if t.reason != "" {
				x.addUnresolved(m, r.Name, line, t.reason)
			}
		case tBuiltin:
			x.builtins[t.name] = true
		case tModule:
			// A module used as a value cannot be inlined: import it
			// from the installed package and say so.
			e := moduleExt(t.module)
			if sn != nil {
				sn.bad++
				continue
			}
			x.refFix = append(x.refFix, refFix{unit: k, start: r.Start, end: end, ext: x.addExt(e)})
			x.addUnresolved(m, r.Name, line, "repository module "+t.module+" used as a value: imported from the installed package")
		default:
			if sn != nil {
				sn.bad++
				continue
			}
			x.addUnresolved(m, r.Name, line, t.reason)
		}
	}
	// Imports that are not plain top-level imports stay in the code and
	// are rewritten: repository items become assignments.
	for _, im := range s.Imports {
		fx := impFix{unit: k, mod: m, imp: im}
		if im.Star {
			x.addUnresolved(m, "*", im.Line, "star import inside a statement: kept as an import of the installed package")
			x.impFix = append(x.impFix, fx)
			continue
		}
		for _, it := range im.Items {
			t := x.idx.resolveItem(m, im, it)
			switch t.kind {
			case tDef:
				need(t, !im.InFunction)
			case tExternal:
				// kept inline by importText
			case tModule:
				x.addUnresolved(m, it.Bound(im.From), im.Line, "repository module "+t.module+" imported as a value: imported from the installed package")
			default:
				x.addUnresolved(m, it.Bound(im.From), im.Line, t.reason)
			}
			fx.items = append(fx.items, t)
		}
		x.impFix = append(x.impFix, fx)
	}
	return out
}

func moduleExt(mod string) extRef {
	if i := strings.LastIndexByte(mod, '.'); i >= 0 {
		return extRef{Module: mod[:i], Attr: mod[i+1:], Bound: mod[i+1:]}
	}
	return extRef{Module: mod, Bound: mod}
}

// allocate gives every binding and outside import a distinct name in the
// flat file: the target keeps its own, outside imports come next, and
// later clashes get a numeric suffix.
func (x *extraction) allocate() {
	for b := range x.builtins {
		x.used[b] = true
	}
	for _, d := range []string{"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__", "__annotations__"} {
		x.used[d] = true
	}
	alloc := func(pref string) string {
		name := pref
		for i := 2; x.used[name]; i++ {
			name = pref + "_" + strconv.Itoa(i)
		}
		x.used[name] = true
		return name
	}
	// The target first: it keeps its name even when it shadows a builtin.
	root := x.bindOrder[0]
	delete(x.used, root.name)
	x.names[root] = alloc(root.name)
	for _, e := range x.exts {
		x.extNames[e.key()] = alloc(e.Bound)
	}
	for _, k := range x.bindOrder[1:] {
		if k.name == "__all__" {
			x.names[k] = alloc("__all__")
			continue
		}
		x.names[k] = alloc(k.name)
	}
}

// extImport is the import line binding e to local.
func extImport(e extRef, subs []string, local string) []string {
	switch {
	case e.Attr != "":
		if local == e.Attr {
			return []string{"from " + e.Module + " import " + e.Attr}
		}
		return []string{"from " + e.Module + " import " + e.Attr + " as " + local}
	case len(subs) > 0:
		first, _, _ := strings.Cut(e.Module, ".")
		var lines []string
		if local == first {
			for _, s := range subs {
				lines = append(lines, "import "+s)
			}
			return lines
		}
		lines = append(lines, local+" = __import__("+strconv.Quote(e.Module)+")")
		for _, s := range subs {
			lines = append(lines, "__import__("+strconv.Quote(s)+")")
		}
		return lines
	case local == e.Module:
		return []string{"import " + e.Module}
	default:
		return []string{"import " + e.Module + " as " + local}
	}
}

// importText rewrites an import statement kept inside a unit.
func (x *extraction) importText(f impFix) string {
	im := f.imp
	if im.Star {
		base, _ := x.idx.importBase(f.mod, im)
		return "from " + base + " import *"
	}
	var parts []string
	for i, it := range im.Items {
		bound := it.Bound(im.From)
		local := bound
		if !im.InFunction {
			local = x.names[resKey{f.mod.Name, bound}]
		}
		t := f.items[i]
		switch t.kind {
		case tDef:
			tn := x.names[resKey{t.module, t.name}]
			if tn != local {
				parts = append(parts, local+" = "+tn)
			}
		case tExternal:
			parts = append(parts, extImport(t.ext, nil, local)...)
			if t.ext.Submodule != "" && local == t.ext.Module {
				parts = append(parts, "import "+t.ext.Submodule)
			}
		default:
			// Keep the import, made absolute, so an installed copy of
			// the repository can still serve it.
			if im.From {
				base, _ := x.idx.importBase(f.mod, im)
				parts = append(parts, "from "+base+" import "+it.Name+" as "+local)
			} else if it.Alias != "" {
				parts = append(parts, "import "+it.Name+" as "+local)
			} else {
				parts = append(parts, "import "+it.Name)
			}
		}
	}
	if len(parts) == 0 {
		return "pass"
	}
	return strings.Join(parts, "; ")
}

// emit orders the units (what a statement needs when it runs comes before
// it; the target last) and writes the file.
func (x *extraction) emit(ref ClassRef) (*Block, error) {
	for _, f := range x.refFix {
		text := ""
		if f.ext != "" {
			text = x.extNames[f.ext]
		} else {
			text = x.names[f.bind]
		}
		x.edits[f.unit] = append(x.edits[f.unit], edit{f.start, f.end, text})
	}
	for _, f := range x.impFix {
		x.edits[f.unit] = append(x.edits[f.unit], edit{f.imp.Start, f.imp.End, x.importText(f)})
	}
	for i, sn := range x.snips {
		sn.text = applyEdits(sn.src, 0, uint(len(sn.src)), x.edits[snippetKey(i)])
	}
	order := x.sortUnits()
	var body strings.Builder
	b := &Block{Name: ref.Name, Module: ref.Module, Repo: x.idx.Root, Commit: x.idx.Commit, Unresolved: x.unresolved}
	for i, k := range order {
		m := x.idx.Modules[k.module]
		s := &m.Sym.Stmts[k.stmt]
		src, err := x.idx.Source(m)
		if err != nil {
			return nil, err
		}
		text := applyEdits(src, s.Start, s.End, x.edits[k])
		if i > 0 {
			body.WriteString("\n\n")
		}
		body.WriteString(text)
		body.WriteString("\n")
		var names []string
		for _, n := range s.Names {
			if !contains(names, n.Name) {
				names = append(names, n.Name)
			}
		}
		b.Sources = append(b.Sources, Source{Module: m.Name, Path: x.srcPath(m), Names: strings.Join(names, ","), StartLine: s.StartLine, EndLine: s.EndLine})
	}
	b.Imports = x.importLines()
	var out strings.Builder
	// The class name goes on line 2 after a plain word, never next to a
	// colon: Python reads "coding:" on the first two lines as an encoding.
	out.WriteString("# Self-contained block extracted by nngpt rag.\n")
	fmt.Fprintf(&out, "# class %s from module %s\n", ref.Name, ref.Module)
	fmt.Fprintf(&out, "# repository %s\n", x.idx.Root)
	if x.idx.Commit != "" {
		fmt.Fprintf(&out, "# commit %s\n", x.idx.Commit)
	}
	out.WriteString("# sources:\n")
	for _, s := range b.Sources {
		fmt.Fprintf(&out, "#   %s:%d-%d %s\n", s.Path, s.StartLine, s.EndLine, s.Names)
	}
	for _, u := range b.Unresolved {
		fmt.Fprintf(&out, "# unresolved: %s (%s line %d): %s\n", u.Name, u.Module, u.Line, u.Reason)
	}
	if x.futureAnn {
		out.WriteString("from __future__ import annotations\n")
	}
	out.WriteString("\n")
	for _, l := range b.Imports {
		out.WriteString(l + "\n")
	}
	out.WriteString("\n\n")
	out.WriteString(body.String())
	b.Code = out.String()
	return b, nil
}

// srcPath is the module's path relative to the repository folder's parent
// when the folder is itself a package, so paths read as imports do.
func (x *extraction) srcPath(m *Module) string {
	if x.idx.importRoot != "" {
		return path.Join(x.idx.importRoot, m.Path)
	}
	return m.Path
}

func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

func applyEdits(src []byte, start, end uint, edits []edit) string {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var b strings.Builder
	pos := start
	for _, e := range edits {
		if e.start < pos || e.end > end {
			continue // overlapping or outside: the first edit wins
		}
		b.Write(src[pos:e.start])
		b.WriteString(e.text)
		pos = e.end
	}
	b.Write(src[pos:end])
	return b.String()
}

// sortUnits orders units depth-first from the target so helpers come
// before their users, then fixes the order so everything a statement needs
// while it runs (bases, decorators, defaults, class bodies) is defined
// before it. Needs inside function bodies may point forward.
func (x *extraction) sortUnits() []stmtKey {
	state := map[stmtKey]int{}
	var post []stmtKey
	var dfs func(k stmtKey)
	dfs = func(k stmtKey) {
		state[k] = 1
		for _, d := range x.deps[k] {
			if state[d.to] == 0 {
				dfs(d.to)
			}
		}
		state[k] = 2
		post = append(post, k)
	}
	for _, k := range x.order {
		if state[k] == 0 {
			dfs(k)
		}
	}
	// Same-name bindings of one module keep their source order: later
	// ones replace (or extend) earlier ones.
	pos := map[stmtKey]int{}
	for i, k := range post {
		pos[k] = i
	}
	indeg := map[stmtKey]int{}
	succ := map[stmtKey][]stmtKey{}
	addEdge := func(from, to stmtKey) { // from must come before to
		succ[from] = append(succ[from], to)
		indeg[to]++
	}
	for _, k := range post {
		seen := map[stmtKey]bool{}
		for _, d := range x.deps[k] {
			if d.eager && d.to != k && !seen[d.to] {
				seen[d.to] = true
				addEdge(d.to, k)
			}
		}
	}
	byMod := map[string][]stmtKey{}
	for _, k := range post {
		byMod[k.module] = append(byMod[k.module], k)
	}
	for _, ks := range byMod {
		sort.Slice(ks, func(i, j int) bool { return ks[i].stmt < ks[j].stmt })
		for i := 1; i < len(ks); i++ {
			if x.sharesName(ks[i-1], ks[i]) {
				addEdge(ks[i-1], ks[i])
			}
		}
	}
	var out []stmtKey
	done := map[stmtKey]bool{}
	for len(out) < len(post) {
		// Kahn's algorithm, taking the ready unit earliest in post order;
		// on a cycle of eager needs, the earliest remaining unit.
		best := -1
		for i, k := range post {
			if !done[k] && indeg[k] == 0 {
				best = i
				break
			}
		}
		if best < 0 {
			for i, k := range post {
				if !done[k] {
					best = i
					break
				}
			}
		}
		k := post[best]
		done[k] = true
		out = append(out, k)
		for _, s := range succ[k] {
			indeg[s]--
		}
	}
	return out
}

func (x *extraction) sharesName(a, b stmtKey) bool {
	m := x.idx.Modules[a.module]
	for _, n := range m.Sym.Stmts[a.stmt].Names {
		if m.Sym.Stmts[b.stmt].Binds(n.Name) {
			return true
		}
	}
	return false
}

// importLines are the outside imports, in discovery order, with the
// from-imports of one module merged into one line.
func (x *extraction) importLines() []string {
	var lines []string
	fromAt := map[string]int{}
	for _, e := range x.exts {
		local := x.extNames[e.key()]
		if e.Attr == "" {
			lines = append(lines, extImport(e, x.extSubs[e.key()], local)...)
			continue
		}
		item := e.Attr
		if local != e.Attr {
			item += " as " + local
		}
		if i, ok := fromAt[e.Module]; ok {
			lines[i] += ", " + item
			continue
		}
		fromAt[e.Module] = len(lines)
		lines = append(lines, "from "+e.Module+" import "+item)
	}
	return lines
}
