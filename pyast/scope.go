package pyast

import "strings"

// This file is free-name analysis with Python's scoping rules: a name
// assigned anywhere in a function is local to all of it; class bodies do
// not enclose their methods; comprehensions and lambdas are scopes of their
// own; `global` sends reads and writes to the module. What is left after
// the local scopes resolve is a read of a module-level (or builtin) name.

type scopeKind int

const (
	scopeModule scopeKind = iota
	scopeClass
	scopeFunction
	scopeComprehension
)

type scope struct {
	kind     scopeKind
	parent   *scope
	bound    map[string]bool
	global   map[string]bool
	nonlocal map[string]bool
	loads    []Ref
}

func newScope(kind scopeKind, parent *scope) *scope {
	return &scope{kind: kind, parent: parent, bound: map[string]bool{}, global: map[string]bool{}, nonlocal: map[string]bool{}}
}

type analyzer struct {
	src     []byte
	stmt    *Stmt
	fnDepth int // function and lambda bodies around the current node
	annot   int // type annotations around the current node
}

func (a *analyzer) text(n *Node) string { return string(a.src[n.StartByte():n.EndByte()]) }

// bind records a store of name in sc.
func (a *analyzer) bind(sc *scope, name string, n *Node) {
	switch {
	case sc.kind == scopeModule:
		b := Binding{Name: name}
		if n != nil {
			b.Start, b.End = n.StartByte(), n.EndByte()
		}
		a.stmt.Names = append(a.stmt.Names, b)
	case sc.global[name]:
		if n != nil {
			a.stmt.Refs = append(a.stmt.Refs, Ref{Name: name, Start: n.StartByte(), End: n.EndByte(), Store: true})
		}
	default:
		sc.bound[name] = true
	}
}

func (a *analyzer) bindImport(sc *scope, name string) {
	if sc.kind == scopeModule {
		a.stmt.Names = append(a.stmt.Names, Binding{Name: name, Import: true})
		return
	}
	a.bind(sc, name, nil)
}

func (a *analyzer) load(sc *scope, r Ref) {
	if sc.kind == scopeModule {
		a.stmt.Refs = append(a.stmt.Refs, r)
		return
	}
	sc.loads = append(sc.loads, r)
}

// close resolves the reads of a finished scope and passes the rest to the
// nearest enclosing scope that is not a class body.
func (a *analyzer) close(sc *scope) {
	p := sc.parent
	for p.kind == scopeClass {
		p = p.parent
	}
	for _, r := range sc.loads {
		switch {
		case sc.global[r.Name]:
			a.stmt.Refs = append(a.stmt.Refs, r)
		case sc.bound[r.Name] || sc.nonlocal[r.Name]:
		default:
			a.load(p, r)
		}
	}
	sc.loads = nil
}

func (a *analyzer) block(n *Node, sc *scope) {
	if n == nil {
		return
	}
	for _, c := range Children(n) {
		a.stmtNode(c, sc)
	}
}

func (a *analyzer) stmtNode(n *Node, sc *scope) {
	switch n.Kind() {
	case "comment", "pass_statement", "break_statement", "continue_statement", "future_import_statement":
	case "block", "module":
		a.block(n, sc)
	case "decorated_definition":
		for _, c := range Children(n) {
			if c.Kind() == "decorator" {
				a.exprChildren(c, sc)
			}
		}
		a.stmtNode(n.ChildByFieldName("definition"), sc)
	case "function_definition":
		a.function(n, sc)
	case "class_definition":
		if sup := n.ChildByFieldName("superclasses"); sup != nil {
			a.expr(sup, sc)
		}
		cs := newScope(scopeClass, sc)
		a.block(n.ChildByFieldName("body"), cs)
		a.close(cs)
		if name := n.ChildByFieldName("name"); name != nil {
			a.bind(sc, a.text(name), name)
		}
	case "expression_statement":
		for _, c := range Children(n) {
			a.exprStmt(c, sc)
		}
	case "import_statement", "import_from_statement":
		a.importStmt(n, sc)
	case "if_statement", "elif_clause", "while_statement":
		a.expr(n.ChildByFieldName("condition"), sc)
		a.block(n.ChildByFieldName("consequence"), sc)
		a.block(n.ChildByFieldName("body"), sc)
		for _, c := range Children(n) {
			if k := c.Kind(); k == "elif_clause" || k == "else_clause" {
				a.stmtNode(c, sc)
			}
		}
	case "else_clause", "finally_clause":
		for _, c := range Children(n) {
			if c.Kind() == "block" {
				a.block(c, sc)
			}
		}
	case "for_statement":
		a.target(n.ChildByFieldName("left"), sc)
		a.expr(n.ChildByFieldName("right"), sc)
		a.block(n.ChildByFieldName("body"), sc)
		if alt := n.ChildByFieldName("alternative"); alt != nil {
			a.stmtNode(alt, sc)
		}
	case "try_statement":
		a.block(n.ChildByFieldName("body"), sc)
		for _, c := range Children(n) {
			switch c.Kind() {
			case "except_clause", "except_group_clause":
				for _, e := range Children(c) {
					switch e.Kind() {
					case "block":
						a.block(e, sc)
					case "as_pattern":
						a.asPattern(e, sc)
					default:
						a.expr(e, sc)
					}
				}
			case "else_clause", "finally_clause":
				a.stmtNode(c, sc)
			}
		}
	case "with_statement":
		for _, c := range Children(n) {
			if c.Kind() != "with_clause" {
				continue
			}
			for _, item := range Children(c) {
				v := item.ChildByFieldName("value")
				if v == nil {
					continue
				}
				if v.Kind() == "as_pattern" {
					a.asPattern(v, sc)
				} else {
					a.expr(v, sc)
				}
			}
		}
		a.block(n.ChildByFieldName("body"), sc)
	case "global_statement":
		for _, c := range Children(n) {
			if c.Kind() == "identifier" && sc.kind != scopeModule {
				sc.global[a.text(c)] = true
				a.stmt.Refs = append(a.stmt.Refs, Ref{Name: a.text(c), Start: c.StartByte(), End: c.EndByte(), Store: true})
			}
		}
	case "nonlocal_statement":
		for _, c := range Children(n) {
			if c.Kind() == "identifier" {
				sc.nonlocal[a.text(c)] = true
			}
		}
	case "delete_statement":
		for _, c := range Children(n) {
			if c.Kind() == "identifier" {
				if sc.kind != scopeModule {
					a.bind(sc, a.text(c), c)
				}
				continue
			}
			a.target(c, sc)
		}
	default:
		a.exprChildren(n, sc)
	}
}

