package pyast

import (
	"crypto/md5"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/lemur"
)

// IDVersion versions the normalised id and the structural fingerprint:
// bump it whenever their token rules change, so cached ids are recomputed.
const IDVersion = 3

// IDs are the three duplicate keys of a model's code.
type IDs struct {
	// Code is LEMUR's code id: md5 of the text with all whitespace removed
	// (lemur.CodeID), so names stay compatible with LEMUR's.
	Code string `json:"code"`
	// Normalised is the md5 of the token stream with comments and bare
	// string statements (docstrings) dropped, string quotes, number
	// spelling and trailing commas canonicalised, and blocks and statement
	// ends marked, sets of strings sorted and type annotations dropped:
	// reformatted, re-commented or re-annotated copies share it.
	Normalised string `json:"normalised"`
	// Structure is Normalised with every name the file defines (variables,
	// parameters, functions, classes, attributes it assigns, import aliases)
	// renamed v0, v1, ... in order of first occurrence. Library attribute
	// names (nn.Conv2d, F.relu, x.view), builtins, keyword-argument names,
	// dunder names and literal values are kept: a renamed copy shares it, a
	// copy with another width or kernel size does not.
	Structure string `json:"structure"`
}

// ComputeIDs returns the three ids of a tree.
func (t *Tree) ComputeIDs() IDs {
	return IDs{
		Code:       lemur.CodeID(string(t.Src)),
		Normalised: t.tokenHash(nil),
		Structure:  t.tokenHash(t.renameSets()),
	}
}

// renames is the set of names a structural fingerprint renames.
type renames struct {
	idents map[string]bool // names bound in the file
	attrs  map[string]bool // attribute names the file assigns or defines as methods
}

func isDunder(s string) bool {
	return len(s) > 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__")
}

func (t *Tree) renameSets() *renames {
	r := &renames{idents: map[string]bool{}, attrs: map[string]bool{}}
	var bindTarget func(NodeID)
	bindTarget = func(id NodeID) {
		switch t.Kind(id) {
		case "identifier":
			r.idents[t.Text(id)] = true
		case "attribute":
			r.attrs[t.Text(t.Field(id, "attribute"))] = true
		case "pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "list_splat_pattern", "as_pattern_target", "parenthesized_expression":
			for _, c := range t.NamedChildren(id) {
				bindTarget(c)
			}
		}
	}
	for i := range t.Nodes {
		id := NodeID(i)
		switch t.Nodes[i].Kind {
		case "function_definition", "class_definition":
			name := t.Text(t.Field(id, "name"))
			r.idents[name] = true
			r.attrs[name] = true
		case "parameters", "lambda_parameters":
			for _, p := range t.NamedChildren(id) {
				switch t.Kind(p) {
				case "identifier":
					r.idents[t.Text(p)] = true
				case "default_parameter", "typed_default_parameter":
					r.idents[t.Text(t.Field(p, "name"))] = true
				case "typed_parameter", "list_splat_pattern", "dictionary_splat_pattern":
					t.Walk(p, func(c NodeID) bool {
						if t.Kind(c) == "type" {
							return false
						}
						if t.Kind(c) == "identifier" {
							r.idents[t.Text(c)] = true
						}
						return true
					})
				}
			}
		case "assignment", "augmented_assignment", "for_statement", "for_in_clause":
			bindTarget(t.Field(id, "left"))
		case "as_pattern_target", "global_statement", "nonlocal_statement":
			bindTarget(id)
			for _, c := range t.NamedChildren(id) {
				bindTarget(c)
			}
		case "aliased_import":
			bindTarget(t.Field(id, "alias"))
		case "import_statement":
			for _, c := range t.NamedChildren(id) {
				if t.Kind(c) == "dotted_name" {
					r.idents[t.Text(t.Nodes[c].First)] = true
				}
			}
		case "import_from_statement":
			for _, c := range t.NamedChildren(id) {
				if t.Nodes[c].Field == "name" && t.Kind(c) == "dotted_name" {
					r.idents[t.dotted(c)] = true
				}
			}
		case "named_expression":
			bindTarget(t.Field(id, "name"))
		}
	}
	for k := range r.idents {
		if isDunder(k) {
			delete(r.idents, k)
		}
	}
	for k := range r.attrs {
		if isDunder(k) {
			delete(r.attrs, k)
		}
	}
	return r
}

// tokenWriter collects the token stream, renaming when asked; tokens are
// separated by 0x1f, which Python source cannot hold outside literals.
type tokenWriter struct {
	rn     *renames
	canon  map[string]string
	buf    []byte
	tokens int
}

func (w *tokenWriter) tok(s string) {
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, 0x1f)
	w.tokens++
}

