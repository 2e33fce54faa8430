package rag

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/pyast"
)

// This file finds the ways a repository builds a class, so level 2 builds
// it as its authors do before guessing from its signature: factory
// functions and partials that lead to it (directly or through a parent
// network that builds it as a unit), registries holding it, test()
// functions and __main__ blocks, examples in the README, and call sites
// with literal arguments. All of them go into one module with the block,
// which the sandboxed probe runs (see worker/nngpt_worker/blockprobe.py).

// Builders is how the repository builds a class: Code holds the block, the
// repository's builders and the classes and constants of the class's own
// module (offered where a parameter wants a block class or a config); each
// Builder is an expression evaluated in Code's namespace.
type Builders struct {
	Code  string    `json:"code"`
	Class string    `json:"class"` // the target's name in Code
	Ways  []Builder `json:"ways"`
}

// Builder is one way to build the class.
type Builder struct {
	// Kind: factory, partial, registry, test, main, readme, call or parent.
	Kind  string `json:"kind"`
	Label string `json:"label"` // what and where: "factory ResNet18() at models/resnet.py:108"
	Expr  string `json:"expr"`
}

// Limits on the builders of one class: each runs in the probe's budget.
const (
	maxBuilders   = 10
	maxPerKind    = 3
	maxUserDepth  = 4
	maxSnippetLen = 4000
)

// kindRank orders the kinds: the repository's own constructors first,
// call sites and parents (which build more than the class) last.
var kindRank = map[string]int{"factory": 0, "partial": 1, "registry": 2, "test": 3, "main": 4, "call": 5, "readme": 6, "parent": 7}

type cand struct {
	kind, label string
	depth       int
	name        string  // the bound name sorted on (sizes)
	root        *resKey // a module-level root whose name the expression calls
	expr        string  // with root: a format with one %s for the root's name
	snip        *snippet
}

// builders finds the ways the repository builds class ref (target t).
func (idx *Index) builders(ctx context.Context, ref ClassRef, t target) (*Builders, error) {
	users := idx.userGraph()
	key := resKey{ref.Module, ref.Name}
	var cands []cand
	seen := map[resKey]bool{key: true}
	frontier := []resKey{key}
	reach := map[resKey]bool{key: true} // what leads to the class: main blocks calling any of it count
	for depth := 1; depth <= maxUserDepth && len(frontier) > 0; depth++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var next []resKey
		for _, k := range frontier {
			for _, u := range users[k] {
				m := idx.Modules[u.module]
				s := &m.Sym.Stmts[u.stmt]
				if len(s.Names) == 0 {
					continue
				}
				name := s.Names[len(s.Names)-1].Name
				uk := resKey{u.module, name}
				if seen[uk] {
					continue
				}
				seen[uk] = true
				reach[uk] = true
				where := fmt.Sprintf("%s:%d", idx.path(m), s.StartLine)
				src, err := idx.Source(m)
				if err != nil {
					return nil, err
				}
				switch s.Kind {
				case pyast.StmtFunc:
					if req, ok := requiredParams(src[s.Start:s.End]); ok && req == 0 {
						kind := "factory"
						if isTestName(name) {
							kind = "test"
						}
						cands = append(cands, cand{kind: kind, depth: depth, name: name, root: &uk, expr: "%s()",
							label: fmt.Sprintf("%s %s() at %s", kind, name, where)})
						continue
					}
					next = append(next, uk)
				case pyast.StmtClass:
					cands = append(cands, cand{kind: "parent", depth: depth, name: name, root: &uk, expr: "%s()",
						label: fmt.Sprintf("parent %s() at %s", name, where)})
					next = append(next, uk)
				case pyast.StmtAssign:
					val := assignValue(src[s.Start:s.End])
					switch {
					case strings.HasPrefix(val, "partial(") || strings.HasPrefix(val, "functools.partial("):
						cands = append(cands, cand{kind: "partial", depth: depth, name: name, root: &uk, expr: "%s()",
							label: fmt.Sprintf("partial %s at %s", name, where)})
					case strings.HasPrefix(val, "{") || strings.HasPrefix(val, "[") || strings.HasPrefix(val, "(") || strings.HasPrefix(val, "dict("):
						cands = append(cands, cand{kind: "registry", depth: depth, name: name, root: &uk, expr: "__nngpt_registry__(%s, %%s)",
							label: fmt.Sprintf("registry %s at %s", name, where)})
						next = append(next, uk) // registries read by factories
					case reDotted.MatchString(val):
						// An alias of a factory or of the class.
						cands = append(cands, cand{kind: "factory", depth: depth, name: name, root: &uk, expr: "%s()",
							label: fmt.Sprintf("factory %s() at %s", name, where)})
					}
					// Other values (an instance built at import time, as
					// scripts do) are no way to build it again.
				}
			}
		}
		frontier = next
	}
	cands = append(cands, idx.mainBlocks(reach)...)
	cands = append(cands, idx.callSites(ref, users[key])...)
	cands = append(cands, idx.readmeCalls(ref)...)
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if kindRank[a.kind] != kindRank[b.kind] {
			return kindRank[a.kind] < kindRank[b.kind]
		}
		if a.depth != b.depth {
			return a.depth < b.depth
		}
		return lessSize(a.name, b.name)
	})
	perKind := map[string]int{}
	var picked []cand
	var roots []resKey
	var snips []*snippet
	for _, c := range cands {
		if len(picked) == maxBuilders || perKind[c.kind] == maxPerKind {
			continue
		}
		perKind[c.kind]++
		picked = append(picked, c)
		if c.root != nil {
			roots = append(roots, *c.root)
		}
		if c.snip != nil {
			snips = append(snips, c.snip)
		}
	}
	offers := idx.offers(ref)
	if len(picked) == 0 && len(offers) == 0 {
		return nil, nil
	}
	x := idx.closure(ref, t, append(roots, offers...), snips)
	blk, err := x.emit(ref)
	if err != nil {
		return nil, err
	}
	out := &Builders{Class: x.names[resKey{ref.Module, ref.Name}]}
	var code strings.Builder
	code.WriteString(blk.Code)
	for _, c := range picked {
		b := Builder{Kind: c.kind, Label: c.label}
		switch {
		case c.root != nil:
			rt := idx.resolveName(idx.Modules[c.root.module], c.root.name)
			b.Expr = fmt.Sprintf(c.expr, x.names[resKey{rt.module, rt.name}])
			if strings.Contains(b.Expr, "%s") {
				b.Expr = fmt.Sprintf(b.Expr, out.Class)
			}
		default:
			if c.snip.bad > 0 {
				continue // it reads names the block cannot have
			}
			fn := fmt.Sprintf("_nngpt_build_%d", len(out.Ways))
			code.WriteString("\n\n" + strings.Replace(c.snip.text, "def _nngpt_build(", "def "+fn+"(", 1))
			b.Expr = fn + "()"
		}
		out.Ways = append(out.Ways, b)
	}
	out.Code = code.String()
	return out, nil
}