func (a *analyzer) asPattern(n *Node, sc *scope) {
	for _, c := range Children(n) {
		if c.Kind() == "as_pattern_target" {
			for _, t := range Children(c) {
				a.target(t, sc)
			}
			continue
		}
		a.expr(c, sc)
	}
}

func (a *analyzer) function(n *Node, sc *scope) {
	fs := newScope(scopeFunction, sc)
	a.params(n.ChildByFieldName("parameters"), sc, fs)
	if rt := n.ChildByFieldName("return_type"); rt != nil {
		a.expr(rt, sc)
	}
	a.fnDepth++
	a.block(n.ChildByFieldName("body"), fs)
	a.fnDepth--
	a.close(fs)
	if name := n.ChildByFieldName("name"); name != nil {
		a.bind(sc, a.text(name), name)
	}
}

// params binds parameter names in fs; defaults and annotations are read
// in the enclosing scope when the def runs.
func (a *analyzer) params(p *Node, outer, fs *scope) {
	if p == nil {
		return
	}
	for _, c := range Children(p) {
		switch c.Kind() {
		case "identifier":
			a.bind(fs, a.text(c), c)
		case "list_splat_pattern", "dictionary_splat_pattern":
			a.paramName(c, fs)
		case "typed_parameter":
			for _, e := range Children(c) {
				if e.Kind() == "type" {
					a.expr(e, outer)
				} else {
					a.paramName(e, fs)
				}
			}
		case "default_parameter", "typed_default_parameter":
			if name := c.ChildByFieldName("name"); name != nil {
				a.paramName(name, fs)
			}
			a.expr(c.ChildByFieldName("type"), outer)
			a.expr(c.ChildByFieldName("value"), outer)
		}
	}
}

func (a *analyzer) paramName(n *Node, fs *scope) {
	if n.Kind() == "identifier" {
		a.bind(fs, a.text(n), n)
		return
	}
	for _, c := range Children(n) {
		if c.Kind() == "identifier" {
			a.bind(fs, a.text(c), c)
		}
	}
}

func (a *analyzer) exprStmt(n *Node, sc *scope) {
	switch n.Kind() {
	case "assignment":
		a.target(n.ChildByFieldName("left"), sc)
		a.expr(n.ChildByFieldName("type"), sc)
		if r := n.ChildByFieldName("right"); r != nil {
			a.exprStmt(r, sc)
		}
	case "augmented_assignment":
		left := n.ChildByFieldName("left")
		if left != nil && left.Kind() == "identifier" {
			a.expr(left, sc)
		}
		a.target(left, sc)
		a.expr(n.ChildByFieldName("right"), sc)
	default:
		a.expr(n, sc)
	}
}

// target visits an assignment target: names are stored, the bases of
// attributes and subscripts are read.
func (a *analyzer) target(n *Node, sc *scope) {
	if n == nil {
		return
	}
	switch n.Kind() {
	case "identifier":
		a.bind(sc, a.text(n), n)
	case "pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "parenthesized_expression", "list_splat_pattern", "list_splat", "expression_list":
		for _, c := range Children(n) {
			a.target(c, sc)
		}
	case "attribute":
		a.expr(n.ChildByFieldName("object"), sc)
	default:
		a.expr(n, sc)
	}
}

