package pyast

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Edit replaces the source bytes [Start, End) with Text. Start == End
// inserts.
type Edit struct {
	Start, End uint
	Text       string
}

// Replace is an edit that replaces the text of n.
func Replace(n *Node, text string) Edit {
	return Edit{Start: n.StartByte(), End: n.EndByte(), Text: text}
}

// InsertAt is an edit that inserts text at byte offset off.
func InsertAt(off uint, text string) Edit { return Edit{Start: off, End: off, Text: text} }

// ApplyEdits applies edits to src and returns the new source. Edits may
// come in any order; overlapping edits are an error (two insertions at the
// same offset are kept in the order given).
func ApplyEdits(src []byte, edits []Edit) ([]byte, error) {
	es := append([]Edit(nil), edits...)
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Start != es[j].Start {
			return es[i].Start < es[j].Start
		}
		return es[i].End < es[j].End
	})
	var out bytes.Buffer
	out.Grow(len(src) + 256)
	var pos uint
	for i, e := range es {
		if e.End < e.Start || e.End > uint(len(src)) {
			return nil, fmt.Errorf("edit %d: range [%d,%d) outside the %d-byte source", i, e.Start, e.End, len(src))
		}
		if e.Start < pos {
			return nil, fmt.Errorf("edit at [%d,%d) overlaps an earlier edit ending at %d", e.Start, e.End, pos)
		}
		out.Write(src[pos:e.Start])
		out.WriteString(e.Text)
		pos = e.End
	}
	out.Write(src[pos:])
	return out.Bytes(), nil
}

// Arg is one argument of a call.
type Arg struct {
	// Keyword is the name of a keyword argument, "" for a positional one.
	Keyword string
	// Value is the argument's expression.
	Value *Node
	// Node is the whole argument (the keyword_argument node for keywords;
	// Value otherwise).
	Node *Node
}

// Call is a call expression with its arguments resolved.
type Call struct {
	Node *Node
	// Callee is the text of the called expression ("nn.Conv2d", "F.relu").
	Callee string
	// ArgList is the argument_list node (its text includes the parens).
	ArgList *Node
	// Args are positional and keyword arguments in source order; splats
	// (*a, **k) make Splat true and are not listed.
	Args  []Arg
	Splat bool
}

// AsCall resolves n when it is a call expression.
func (f *File) AsCall(n *Node) (Call, bool) {
	if n == nil || n.Kind() != "call" {
		return Call{}, false
	}
	fn := n.ChildByFieldName("function")
	al := n.ChildByFieldName("arguments")
	if fn == nil || al == nil || al.Kind() != "argument_list" {
		return Call{}, false // generator-expression calls: f(x for x in y)
	}
	c := Call{Node: n, Callee: f.Text(fn), ArgList: al}
	for _, a := range Children(al) {
		switch a.Kind() {
		case "comment":
		case "keyword_argument":
			name := a.ChildByFieldName("name")
			c.Args = append(c.Args, Arg{Keyword: f.Text(name), Value: a.ChildByFieldName("value"), Node: a})
		case "list_splat", "dictionary_splat":
			c.Splat = true
		default:
			c.Args = append(c.Args, Arg{Value: a, Node: a})
		}
	}
	return c, true
}

// Calls returns the calls under n (n included) whose callee satisfies
// match, in source order.
func (f *File) Calls(n *Node, match func(callee string) bool) []Call {
	var out []Call
	Walk(n, func(m *Node) bool {
		if m.Kind() == "call" {
			if c, ok := f.AsCall(m); ok && (match == nil || match(c.Callee)) {
				out = append(out, c)
			}
		}
		return true
	})
	return out
}

// Arg returns the argument at position pos, or the keyword argument
// named kw (pos < 0: keyword only).
func (c Call) Arg(pos int, kw string) (Arg, bool) {
	i := 0
	for _, a := range c.Args {
		if a.Keyword == "" {
			if i == pos {
				return a, true
			}
			i++
		} else if kw != "" && a.Keyword == kw {
			return a, true
		}
	}
	return Arg{}, false
}

