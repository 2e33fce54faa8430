package pyast

import (
	"fmt"
	"sort"
	"strings"
)

// ContractMethod is one method the LEMUR harness calls on Net.
type ContractMethod struct {
	Name string
	// Params are the LEMUR names of the positional parameters after self;
	// a model may name them differently (LEMUR's own models do, e.g.
	// learn(self, train_loader)) because the harness passes them by position.
	Params []string
}

// LEMURMethods is the contract of class Net (REFERENCE.md §2).
var LEMURMethods = []ContractMethod{
	{"__init__", []string{"in_shape", "out_shape", "prm", "device"}},
	{"train_setup", []string{"prm"}},
	{"learn", []string{"train_data"}},
	{"forward", []string{"x"}},
}

// Method describes a method found for Net.
type Method struct {
	Name     string
	Line     int
	Class    string   // the class defining it: "Net" or a local base class
	Params   []string // every parameter name as written, self included, "*args"/"**kw" style for splats
	Required int      // positional parameters without a default, self excluded
	MaxPos   int      // positional parameters accepted, self excluded; -1 with *args
}

// accepts reports whether a call passing n positional arguments binds.
func (m Method) accepts(n int) bool {
	return m.Required <= n && (m.MaxPos < 0 || m.MaxPos >= n)
}

// ContractProblem is one way the file breaks the LEMUR contract.
type ContractProblem struct {
	Line int    // 0 when the problem is something missing
	Msg  string // what is wrong and what to do
}