func (w *tokenWriter) bytes(b []byte) {
	w.buf = append(w.buf, b...)
	w.buf = append(w.buf, 0x1f)
	w.tokens++
}

func (w *tokenWriter) name(s []byte) {
	c, ok := w.canon[string(s)] // no allocation for the lookup
	if !ok {
		c = "v" + strconv.Itoa(len(w.canon))
		w.canon[string(s)] = c
	}
	w.tok(c)
}

// tokenHash hashes the canonical token stream; rn nil keeps names.
func (t *Tree) tokenHash(rn *renames) string {
	w := &tokenWriter{rn: rn, canon: map[string]string{}, buf: make([]byte, 0, len(t.Src))}
	t.emit(w, 0)
	sum := md5.Sum(w.buf)
	return hex.EncodeToString(sum[:])
}

var idClosers = map[string]bool{")": true, "]": true, "}": true}

func (t *Tree) emit(w *tokenWriter, id NodeID) {
	n := &t.Nodes[id]
	switch n.Kind {
	case "comment", "line_continuation":
		return
	case "expression_statement":
		if t.isDocstring(id) {
			return
		}
	case "string":
		w.tok(t.canonString(id))
		return
	case "set":
		// A set of string literals ({'lr', 'momentum'}) is the same set in
		// any order.
		if strs, ok := t.stringSet(id); ok {
			sort.Strings(strs)
			w.tok("{")
			for i, s := range strs {
				if i > 0 {
					w.tok(",")
				}
				w.tok(s)
			}
			w.tok("}")
			return
		}
	case "integer", "float":
		w.tok(strings.ToLower(strings.ReplaceAll(t.Text(id), "_", "")))
		return
	case "identifier":
		if w.rn != nil {
			txt := t.Src[n.Start:n.End]
			isAttr := n.Field == "attribute" && t.Kind(n.Parent) == "attribute"
			inImportPath := t.Kind(n.Parent) == "dotted_name"
			isKw := n.Field == "name" && t.Kind(n.Parent) == "keyword_argument"
			switch {
			case isKw, inImportPath:
			case isAttr && w.rn.attrs[string(txt)], !isAttr && w.rn.idents[string(txt)]:
				w.name(txt)
				return
			}
		}
	case "block":
		w.tok("{")
		defer w.tok("}")
	}
	if n.First == NoNode {
		if n.Missing {
			w.tok("<missing " + n.Kind + ">")
			return
		}
		if n.Kind == "," && n.Next != NoNode && idClosers[t.Nodes[n.Next].Kind] {
			// A trailing comma changes nothing, except in a 1-tuple.
			if !(t.Kind(n.Parent) == "tuple" && len(t.NamedChildren(n.Parent)) == 1) {
				return
			}
		}
		if n.End > n.Start {
			w.bytes(t.Src[n.Start:n.End])
		}
		return
	}
	stmtParent := n.Kind == "module" || n.Kind == "block"
	for c := n.First; c != NoNode; c = t.Nodes[c].Next {
		// Type annotations change nothing at run time and LLMs add or drop
		// them at will: skip "-> T", ": T" of parameters and assignments.
		if f := t.Nodes[c].Field; f == "type" || f == "return_type" {
			continue
		}
		if k := t.Nodes[c].Kind; (k == ":" || k == "->") && t.Nodes[c].Next != NoNode {
			if f := t.Nodes[t.Nodes[c].Next].Field; f == "type" || f == "return_type" {
				continue
			}
		}
		before := w.tokens
		t.emit(w, c)
		if stmtParent && w.tokens > before {
			w.tok(";")
		}
	}
}

// canonString spells a string literal with its prefix in lower case and
// its content between double quotes, whatever quotes it was written with.
func (t *Tree) canonString(id NodeID) string {
	var prefix, body strings.Builder
	start, end := t.Nodes[id].Start, t.Nodes[id].End
	for c := t.Nodes[id].First; c != NoNode; c = t.Nodes[c].Next {
		switch t.Kind(c) {
		case "string_start":
			p := strings.TrimRight(t.Text(c), `'"`)
			prefix.WriteString(strings.ToLower(p))
			start = t.Nodes[c].End
		case "string_end":
			end = t.Nodes[c].Start
		}
	}
	if end < start {
		end = start
	}
	body.Write(t.Src[start:end])
	return prefix.String() + `"` + body.String() + `"`
}

// stringSet returns the canonical spellings of a set literal's elements
// when all are plain string literals.
func (t *Tree) stringSet(id NodeID) ([]string, bool) {
	var out []string
	for _, c := range t.NamedChildren(id) {
		if t.Kind(c) != "string" {
			return nil, false
		}
		if _, ok := t.stringLit(c); !ok {
			return nil, false
		}
		out = append(out, t.canonString(c))
	}
	return out, len(out) > 0
}