// Positional counts the positional arguments.
func (c Call) Positional() int {
	n := 0
	for _, a := range c.Args {
		if a.Keyword == "" {
			n++
		}
	}
	return n
}

// HasKeyword reports whether the call passes keyword kw.
func (c Call) HasKeyword(kw string) bool {
	for _, a := range c.Args {
		if a.Keyword == kw {
			return true
		}
	}
	return false
}

// TorchLayer returns the class name of a torch.nn layer constructor
// ("Conv2d" for nn.Conv2d, torch.nn.Conv2d), or "" when the callee is not
// spelled as an attribute of nn or torch.nn.
func TorchLayer(callee string) string {
	for _, p := range []string{"nn.", "torch.nn."} {
		if rest, ok := strings.CutPrefix(callee, p); ok && rest != "" && !strings.Contains(rest, ".") {
			return rest
		}
	}
	return ""
}

// Functional returns the function name of a torch functional call
// ("relu" for F.relu, torch.relu, torch.nn.functional.relu), or "".
func Functional(callee string) string {
	for _, p := range []string{"F.", "torch.nn.functional.", "torch."} {
		if rest, ok := strings.CutPrefix(callee, p); ok && rest != "" && !strings.Contains(rest, ".") {
			return rest
		}
	}
	return ""
}

// IntLiteral returns the value of a plain decimal integer literal node.
func (f *File) IntLiteral(n *Node) (int, bool) {
	if n == nil || n.Kind() != "integer" {
		return 0, false
	}
	var v int
	s := f.Text(n)
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		v = v*10 + int(r-'0')
	}
	return v, true
}

// Elements returns the element expressions of a list, tuple or
// argument_list node (comments, keyword arguments and splats left out).
func Elements(n *Node) []*Node {
	var out []*Node
	for _, c := range Children(n) {
		switch c.Kind() {
		case "comment", "keyword_argument", "list_splat", "dictionary_splat":
			continue
		}
		out = append(out, c)
	}
	return out
}

// LineIndent returns the indentation (spaces and tabs) of the line holding
// byte offset off.
func (f *File) LineIndent(off uint) string {
	start := bytes.LastIndexByte(f.Src[:off], '\n') + 1
	end := start
	for end < len(f.Src) && (f.Src[end] == ' ' || f.Src[end] == '\t') {
		end++
	}
	return string(f.Src[start:end])
}

// TopLevel returns the module-level statement containing n (n itself when
// it is one), or nil.
func TopLevel(n *Node) *Node {
	for n != nil {
		p := n.Parent()
		if p == nil {
			return nil
		}
		if p.Kind() == "module" {
			return n
		}
		n = p
	}
	return nil
}

// ClassDef returns the module-level class definition named name (decorated
// or not), or nil.
func (f *File) ClassDef(name string) *Node {
	for _, st := range Children(f.Root()) {
		d := st
		if d.Kind() == "decorated_definition" {
			d = d.ChildByFieldName("definition")
		}
		if d != nil && d.Kind() == "class_definition" && f.Text(d.ChildByFieldName("name")) == name {
			return st
		}
	}
	return nil
}

// Defines reports whether the module defines name at the top level (a
// class, a function or an assignment target).
func (f *File) Defines(name string) bool {
	for _, st := range Children(f.Root()) {
		d := st
		if d.Kind() == "decorated_definition" {
			d = d.ChildByFieldName("definition")
		}
		if d == nil {
			continue
		}
		switch d.Kind() {
		case "class_definition", "function_definition":
			if f.Text(d.ChildByFieldName("name")) == name {
				return true
			}
		case "expression_statement":
			for _, a := range Children(d) {
				if a.Kind() == "assignment" && f.Text(a.ChildByFieldName("left")) == name {
					return true
				}
			}
		}
	}
	return false
}