// path is a module's path as block headers show it.
func (idx *Index) path(m *Module) string {
	if idx.importRoot != "" {
		return idx.importRoot + "/" + m.Path
	}
	return m.Path
}

// userGraph maps each module-level definition to the top-level statements
// that read it, built once per index.
func (idx *Index) userGraph() map[resKey][]stmtKey {
	if idx.users != nil {
		return idx.users
	}
	g := map[resKey][]stmtKey{}
	names := make([]string, 0, len(idx.Modules))
	for n := range idx.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := idx.Modules[n]
		for i := range m.Sym.Stmts {
			s := &m.Sym.Stmts[i]
			if s.Inert || s.Kind == pyast.StmtImport {
				continue
			}
			seen := map[resKey]bool{}
			for _, r := range s.Refs {
				if r.Store {
					continue
				}
				t, _ := idx.resolveRef(m, r)
				if t.kind != tDef {
					continue
				}
				k := resKey{t.module, t.name}
				if seen[k] || (t.module == n && s.Binds(t.name)) {
					continue
				}
				seen[k] = true
				g[k] = append(g[k], stmtKey{n, i})
			}
		}
	}
	idx.users = g
	return g
}

var reDotted = regexp.MustCompile(`^[A-Za-z_][\w.]*$`)

// reConstant is the start of a value offered as a config: a literal, a
// container, or a call of a class-like name (Genotype(...), namedtuples).
var reConstant = regexp.MustCompile(`^(?:[\[{("'0-9-]|(?:dict|list|tuple)\(|[A-Z]\w*\()`)

var reTestName = regexp.MustCompile(`(?i)(^_*test|test_*$|^_*demo|^_*main$|^_*example)`)

func isTestName(n string) bool { return reTestName.MatchString(n) }

// requiredParams counts the parameters of a def (decorators allowed
// before it) that have no default; ok is false when the header cannot be
// read.
func requiredParams(def []byte) (int, bool) {
	i := bytes.Index(def, []byte("def "))
	if i < 0 {
		return 0, false
	}
	open := bytes.IndexByte(def[i:], '(')
	if open < 0 {
		return 0, false
	}
	open += i
	end := matchParen(def, open)
	if end < 0 {
		return 0, false
	}
	req := 0
	for _, p := range splitTop(string(def[open+1 : end])) {
		p = strings.TrimSpace(p)
		if p == "" || p == "*" || p == "/" || strings.HasPrefix(p, "*") {
			continue
		}
		name, _, _ := strings.Cut(p, ":")
		if strings.Contains(p, "=") || strings.TrimSpace(name) == "self" || strings.TrimSpace(name) == "cls" {
			continue
		}
		req++
	}
	return req, true
}

