package pyast

import "strings"

// ModuleImport is one imported module, from an import statement anywhere in
// the file (functions included) or from a call to __import__ or
// importlib.import_module.
type ModuleImport struct {
	Module string   // dotted module name; "." prefixes for relative imports; "<dynamic>" when not a literal
	Names  []string // names taken by a from-import ("*" for a wildcard); empty for "import m"
	Line   int
	Kind   string // "import", "from", "future" or "dynamic"
}

// Top is the first component of the module name ("torch" for torch.nn);
// "" for relative and dynamic imports.
func (m ModuleImport) Top() string {
	if strings.HasPrefix(m.Module, ".") || strings.HasPrefix(m.Module, "<") {
		return ""
	}
	top, _, _ := strings.Cut(m.Module, ".")
	return top
}

// Relative reports whether the import is relative to a package (from . import x).
func (m ModuleImport) Relative() bool { return strings.HasPrefix(m.Module, ".") }

// importScan collects the imports of a tree and the local names they bind,
// mapped to what they name ("F" -> "torch.nn.functional").
type importScan struct {
	imports []ModuleImport
	aliases map[string]string
}

func (t *Tree) scanImports() importScan {
	s := importScan{aliases: map[string]string{}}
	for i := range t.Nodes {
		id := NodeID(i)
		switch t.Nodes[i].Kind {
		case "import_statement":
			for _, c := range t.NamedChildren(id) {
				if t.Nodes[c].Field != "name" {
					continue
				}
				switch t.Kind(c) {
				case "dotted_name":
					mod := t.dotted(c)
					s.imports = append(s.imports, ModuleImport{Module: mod, Line: t.Line(id), Kind: "import"})
					// "import torch.nn" binds "torch".
					top, _, _ := strings.Cut(mod, ".")
					s.aliases[top] = top
				case "aliased_import":
					mod := t.dotted(t.Field(c, "name"))
					s.imports = append(s.imports, ModuleImport{Module: mod, Line: t.Line(id), Kind: "import"})
					if a := t.Field(c, "alias"); a != NoNode {
						s.aliases[t.Text(a)] = mod
					}
				}
			}
		case "import_from_statement", "future_import_statement":
			kind := "from"
			mod := "__future__"
			if t.Nodes[i].Kind == "future_import_statement" {
				kind = "future"
			} else {
				mn := t.Field(id, "module_name")
				if t.Kind(mn) == "relative_import" {
					mod = strings.Join(strings.Fields(t.Text(mn)), "")
				} else {
					mod = t.dotted(mn)
				}
			}
			m := ModuleImport{Module: mod, Line: t.Line(id), Kind: kind}
			for _, c := range t.NamedChildren(id) {
				switch {
				case t.Kind(c) == "wildcard_import":
					m.Names = append(m.Names, "*")
				case t.Nodes[c].Field != "name":
				case t.Kind(c) == "dotted_name":
					n := t.dotted(c)
					m.Names = append(m.Names, n)
					s.aliases[n] = joinQual(mod, n)
				case t.Kind(c) == "aliased_import":
					n := t.dotted(t.Field(c, "name"))
					m.Names = append(m.Names, n)
					if a := t.Field(c, "alias"); a != NoNode {
						s.aliases[t.Text(a)] = joinQual(mod, n)
					}
				}
			}
			s.imports = append(s.imports, m)
		case "call":
			fn := t.Field(id, "function")
			name := t.Text(fn)
			if name != "__import__" && name != "importlib.import_module" && name != "import_module" {
				continue
			}
			m := ModuleImport{Module: "<dynamic>", Line: t.Line(id), Kind: "dynamic"}
			args := t.NamedChildren(t.Field(id, "arguments"))
			if len(args) > 0 {
				if v, ok := t.stringLit(args[0]); ok {
					m.Module = v
				}
			}
			s.imports = append(s.imports, m)
		}
	}
	return s
}

func joinQual(mod, name string) string {
	if strings.HasPrefix(mod, ".") {
		return mod + name
	}
	return mod + "." + name
}

// dotted is the text of a dotted_name without whitespace or comments.
func (t *Tree) dotted(id NodeID) string {
	if id == NoNode {
		return ""
	}
	var parts []string
	for _, c := range t.NamedChildren(id) {
		if t.Kind(c) == "identifier" {
			parts = append(parts, t.Text(c))
		}
	}
	if len(parts) == 0 {
		return t.Text(id)
	}
	return strings.Join(parts, ".")
}

// qualName resolves an identifier or attribute chain through the import
// aliases: with "import torch.nn.functional as F", F.relu resolves to
// torch.nn.functional.relu. Names not bound by an import resolve to
// themselves; anything else (calls, subscripts) to "".
func (t *Tree) qualName(id NodeID, aliases map[string]string) string {
	switch t.Kind(id) {
	case "identifier":
		n := t.Text(id)
		if q, ok := aliases[n]; ok {
			return q
		}
		return n
	case "attribute":
		obj := t.qualName(t.Field(id, "object"), aliases)
		if obj == "" {
			return ""
		}
		return obj + "." + t.Text(t.Field(id, "attribute"))
	case "parenthesized_expression":
		if cs := t.NamedChildren(id); len(cs) == 1 {
			return t.qualName(cs[0], aliases)
		}
	}
	return ""
}

// stringLit returns the value of a plain string literal (no f-string
// interpolation, no implicit concatenation of non-literals). Escape
// sequences are kept as written except for \' and \" which are unescaped.
func (t *Tree) stringLit(id NodeID) (string, bool) {
	switch t.Kind(id) {
	case "string":
	case "concatenated_string":
		var b strings.Builder
		for _, c := range t.NamedChildren(id) {
			s, ok := t.stringLit(c)
			if !ok {
				return "", false
			}
			b.WriteString(s)
		}
		return b.String(), true
	case "parenthesized_expression":
		if cs := t.NamedChildren(id); len(cs) == 1 {
			return t.stringLit(cs[0])
		}
		return "", false
	default:
		return "", false
	}
	var b strings.Builder
	for c := t.Nodes[id].First; c != NoNode; c = t.Nodes[c].Next {
		switch t.Kind(c) {
		case "string_start":
			if strings.ContainsAny(t.Text(c), "fFbB") {
				return "", false
			}
		case "string_content":
			b.WriteString(t.Text(c))
		case "escape_sequence":
			e := t.Text(c)
			if e == `\'` || e == `\"` {
				e = e[1:]
			}
			b.WriteString(e)
		case "interpolation":
			return "", false
		}
	}
	return b.String(), true
}