func (p ContractProblem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// Contract is what the file offers of the LEMUR model contract.
type Contract struct {
	NetLine int               // line of class Net, 0 if absent
	Bases   []string          // Net's base classes as written
	Methods map[string]Method // the contract methods found (own or inherited from a local class)
	// SupportedLine is the line of supported_hyperparameters(), 0 if absent.
	SupportedLine int
	// Supported is the literal set or list it returns, in source order,
	// duplicates removed; nil when it does not return a literal.
	Supported []string
	// Notes are harmless deviations (parameter names other than LEMUR's).
	Notes    []string
	Problems []ContractProblem
}

// OK reports whether the contract holds.
func (c *Contract) OK() bool { return len(c.Problems) == 0 }

// HyperparameterUse tells which hyperparameter keys the code reads from prm.
type HyperparameterUse struct {
	// Used maps each key read with a literal key (prm['lr'], prm.get("lr"),
	// through aliases such as self.prm = prm or hp = dict(prm), or through a
	// string constant) to the line of its first read.
	Used map[string]int
	// Subscripted are the keys read with prm[...] (no default): reading an
	// undeclared one fails at run time.
	Subscripted map[string]int
	// Dynamic lists lines where prm is read with a key that is not a literal
	// (prm[k], **prm, for k in prm, prm.items()): any key may be read there.
	Dynamic []int
	// Unused are the keys supported_hyperparameters() returns that are never
	// read with a literal key (NNGPT's rule: every declared key is used).
	Unused []string
	// Undeclared are the keys read with prm[...] that supported_hyperparameters()
	// does not return and the harness does not supply (see HarnessKeys).
	Undeclared []string
}

// HarnessKeys are the prm keys LEMUR's harness puts in prm besides the
// model's own hyperparameters.
var HarnessKeys = []string{"batch", "transform", "epoch"}

// classInfo is a top-level class definition.
type classInfo struct {
	name  string
	id    NodeID
	bases []NodeID
	defs  map[string]NodeID // method name -> function_definition
}

// topClasses lists module-level class definitions; a later definition of
// the same name replaces an earlier one, as in Python.
func (t *Tree) topClasses() map[string]*classInfo {
	out := map[string]*classInfo{}
	for _, st := range t.NamedChildren(0) {
		def := t.unwrapDecorated(st)
		if t.Kind(def) != "class_definition" {
			continue
		}
		ci := &classInfo{name: t.Text(t.Field(def, "name")), id: def, defs: map[string]NodeID{}}
		if sc := t.Field(def, "superclasses"); sc != NoNode {
			for _, b := range t.NamedChildren(sc) {
				if t.Kind(b) != "keyword_argument" {
					ci.bases = append(ci.bases, b)
				}
			}
		}
		for _, m := range t.NamedChildren(t.Field(def, "body")) {
			fd := t.unwrapDecorated(m)
			if t.Kind(fd) == "function_definition" {
				ci.defs[t.Text(t.Field(fd, "name"))] = fd
			}
		}
		out[ci.name] = ci
	}
	return out
}

func (t *Tree) unwrapDecorated(id NodeID) NodeID {
	if t.Kind(id) == "decorated_definition" {
		return t.Field(id, "definition")
	}
	return id
}

// topFunction returns the last module-level definition of a function.
func (t *Tree) topFunction(name string) NodeID {
	found := NoNode
	for _, st := range t.NamedChildren(0) {
		def := t.unwrapDecorated(st)
		if t.Kind(def) == "function_definition" && t.Text(t.Field(def, "name")) == name {
			found = def
		}
	}
	return found
}

// method describes a function_definition's parameters.
func (t *Tree) method(cls string, fd NodeID) Method {
	m := Method{Name: t.Text(t.Field(fd, "name")), Line: t.Line(fd), Class: cls}
	kwOnly := false
	first := true
	for _, p := range t.NamedChildren(t.Field(fd, "parameters")) {
		name, hasDefault := "", false
		switch t.Kind(p) {
		case "identifier":
			name = t.Text(p)
		case "typed_parameter":
			inner := t.NamedChildren(p)
			if len(inner) > 0 {
				switch t.Kind(inner[0]) {
				case "list_splat_pattern":
					m.Params = append(m.Params, t.Text(inner[0]))
					m.MaxPos, kwOnly = -1, true
					continue
				case "dictionary_splat_pattern":
					m.Params = append(m.Params, t.Text(inner[0]))
					continue
				}
				name = t.Text(inner[0])
			}
		case "default_parameter", "typed_default_parameter":
			name, hasDefault = t.Text(t.Field(p, "name")), true
		case "list_splat_pattern":
			m.Params = append(m.Params, t.Text(p))
			m.MaxPos, kwOnly = -1, true
			continue
		case "keyword_separator":
			kwOnly = true
			continue
		case "dictionary_splat_pattern":
			m.Params = append(m.Params, t.Text(p))
			continue
		default: // positional_separator, comments
			continue
		}
		m.Params = append(m.Params, name)
		if first {
			first = false // self
			continue
		}
		if kwOnly {
			if !hasDefault {
				m.Required = 1 << 20 // a required keyword-only parameter: positional calls never bind
			}
			continue
		}
		if m.MaxPos >= 0 {
			m.MaxPos++
		}
		if !hasDefault {
			m.Required++
		}
	}
	if first { // no self at all
		m.Required = 1 << 20
	}
	return m
}

// isModuleClass reports whether a class derives from nn.Module, directly,
// through another torch.nn class (nn.Sequential, nn.ModuleList) or through
// local classes.
func (t *Tree) isModuleClass(ci *classInfo, classes map[string]*classInfo, aliases map[string]string, depth int) bool {
	if depth > 16 {
		return false
	}
	for _, b := range ci.bases {
		txt := strings.Join(strings.Fields(t.Text(b)), "")
		if txt == "Module" || strings.HasSuffix(txt, ".Module") || strings.HasPrefix(t.qualName(b, aliases), "torch.nn.") {
			return true
		}
		if parent, ok := classes[txt]; ok && parent != ci && t.isModuleClass(parent, classes, aliases, depth+1) {
			return true
		}
	}
	return false
}

// findMethod looks for a method on ci and then its local base classes.
func (t *Tree) findMethod(ci *classInfo, classes map[string]*classInfo, name string, depth int) (Method, bool) {
	if fd, ok := ci.defs[name]; ok {
		return t.method(ci.name, fd), true
	}
	if depth > 16 {
		return Method{}, false
	}
	for _, b := range ci.bases {
		if parent, ok := classes[t.Text(b)]; ok && parent != ci {
			if m, ok := t.findMethod(parent, classes, name, depth+1); ok {
				return m, true
			}
		}
	}
	return Method{}, false
}

// contract checks the LEMUR contract.
func (t *Tree) contract(classes map[string]*classInfo, aliases map[string]string) Contract {
	c := Contract{Methods: map[string]Method{}}
	net, ok := classes["Net"]
	if !ok {
		c.Problems = append(c.Problems, ContractProblem{0, "no module-level class Net: define class Net(nn.Module)"})
	} else {
		c.NetLine = t.Line(net.id)
		for _, b := range net.bases {
			c.Bases = append(c.Bases, t.Text(b))
		}
		if !t.isModuleClass(net, classes, aliases, 0) {
			c.Problems = append(c.Problems, ContractProblem{c.NetLine, "class Net does not derive from nn.Module: declare it as class Net(nn.Module)"})
		}
		for _, want := range LEMURMethods {
			m, ok := t.findMethod(net, classes, want.Name, 0)
			if !ok {
				c.Problems = append(c.Problems, ContractProblem{c.NetLine, fmt.Sprintf("class Net has no method %s: define %s", want.Name, want.signature())})
				continue
			}
			c.Methods[want.Name] = m
			n := len(want.Params)
			if !m.accepts(n) {
				c.Problems = append(c.Problems, ContractProblem{m.Line, fmt.Sprintf("Net.%s(%s) cannot be called with %d argument(s): the harness calls %s",
					m.Name, strings.Join(m.Params, ", "), n, want.signature())})
				continue
			}
			for i, p := range want.Params {
				if i+1 < len(m.Params) && m.Params[i+1] != p {
					c.Notes = append(c.Notes, fmt.Sprintf("Net.%s names parameter %d %q where LEMUR says %q", m.Name, i+1, m.Params[i+1], p))
				}
			}
		}
	}
	fd := t.topFunction("supported_hyperparameters")
	if fd == NoNode {
		c.Problems = append(c.Problems, ContractProblem{0, "no module-level function supported_hyperparameters(): define one returning the set of prm keys the model reads, e.g. return {'lr', 'momentum'}"})
		return c
	}
	c.SupportedLine = t.Line(fd)
	keys, problem := t.supportedLiteral(fd)
	if problem != "" {
		c.Problems = append(c.Problems, ContractProblem{c.SupportedLine, problem})
	}
	c.Supported = keys
	return c
}

func (m ContractMethod) signature() string {
	return m.Name + "(" + strings.Join(append([]string{"self"}, m.Params...), ", ") + ")"
}

// supportedLiteral reads the literal returned by supported_hyperparameters.
func (t *Tree) supportedLiteral(fd NodeID) ([]string, string) {
	for _, p := range t.NamedChildren(t.Field(fd, "parameters")) {
		k := t.Kind(p)
		if k == "identifier" || k == "typed_parameter" && t.Kind(t.Nodes[p].First) == "identifier" {
			return nil, "supported_hyperparameters() must take no arguments"
		}
	}
	var ret NodeID = NoNode
	stmts := t.NamedChildren(t.Field(fd, "body"))
	for i, st := range stmts {
		if i == 0 && t.isDocstring(st) {
			continue
		}
		if t.Kind(st) == "return_statement" {
			ret = st
			break
		}
		return nil, fmt.Sprintf("supported_hyperparameters() must only return a literal set or list of strings, found %s at line %d", t.Kind(st), t.Line(st))
	}
	if ret == NoNode {
		return nil, "supported_hyperparameters() returns nothing: return a literal set or list of strings, e.g. {'lr', 'momentum'}"
	}
	vals := t.NamedChildren(ret)
	if len(vals) != 1 {
		return nil, "supported_hyperparameters() must return a literal set or list of strings"
	}
	lit := vals[0]
	switch t.Kind(lit) {
	case "set", "list", "tuple":
	default:
		return nil, fmt.Sprintf("supported_hyperparameters() returns %s %q, not a literal set or list of strings", t.Kind(lit), clipText(t.Text(lit), 40))
	}
	var keys []string
	seen := map[string]bool{}
	for _, e := range t.NamedChildren(lit) {
		s, ok := t.stringLit(e)
		if !ok {
			return nil, fmt.Sprintf("supported_hyperparameters() returns %q among its names: every element must be a string literal", clipText(t.Text(e), 40))
		}
		if !seen[s] {
			seen[s] = true
			keys = append(keys, s)
		}
	}
	if len(keys) == 0 {
		return keys, "supported_hyperparameters() returns no names: return the prm keys the model reads, at least 'lr'"
	}
	return keys, ""
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// isDocstring reports whether a statement is a bare string expression.
func (t *Tree) isDocstring(st NodeID) bool {
	if t.Kind(st) != "expression_statement" {
		return false
	}
	cs := t.NamedChildren(st)
	if len(cs) != 1 {
		return false
	}
	k := t.Kind(cs[0])
	return k == "string" || k == "concatenated_string"
}

// hyperparameters finds the prm keys the code reads.
func (t *Tree) hyperparameters(c *Contract, classes map[string]*classInfo) HyperparameterUse {
	h := HyperparameterUse{Used: map[string]int{}, Subscripted: map[string]int{}}
	// Names that hold prm: the prm parameters of Net's methods, "prm"
	// anywhere (helpers take it by that name), then aliases to a fixpoint.
	holders := map[string]bool{"prm": true}
	if m, ok := c.Methods["__init__"]; ok && len(m.Params) > 3 {
		holders[m.Params[3]] = true
	}
	if m, ok := c.Methods["train_setup"]; ok && len(m.Params) > 1 {
		holders[m.Params[1]] = true
	}
	isHolder := func(id NodeID) bool {
		k := t.Kind(id)
		return (k == "identifier" || k == "attribute") && holders[t.compact(id)]
	}
	// String constants (KEY = 'lr') resolve literal keys given by name.
	consts := map[string]string{}
	for i := range t.Nodes {
		if t.Nodes[i].Kind != "assignment" {
			continue
		}
		l, r := t.Field(NodeID(i), "left"), t.Field(NodeID(i), "right")
		if t.Kind(l) == "identifier" {
			if s, ok := t.stringLit(r); ok {
				consts[t.Text(l)] = s
			}
		}
	}
	keyOf := func(id NodeID) (string, bool) {
		if s, ok := t.stringLit(id); ok {
			return s, true
		}
		if t.Kind(id) == "identifier" {
			s, ok := consts[t.Text(id)]
			return s, ok
		}
		return "", false
	}
	// Functions by name, so prm passed to a helper (make_optimizer(prm),
	// Block(prm)) makes the receiving parameter a holder too.
	type callee struct {
		fd     NodeID
		method bool
	}
	funcs := map[string][]callee{}
	for i := range t.Nodes {
		if t.Nodes[i].Kind == "function_definition" {
			fd := NodeID(i)
			inClass := t.Kind(t.Ancestor(fd, "class_definition", "function_definition")) == "class_definition"
			funcs[t.Text(t.Field(fd, "name"))] = append(funcs[t.Text(t.Field(fd, "name"))], callee{fd, inClass})
		}
	}
	for name, ci := range classes {
		if fd, ok := ci.defs["__init__"]; ok {
			funcs[name] = append(funcs[name], callee{fd, true})
		}
	}
	markParam := func(name string) bool {
		if name == "" || strings.HasPrefix(name, "*") || holders[name] {
			return false
		}
		holders[name] = true
		return true
	}
	for changed, round := true, 0; changed && round < 8; round++ {
		changed = false
		for i := range t.Nodes {
			if t.Nodes[i].Kind == "call" {
				fn := t.Field(NodeID(i), "function")
				name := t.Text(fn)
				if t.Kind(fn) == "attribute" {
					name = t.Text(t.Field(fn, "attribute"))
				}
				defs := funcs[name]
				if len(defs) == 0 {
					continue
				}
				for pos, a := range t.NamedChildren(t.Field(NodeID(i), "arguments")) {
					for _, d := range defs {
						m := t.method("", d.fd)
						if t.Kind(a) == "keyword_argument" {
							if t.isPrmCopy(t.Field(a, "value"), isHolder) {
								for _, p := range m.Params {
									if p == t.Text(t.Field(a, "name")) && markParam(p) {
										changed = true
									}
								}
							}
							continue
						}
						idx := pos
						if d.method {
							idx++ // self
						}
						if idx < len(m.Params) && t.isPrmCopy(a, isHolder) && markParam(m.Params[idx]) {
							changed = true
						}
					}
				}
				continue
			}
			if t.Nodes[i].Kind != "assignment" {
				continue
			}
			l, r := t.Field(NodeID(i), "left"), t.Field(NodeID(i), "right")
			if k := t.Kind(l); k != "identifier" && k != "attribute" {
				continue
			}
			if t.isPrmCopy(r, isHolder) && !holders[t.compact(l)] {
				holders[t.compact(l)] = true
				changed = true
			}
		}
	}
	use := func(key string, line int, subscript bool) {
		if _, ok := h.Used[key]; !ok {
			h.Used[key] = line
		}
		if _, ok := h.Subscripted[key]; subscript && !ok {
			h.Subscripted[key] = line
		}
	}
	for i := range t.Nodes {
		id := NodeID(i)
		n := &t.Nodes[i]
		switch n.Kind {
		case "subscript":
			if !t.isPrmCopy(t.Field(id, "value"), isHolder) {
				continue
			}
			key := t.Field(id, "subscript")
			if ks, ok := t.loopKeys(key); ok {
				// for k in ('lr', 'momentum'): prm[k]
				for _, k := range ks {
					use(k, int(n.Line), true)
				}
				continue
			}
			if s, ok := keyOf(key); ok {
				// A store (prm['lr'] = 0.1) is not a read, but it is rare and
				// then the key is read later anyway.
				use(s, int(n.Line), true)
			} else {
				h.Dynamic = append(h.Dynamic, int(n.Line))
			}
		case "call":
			fn := t.Field(id, "function")
			args := t.NamedChildren(t.Field(id, "arguments"))
			if t.Kind(fn) == "attribute" && t.isPrmCopy(t.Field(fn, "object"), isHolder) {
				switch t.Text(t.Field(fn, "attribute")) {
				case "get", "pop", "setdefault", "__getitem__":
					if len(args) > 0 {
						if s, ok := keyOf(args[0]); ok {
							use(s, int(n.Line), t.Text(t.Field(fn, "attribute")) == "__getitem__" || (len(args) == 1 && t.Text(t.Field(fn, "attribute")) == "pop"))
							continue
						}
					}
					h.Dynamic = append(h.Dynamic, int(n.Line))
				case "items", "values", "keys":
					h.Dynamic = append(h.Dynamic, int(n.Line))
				}
			}
			for _, a := range args {
				if t.Kind(a) == "dictionary_splat" && anyNamedChild(t, a, isHolder) {
					h.Dynamic = append(h.Dynamic, int(n.Line))
				}
			}
		case "for_statement", "for_in_clause":
			if r := t.Field(id, "right"); isHolder(r) {
				h.Dynamic = append(h.Dynamic, int(n.Line))
			}
		}
	}
	declared := map[string]bool{}
	for _, k := range c.Supported {
		declared[k] = true
		if _, ok := h.Used[k]; !ok {
			h.Unused = append(h.Unused, k)
		}
	}
	harness := map[string]bool{}
	for _, k := range HarnessKeys {
		harness[k] = true
	}
	for k := range h.Subscripted {
		if !declared[k] && !harness[k] && c.Supported != nil {
			h.Undeclared = append(h.Undeclared, k)
		}
	}
	sort.Strings(h.Undeclared)
	return h
}

func anyNamedChild(t *Tree, id NodeID, pred func(NodeID) bool) bool {
	for _, c := range t.NamedChildren(id) {
		if pred(c) {
			return true
		}
	}
	return false
}

// isPrmCopy reports whether an expression is prm itself or a copy of it:
// prm, dict(prm), prm.copy(), copy.copy(prm), copy.deepcopy(prm), {**prm}.
func (t *Tree) isPrmCopy(id NodeID, isHolder func(NodeID) bool) bool {
	switch t.Kind(id) {
	case "identifier", "attribute":
		return isHolder(id)
	case "call":
		fn := t.Field(id, "function")
		args := t.NamedChildren(t.Field(id, "arguments"))
		switch t.compact(fn) {
		case "dict", "copy.copy", "copy.deepcopy", "deepcopy", "copy", "OrderedDict", "collections.OrderedDict":
			return len(args) == 1 && isHolder(args[0])
		}
		if t.Kind(fn) == "attribute" && t.Text(t.Field(fn, "attribute")) == "copy" {
			return isHolder(t.Field(fn, "object"))
		}
	case "dictionary":
		cs := t.NamedChildren(id)
		return len(cs) == 1 && t.Kind(cs[0]) == "dictionary_splat" && anyNamedChild(t, cs[0], isHolder)
	}
	return false
}

// compact is the text of id with whitespace removed (self . prm -> self.prm).
func (t *Tree) compact(id NodeID) string {
	s := t.Text(id)
	if !strings.ContainsAny(s, " \t\n\\") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\\' }), "")
}

// loopKeys resolves a loop variable used as a prm key: when id is the
// target of an enclosing for loop or comprehension over a literal list,
// tuple or set of strings, it returns those strings.
func (t *Tree) loopKeys(id NodeID) ([]string, bool) {
	if t.Kind(id) != "identifier" {
		return nil, false
	}
	name := t.Text(id)
	for a := t.Nodes[id].Parent; a != NoNode; a = t.Nodes[a].Parent {
		var clause NodeID = NoNode
		switch t.Nodes[a].Kind {
		case "for_statement":
			clause = a
		case "list_comprehension", "generator_expression", "set_comprehension", "dictionary_comprehension":
			for _, c := range t.NamedChildren(a) {
				if t.Kind(c) == "for_in_clause" && t.Text(t.Field(c, "left")) == name {
					clause = c
				}
			}
		}
		if clause == NoNode || t.Text(t.Field(clause, "left")) != name {
			continue
		}
		lit := t.Field(clause, "right")
		switch t.Kind(lit) {
		case "list", "tuple", "set":
		default:
			return nil, false
		}
		var keys []string
		for _, e := range t.NamedChildren(lit) {
			s, ok := t.stringLit(e)
			if !ok {
				return nil, false
			}
			keys = append(keys, s)
		}
		return keys, true
	}
	return nil, false
}