func (a *analyzer) exprChildren(n *Node, sc *scope) {
	for _, c := range Children(n) {
		a.expr(c, sc)
	}
}

func (a *analyzer) ref(n *Node) Ref {
	return Ref{Name: a.text(n), Start: n.StartByte(), End: n.EndByte(), Eager: a.fnDepth == 0, Annotation: a.annot > 0}
}

func (a *analyzer) expr(n *Node, sc *scope) {
	if n == nil {
		return
	}
	switch n.Kind() {
	case "identifier":
		a.load(sc, a.ref(n))
	case "attribute":
		var chain []*Node
		base := n
		for base.Kind() == "attribute" {
			chain = append(chain, base)
			base = base.ChildByFieldName("object")
			if base == nil {
				return
			}
		}
		if base.Kind() != "identifier" {
			a.expr(base, sc)
			return
		}
		r := a.ref(base)
		for i := len(chain) - 1; i >= 0; i-- {
			attr := chain[i].ChildByFieldName("attribute")
			if attr == nil {
				break
			}
			r.Attrs = append(r.Attrs, a.text(attr))
			r.AttrEnds = append(r.AttrEnds, chain[i].EndByte())
		}
		a.load(sc, r)
	case "keyword_argument":
		a.expr(n.ChildByFieldName("value"), sc)
	case "type":
		a.annot++
		a.exprChildren(n, sc)
		a.annot--
	case "lambda":
		fs := newScope(scopeFunction, sc)
		a.params(n.ChildByFieldName("parameters"), sc, fs)
		a.fnDepth++
		a.expr(n.ChildByFieldName("body"), fs)
		a.fnDepth--
		a.close(fs)
	case "list_comprehension", "set_comprehension", "generator_expression", "dictionary_comprehension":
		cs := newScope(scopeComprehension, sc)
		first := true
		for _, c := range Children(n) {
			switch c.Kind() {
			case "for_in_clause":
				for _, l := range childrenByField(c, "left") {
					a.target(l, cs)
				}
				// The first iterable is evaluated in the enclosing scope.
				rs := cs
				if first {
					rs = sc
				}
				for _, r := range childrenByField(c, "right") {
					a.expr(r, rs)
				}
				first = false
			case "if_clause":
				a.exprChildren(c, cs)
			default:
				a.expr(c, cs)
			}
		}
		a.close(cs)
	case "named_expression":
		ts := sc
		for ts.kind == scopeComprehension {
			ts = ts.parent
		}
		if name := n.ChildByFieldName("name"); name != nil {
			a.bind(ts, a.text(name), name)
		}
		a.expr(n.ChildByFieldName("value"), sc)
	case "as_pattern":
		a.asPattern(n, sc)
	case "string", "concatenated_string", "interpolation", "format_specifier", "format_expression":
		for _, c := range Children(n) {
			switch c.Kind() {
			case "interpolation", "format_specifier", "format_expression", "string":
				a.expr(c, sc)
			case "string_content", "string_start", "string_end", "escape_sequence", "type_conversion":
			default:
				a.expr(c, sc)
			}
		}
	case "integer", "float", "true", "false", "none", "ellipsis", "comment", "string_content":
	default:
		a.exprChildren(n, sc)
	}
}

func childrenByField(n *Node, field string) []*Node {
	var out []*Node
	for i := uint(0); i < n.ChildCount(); i++ {
		if n.FieldNameForChild(uint32(i)) == field {
			out = append(out, n.Child(i))
		}
	}
	return out
}

func (a *analyzer) importStmt(n *Node, sc *scope) {
	im := Import{
		Start:      n.StartByte(),
		End:        n.EndByte(),
		Line:       int(n.StartPosition().Row) + 1,
		From:       n.Kind() == "import_from_statement",
		InFunction: a.fnDepth > 0,
		Nested:     n.StartByte() != a.stmt.Start || n.EndByte() != a.stmt.End,
	}
	if im.From {
		mn := n.ChildByFieldName("module_name")
		if mn != nil {
			if mn.Kind() == "relative_import" {
				for _, c := range Children(mn) {
					switch c.Kind() {
					case "import_prefix":
						im.Level = strings.Count(a.text(c), ".")
					case "dotted_name":
						im.Module = a.text(c)
					}
				}
			} else {
				im.Module = a.text(mn)
			}
		}
	}
	for i := uint(0); i < n.ChildCount(); i++ {
		c := n.Child(i)
		if c.Kind() == "wildcard_import" {
			im.Star = true
			continue
		}
		if n.FieldNameForChild(uint32(i)) != "name" {
			continue
		}
		var it ImportItem
		if c.Kind() == "aliased_import" {
			it.Name = a.text(c.ChildByFieldName("name"))
			it.Alias = a.text(c.ChildByFieldName("alias"))
		} else {
			it.Name = a.text(c)
		}
		im.Items = append(im.Items, it)
		a.bindImport(sc, it.Bound(im.From))
	}
	a.stmt.Imports = append(a.stmt.Imports, im)
}
