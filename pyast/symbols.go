package pyast

import (
	"strings"
)

// This file is the module-level symbol table: what each top-level statement
// of a module binds, which module-level names it reads (with the attribute
// chain that follows them), and the import statements it holds. The values
// are plain Go data so an index can be cached and the tree closed.

// StmtKind classifies a top-level statement.
type StmtKind string

const (
	StmtClass    StmtKind = "class"
	StmtFunc     StmtKind = "def"
	StmtAssign   StmtKind = "assign"   // assignment, annotated or augmented
	StmtImport   StmtKind = "import"   // import or from-import at top level
	StmtFuture   StmtKind = "future"   // from __future__ import ...
	StmtCompound StmtKind = "compound" // if, try, with, for, while at top level
	StmtOther    StmtKind = "other"    // expressions, pass, assert, del, ...
)

// Ref is one read of a name that resolves at module level (a global or a
// builtin), from anywhere in a statement, including function bodies.
type Ref struct {
	Name       string
	Start, End uint     // byte range of the identifier
	Attrs      []string // attribute chain read right after the name: x.a.b gives [a b]
	AttrEnds   []uint   // end byte of name.Attrs[0..i]
	Eager      bool     // read when the statement executes (not only when a function body runs)
	Annotation bool     // inside a type annotation
	Store      bool     // a write through a `global` declaration
}

// Binding is a module-level name bound by a statement. Start == End when
// the binding has no identifier of its own to rename (imports).
type Binding struct {
	Name       string
	Start, End uint
	Import     bool // bound by an import statement
}

// ImportItem is one imported name: for `import a.b as c` Name is "a.b" and
// Alias "c"; for `from m import x` Name is "x".
type ImportItem struct {
	Name, Alias string
}

// Bound is the name the item binds in the importing scope.
func (it ImportItem) Bound(from bool) string {
	if it.Alias != "" {
		return it.Alias
	}
	if from {
		return it.Name
	}
	first, _, _ := strings.Cut(it.Name, ".")
	return first
}

// Import is one import statement anywhere in a top-level statement.
type Import struct {
	Start, End uint // byte range of the whole statement
	Line       int  // 1-based
	From       bool // from-import
	Level      int  // leading dots of a relative from-import
	Module     string
	Star       bool
	Items      []ImportItem
	InFunction bool // inside a function body: binds local names
	Nested     bool // not itself a top-level statement
}

// Stmt is one top-level statement.
type Stmt struct {
	Kind               StmtKind
	Start, End         uint // bytes, decorators included
	StartLine, EndLine int  // 1-based, inclusive
	Names              []Binding
	Refs               []Ref
	Imports            []Import
	Augmented          bool // binds only through augmented assignment (x += ...)
	Conditional        bool // binds under if/try/with/for/while
	Inert              bool // `if TYPE_CHECKING:` or `if __name__ == "__main__":`: never runs on import
	// BasesStart, BasesEnd is the byte range of a class's argument list:
	// the refs inside it are its bases (and metaclass keywords).
	BasesStart, BasesEnd uint
}

// Binds reports whether s binds name at module level.
func (s *Stmt) Binds(name string) bool {
	for _, b := range s.Names {
		if b.Name == name {
			return true
		}
	}
	return false
}

// Module is the symbol table of one module.
type Module struct {
	Stmts             []Stmt
	All               []string // __all__ when it is a literal list or tuple of strings
	HasAll            bool
	FutureAnnotations bool
	SyntaxErrors      []SyntaxError
}

// Symbols builds the symbol table of a parsed module.
func Symbols(f *File) *Module {
	m := &Module{SyntaxErrors: f.SyntaxErrors(5)}
	root := f.Root()
	for _, n := range Children(root) {
		if n.Kind() == "comment" {
			continue
		}
		st := analyzeStmt(f.Src, n)
		m.Stmts = append(m.Stmts, st)
		switch st.Kind {
		case StmtFuture:
			if strings.Contains(f.Text(n), "annotations") {
				m.FutureAnnotations = true
			}
		case StmtAssign:
			collectAll(f, n, m)
		}
	}
	return m
}