// matchParen is the index of the bracket closing the one at open, skipping
// strings; -1 when it is not closed.
func matchParen(b []byte, open int) int {
	depth := 0
	var quote byte
	for i := open; i < len(b); i++ {
		c := b[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '#':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTop splits s at commas outside brackets and strings.
func splitTop(s string) []string {
	var out []string
	depth, last := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[last:i])
				last = i + 1
			}
		}
	}
	return append(out, s[last:])
}

// assignValue is the right-hand side of a simple assignment, trimmed.
func assignValue(stmt []byte) string {
	s := string(stmt)
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case '=':
			if depth == 0 && (i+1 >= len(s) || s[i+1] != '=') && (i == 0 || !strings.ContainsRune("=!<>", rune(s[i-1]))) {
				return strings.TrimSpace(s[i+1:])
			}
		}
	}
	return ""
}

// sizeWords rank model-size words: builders of small variants are tried
// first, so the probe stays quick and within memory.
var sizeWords = map[string]int{"pico": 0, "nano": 0, "tiny": 1, "micro": 1, "mini": 2, "small": 2, "lite": 2, "s": 2,
	"base": 3, "medium": 3, "m": 3, "large": 4, "l": 4, "huge": 5, "xl": 5, "giant": 6, "xxl": 6}

var reToken = regexp.MustCompile(`[a-zA-Z]+|[0-9]+`)

// lessSize orders names by the size they suggest: size words, then the
// numbers in them (resnet18 before resnet152), then the name.
func lessSize(a, b string) bool {
	wa, na := sizeOf(a)
	wb, nb := sizeOf(b)
	if wa != wb {
		return wa < wb
	}
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	return a < b
}

func sizeOf(name string) (int, []int) {
	w := 3
	var nums []int
	for _, t := range reToken.FindAllString(strings.ToLower(name), -1) {
		if n, err := strconv.Atoi(t); err == nil {
			nums = append(nums, n)
		} else if r, ok := sizeWords[t]; ok {
			w = r
		}
	}
	return w, nums
}

// newSnippet parses code to run in module m's namespace; nil when it does
// not parse.
func newSnippet(m *Module, code string) *snippet {
	f := pyast.Parse([]byte(code))
	defer f.Close()
	if len(f.SyntaxErrors(1)) > 0 {
		return nil
	}
	return &snippet{mod: m, src: []byte(code), sym: pyast.Symbols(f)}
}

// buildFunc wraps statements (any indentation) as `def _nngpt_build():`.
func buildFunc(body string) string {
	lines := strings.Split(strings.ReplaceAll(body, "\t", "    "), "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	var b strings.Builder
	b.WriteString("def _nngpt_build():\n")
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		b.WriteString("    " + l[min(indent, len(l)):] + "\n")
	}
	b.WriteString("    pass\n")
	return b.String()
}

var reIdent = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// mainBlocks are the `if __name__ == "__main__":` blocks that use what
// leads to the class, as functions.
func (idx *Index) mainBlocks(reach map[resKey]bool) []cand {
	var out []cand
	names := make([]string, 0, len(idx.Modules))
	for n := range idx.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := idx.Modules[n]
		for i := range m.Sym.Stmts {
			s := &m.Sym.Stmts[i]
			if !s.Inert || s.Kind != pyast.StmtCompound {
				continue
			}
			src, err := idx.Source(m)
			if err != nil {
				continue
			}
			text := string(src[s.Start:s.End])
			if !strings.Contains(text, "__main__") || len(text) > maxSnippetLen {
				continue
			}
			colon := strings.Index(text, ":\n")
			if colon < 0 {
				continue
			}
			body := text[colon+2:]
			uses := ""
			for _, w := range reIdent.FindAllString(body, -1) {
				t := idx.resolveName(m, w)
				if t.kind == tDef && reach[resKey{t.module, t.name}] {
					uses = w
					break
				}
			}
			if uses == "" {
				continue
			}
			sn := newSnippet(m, buildFunc(body))
			if sn == nil {
				continue
			}
			out = append(out, cand{kind: "main", depth: 1, name: uses, snip: sn,
				label: fmt.Sprintf("__main__ block at %s:%d", idx.path(m), s.StartLine)})
		}
	}
	return out
}

// callSites are the calls of the class in the repository whose arguments
// are literals or module-level names (the probe records the others when a
// builder of a parent runs).
func (idx *Index) callSites(ref ClassRef, users []stmtKey) []cand {
	var out []cand
	seen := map[string]bool{}
	for _, u := range users {
		m := idx.Modules[u.module]
		s := &m.Sym.Stmts[u.stmt]
		src, err := idx.Source(m)
		if err != nil {
			continue
		}
		for _, r := range s.Refs {
			t, n := idx.resolveRef(m, r)
			if t.kind != tDef || t.module != ref.Module || t.name != ref.Name {
				continue
			}
			end := r.End
			if n > 0 {
				end = r.AttrEnds[n-1]
			}
			open := int(end)
			for open < len(src) && (src[open] == ' ' || src[open] == '\t') {
				open++
			}
			if open >= len(src) || src[open] != '(' {
				continue
			}
			cl := matchParen(src, open)
			if cl < 0 || cl-open > 600 {
				continue
			}
			call := string(src[r.Start : cl+1])
			if seen[call] || strings.Contains(call, "\n\n") {
				continue
			}
			seen[call] = true
			sn := newSnippet(m, "def _nngpt_build():\n    return "+strings.Join(strings.Fields(call), " ")+"\n")
			if sn == nil {
				continue
			}
			line := 1 + bytes.Count(src[:r.Start], []byte("\n"))
			out = append(out, cand{kind: "call", depth: 1, name: ref.Name, snip: sn,
				label: fmt.Sprintf("call %s at %s:%d", ragShort(call, 80), idx.path(m), line)})
		}
	}
	return out
}

var reFence = regexp.MustCompile("(?s)```(?:python|py|python3)?\\s*\\n(.*?)```")

// readmeCalls are calls of the class in the Python examples of the
// repository's README files, with the package prefix dropped
// (`smp.Unet(...)` becomes `Unet(...)`).
func (idx *Index) readmeCalls(ref ClassRef) []cand {
	var out []cand
	re := regexp.MustCompile(`(?:\b[A-Za-z_][\w.]*\.)?\b` + regexp.QuoteMeta(ref.Name) + `\s*\(`)
	m := idx.Modules[ref.Module]
	seen := map[string]bool{}
	for _, dir := range []string{idx.Root, filepath.Dir(idx.Root)} {
		paths, _ := filepath.Glob(filepath.Join(dir, "README*"))
		docs, _ := filepath.Glob(filepath.Join(dir, "docs", "*.md"))
		for _, p := range append(paths, docs...) {
			b, err := os.ReadFile(p)
			if err != nil || len(b) > 1<<20 {
				continue
			}
			for _, f := range reFence.FindAllSubmatch(b, -1) {
				code := f[1]
				for _, loc := range re.FindAllIndex(code, -1) {
					open := loc[1] - 1
					cl := matchParen(code, open)
					if cl < 0 || cl-open > 600 {
						continue
					}
					call := ref.Name + strings.Join(strings.Fields(string(code[open:cl+1])), " ")
					if seen[call] {
						continue
					}
					seen[call] = true
					sn := newSnippet(m, "def _nngpt_build():\n    return "+call+"\n")
					if sn == nil {
						continue
					}
					out = append(out, cand{kind: "readme", depth: 1, name: ref.Name, snip: sn,
						label: fmt.Sprintf("readme %s in %s", ragShort(call, 80), filepath.Base(p))})
				}
			}
		}
		if idx.importRoot == "" {
			break // the repository folder itself holds the README
		}
	}
	return out
}

// offers are the module-level classes and constants of the class's own
// module: the probe offers them where a parameter wants a block class, a
// config or a genotype.
func (idx *Index) offers(ref ClassRef) []resKey {
	m := idx.Modules[ref.Module]
	var out []resKey
	for i := range m.Sym.Stmts {
		s := &m.Sym.Stmts[i]
		if s.Inert || len(s.Names) == 0 {
			continue
		}
		name := s.Names[len(s.Names)-1].Name
		if name == ref.Name || strings.HasPrefix(name, "__") {
			continue
		}
		switch {
		case s.Kind == pyast.StmtClass && idx.isTorchModule(m, i, map[stmtKey]bool{}):
		case s.Kind == pyast.StmtAssign && !s.Augmented:
			src, err := idx.Source(m)
			if err != nil || !reConstant.MatchString(assignValue(src[s.Start:s.End])) {
				continue
			}
			if v := assignValue(src[s.Start:s.End]); v[0] >= 'A' && v[0] <= 'Z' {
				// Not an nn.Module built at import time.
				callee, _, _ := strings.Cut(v, "(")
				if t := idx.resolveName(m, callee); t.kind == tDef {
					dm := idx.Modules[t.module]
					if last := t.stmts[len(t.stmts)-1]; dm.Sym.Stmts[last].Kind == pyast.StmtClass && idx.isTorchModule(dm, last, map[stmtKey]bool{}) {
						continue
					}
				}
			}
		default:
			continue
		}
		out = append(out, resKey{m.Name, name})
	}
	return out
}

func ragShort(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