// collectAll reads `__all__ = [...]` and `__all__ += [...]` with literal strings.
func collectAll(f *File, n *Node, m *Module) {
	if n.Kind() != "expression_statement" || n.NamedChildCount() != 1 {
		return
	}
	a := n.NamedChild(0)
	if a.Kind() != "assignment" && a.Kind() != "augmented_assignment" {
		return
	}
	left, right := a.ChildByFieldName("left"), a.ChildByFieldName("right")
	if left == nil || right == nil || f.Text(left) != "__all__" {
		return
	}
	if right.Kind() != "list" && right.Kind() != "tuple" {
		return
	}
	var names []string
	for _, c := range Children(right) {
		if c.Kind() != "string" {
			return
		}
		s, ok := StringLiteral(f, c)
		if !ok {
			return
		}
		names = append(names, s)
	}
	if a.Kind() == "assignment" {
		m.All = names
	} else {
		m.All = append(m.All, names...)
	}
	m.HasAll = true
}

// StringLiteral returns the value of a plain string literal (no
// interpolation, no escapes worth decoding).
func StringLiteral(f *File, n *Node) (string, bool) {
	if n.Kind() != "string" {
		return "", false
	}
	var b strings.Builder
	for _, c := range Children(n) {
		switch c.Kind() {
		case "string_start", "string_end":
			if strings.ContainsAny(f.Text(c), "fF") {
				return "", false
			}
		case "string_content":
			b.WriteString(f.Text(c))
		default:
			return "", false
		}
	}
	return b.String(), true
}

func analyzeStmt(src []byte, n *Node) Stmt {
	st := Stmt{
		Start:     n.StartByte(),
		End:       n.EndByte(),
		StartLine: int(n.StartPosition().Row) + 1,
		EndLine:   int(n.EndPosition().Row) + 1,
	}
	a := &analyzer{src: src, stmt: &st}
	mod := &scope{kind: scopeModule}
	switch n.Kind() {
	case "class_definition":
		st.Kind = StmtClass
	case "function_definition":
		st.Kind = StmtFunc
	case "decorated_definition":
		st.Kind = StmtOther
		if d := n.ChildByFieldName("definition"); d != nil {
			if d.Kind() == "class_definition" {
				st.Kind = StmtClass
			} else {
				st.Kind = StmtFunc
			}
		}
	case "import_statement", "import_from_statement":
		st.Kind = StmtImport
	case "future_import_statement":
		st.Kind = StmtFuture
	case "expression_statement":
		st.Kind = StmtOther
		if n.NamedChildCount() > 0 {
			switch n.NamedChild(0).Kind() {
			case "assignment":
				st.Kind = StmtAssign
			case "augmented_assignment":
				st.Kind = StmtAssign
				st.Augmented = true
			}
		}
	case "if_statement", "try_statement", "with_statement", "for_statement", "while_statement":
		st.Kind = StmtCompound
		st.Conditional = true
		if n.Kind() == "if_statement" {
			if c := n.ChildByFieldName("condition"); c != nil {
				t := strings.Join(strings.Fields(string(src[c.StartByte():c.EndByte()])), "")
				t = strings.ReplaceAll(t, "'", `"`)
				st.Inert = t == "TYPE_CHECKING" || t == "typing.TYPE_CHECKING" || t == `__name__=="__main__"`
				if st.Inert && n.ChildByFieldName("alternative") != nil {
					st.Inert = false // the else branch runs: keep the statement
				}
			}
		}
	default:
		st.Kind = StmtOther
	}
	if st.Inert {
		return st
	}
	if st.Kind == StmtClass {
		cls := n
		if n.Kind() == "decorated_definition" {
			cls = n.ChildByFieldName("definition")
		}
		if sup := cls.ChildByFieldName("superclasses"); sup != nil {
			st.BasesStart, st.BasesEnd = sup.StartByte(), sup.EndByte()
		}
	}
	a.stmtNode(n, mod)
	return st
}
