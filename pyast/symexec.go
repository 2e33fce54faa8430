package pyast

import (
	"math"
	"strconv"
	"strings"
)

// fxVal is an abstract value of the symbolic run.
type fxVal struct {
	k   byte // 0 unknown, 'n' number, 's' string, 'l' list, 'b' bool, 'N' None, 'c' a local class, 'o' its instance, 't' a tensor of n elements, 'L' a transformer layer of n parameters
	n   float64
	s   string
	l   *[]fxVal
	cls *classInfo
	obj map[string]fxVal // 'o': an instance of a local class, its self attributes
}

var fxUnknown = fxVal{}

func fxNum(f float64) fxVal { return fxVal{k: 'n', n: f} }

func fxList(vs []fxVal) fxVal { return fxVal{k: 'l', l: &vs} }

func (v fxVal) int() (int, bool) {
	if v.k == 'n' && v.n == math.Trunc(v.n) && math.Abs(v.n) < 1e12 {
		return int(v.n), true
	}
	if v.k == 'b' {
		return int(v.n), true
	}
	return 0, false
}

// fxFrame is one symbolic function call: its locals and its self.
type fxFrame struct {
	env  map[string]fxVal
	self map[string]fxVal
	cls  *classInfo
}

// fx symbolically runs a model's construction.
type fx struct {
	t        *Tree
	aliases  map[string]string
	classes  map[string]*classInfo
	funcs    map[string]NodeID
	globals  map[string]fxVal
	steps    int
	depth    int
	f        *Features
	channels []float64
	weights  int // weight layers seen
	resolved int // of which sized
}

const fxStepBudget = 60000

func (x *fx) callMethod(fr *fxFrame, ci *classInfo, name string, args []fxVal, kw map[string]fxVal) fxVal {
	if fd, owner, ok := x.lookupMethod(ci, name, 0); ok {
		inner := &fxFrame{env: map[string]fxVal{}, self: fr.self, cls: owner}
		return x.call(inner, fd, args, kw, true)
	}
	return fxUnknown
}

func (x *fx) lookupMethod(ci *classInfo, name string, depth int) (NodeID, *classInfo, bool) {
	if fd, ok := ci.defs[name]; ok {
		return fd, ci, true
	}
	if depth > 8 {
		return NoNode, nil, false
	}
	for _, b := range ci.bases {
		if p, ok := x.classes[x.t.Text(b)]; ok && p != ci {
			if fd, owner, ok := x.lookupMethod(p, name, depth+1); ok {
				return fd, owner, true
			}
		}
	}
	return NoNode, nil, false
}

// call binds args to fd's parameters in fr.env and runs its body.
func (x *fx) call(fr *fxFrame, fd NodeID, args []fxVal, kw map[string]fxVal, method bool) fxVal {
	if x.depth > 12 || x.steps > fxStepBudget {
		return fxUnknown
	}
	x.depth++
	defer func() { x.depth-- }()
	t := x.t
	i := 0
	if method {
		i = -1 // skip self
	}
	for _, p := range t.NamedChildren(t.Field(fd, "parameters")) {
		var name string
		var def NodeID = NoNode
		switch t.Kind(p) {
		case "identifier":
			name = t.Text(p)
		case "typed_parameter":
			name = t.Text(t.Nodes[p].First)
		case "default_parameter", "typed_default_parameter":
			name, def = t.Text(t.Field(p, "name")), t.Field(p, "value")
		default:
			continue
		}
		if i < 0 {
			i++
			continue
		}
		switch {
		case i < len(args):
			fr.env[name] = args[i]
		case kw != nil && kw[name].k != 0:
			fr.env[name] = kw[name]
		case def != NoNode:
			fr.env[name] = x.eval(fr, def)
		default:
			fr.env[name] = fxUnknown
		}
		i++
	}
	v, _ := x.block(fr, t.Field(fd, "body"), false)
	return v
}

// block runs statements; it returns the value of a return statement.
func (x *fx) block(fr *fxFrame, id NodeID, moduleLevel bool) (fxVal, bool) {
	t := x.t
	for _, st := range t.NamedChildren(id) {
		x.steps++
		if x.steps > fxStepBudget {
			return fxUnknown, true
		}
		switch t.Kind(st) {
		case "expression_statement":
			for _, e := range t.NamedChildren(st) {
				x.stmtExpr(fr, e)
			}
		case "return_statement":
			if moduleLevel {
				continue
			}
			cs := t.NamedChildren(st)
			if len(cs) == 1 {
				return x.eval(fr, cs[0]), true
			}
			return fxUnknown, true
		case "function_definition", "class_definition", "decorated_definition", "import_statement", "import_from_statement":
		case "if_statement":
			if moduleLevel {
				continue
			}
			if v, ret := x.ifStmt(fr, st); ret {
				return v, true
			}
		case "for_statement":
			if moduleLevel {
				continue
			}
			it := x.eval(fr, t.Field(st, "right"))
			body := t.Field(st, "body")
			left := t.Field(st, "left")
			if it.k == 'l' && len(*it.l) <= 256 {
				for _, e := range append([]fxVal(nil), (*it.l)...) {
					x.bind(fr, left, e)
					if v, ret := x.block(fr, body, false); ret {
						return v, true
					}
				}
			} else {
				x.bind(fr, left, fxUnknown)
				if v, ret := x.block(fr, body, false); ret {
					return v, true
				}
			}
		case "while_statement", "with_statement", "try_statement":
			if moduleLevel {
				continue
			}
			if v, ret := x.block(fr, t.Field(st, "body"), false); ret {
				return v, true
			}
		}
	}
	return fxUnknown, false
}

func (x *fx) ifStmt(fr *fxFrame, st NodeID) (fxVal, bool) {
	t := x.t
	c := x.eval(fr, t.Field(st, "condition"))
	if c.k == 0 || fxTruthy(c) {
		return x.block(fr, t.Field(st, "consequence"), false)
	}
	for _, alt := range t.NamedChildren(st) {
		switch t.Kind(alt) {
		case "elif_clause":
			c := x.eval(fr, t.Field(alt, "condition"))
			if c.k == 0 || fxTruthy(c) {
				return x.block(fr, t.Field(alt, "consequence"), false)
			}
		case "else_clause":
			return x.block(fr, t.Field(alt, "body"), false)
		}
	}
	return fxUnknown, false
}

func fxTruthy(v fxVal) bool {
	switch v.k {
	case 'n', 'b':
		return v.n != 0
	case 's':
		return v.s != ""
	case 'l':
		return len(*v.l) > 0
	case 'N':
		return false
	}
	return true
}

func (x *fx) stmtExpr(fr *fxFrame, e NodeID) {
	t := x.t
	switch t.Kind(e) {
	case "assignment":
		r := t.Field(e, "right")
		if r == NoNode {
			return
		}
		x.bind(fr, t.Field(e, "left"), x.eval(fr, r))
	case "augmented_assignment":
		l := t.Field(e, "left")
		r := x.eval(fr, t.Field(e, "right"))
		op := t.Text(t.Field(e, "operator"))
		cur := x.eval(fr, l)
		x.bind(fr, l, fxBinop(strings.TrimSuffix(op, "="), cur, r))
	default:
		x.eval(fr, e)
	}
}

func (x *fx) bind(fr *fxFrame, target NodeID, v fxVal) {
	t := x.t
	switch t.Kind(target) {
	case "identifier":
		fr.env[t.Text(target)] = v
	case "attribute":
		if t.Text(t.Field(target, "object")) == "self" {
			fr.self[t.Text(t.Field(target, "attribute"))] = v
		}
	case "pattern_list", "tuple_pattern", "list_pattern", "tuple", "list":
		cs := t.NamedChildren(target)
		for i, c := range cs {
			if v.k == 'l' && len(*v.l) == len(cs) {
				x.bind(fr, c, (*v.l)[i])
			} else {
				x.bind(fr, c, fxUnknown)
			}
		}
	}
}

func (x *fx) lookup(fr *fxFrame, name string) fxVal {
	if v, ok := fr.env[name]; ok {
		return v
	}
	if v, ok := x.globals[name]; ok {
		return v
	}
	if ci, ok := x.classes[name]; ok {
		return fxVal{k: 'c', cls: ci}
	}
	switch name {
	case "True":
		return fxVal{k: 'b', n: 1}
	case "False":
		return fxVal{k: 'b'}
	case "None":
		return fxVal{k: 'N'}
	}
	return fxUnknown
}

func (x *fx) eval(fr *fxFrame, id NodeID) fxVal {
	t := x.t
	x.steps++
	if id == NoNode || x.steps > fxStepBudget {
		return fxUnknown
	}
	switch t.Kind(id) {
	case "integer", "float":
		return fxParseNum(t.Text(id))
	case "true":
		return fxVal{k: 'b', n: 1}
	case "false":
		return fxVal{k: 'b'}
	case "none":
		return fxVal{k: 'N'}
	case "string", "concatenated_string":
		if s, ok := t.stringLit(id); ok {
			return fxVal{k: 's', s: s}
		}
		return fxUnknown
	case "identifier":
		return x.lookup(fr, t.Text(id))
	case "parenthesized_expression":
		cs := t.NamedChildren(id)
		if len(cs) == 1 {
			return x.eval(fr, cs[0])
		}
	case "attribute":
		obj := t.Field(id, "object")
		attr := t.Text(t.Field(id, "attribute"))
		if t.Text(obj) == "self" {
			if v, ok := fr.self[attr]; ok {
				return v
			}
			return fxUnknown
		}
		o := x.eval(fr, obj)
		switch o.k {
		case 'c':
			return x.classAttr(o.cls, attr)
		case 'o':
			if v, ok := o.obj[attr]; ok {
				return v
			}
			return x.classAttr(o.cls, attr)
		}
	case "subscript":
		v := x.eval(fr, t.Field(id, "value"))
		i := x.eval(fr, t.Field(id, "subscript"))
		if k, ok := i.int(); ok && v.k == 'l' {
			l := *v.l
			if k < 0 {
				k += len(l)
			}
			if k >= 0 && k < len(l) {
				return l[k]
			}
		}
	case "unary_operator":
		v := x.eval(fr, t.Field(id, "argument"))
		if v.k == 'n' {
			switch t.Text(t.Field(id, "operator")) {
			case "-":
				return fxNum(-v.n)
			case "+":
				return v
			}
		}
	case "binary_operator":
		return fxBinop(t.Text(t.Field(id, "operator")), x.eval(fr, t.Field(id, "left")), x.eval(fr, t.Field(id, "right")))
	case "comparison_operator":
		return x.compare(fr, id)
	case "boolean_operator":
		l := x.eval(fr, t.Field(id, "left"))
		r := x.eval(fr, t.Field(id, "right"))
		op := t.Text(t.Field(id, "operator"))
		if l.k == 0 {
			return fxUnknown
		}
		if op == "and" {
			if !fxTruthy(l) {
				return l
			}
			return r
		}
		if fxTruthy(l) {
			return l
		}
		return r
	case "not_operator":
		v := x.eval(fr, t.Field(id, "argument"))
		if v.k == 0 {
			return fxUnknown
		}
		if fxTruthy(v) {
			return fxVal{k: 'b'}
		}
		return fxVal{k: 'b', n: 1}
	case "conditional_expression":
		cs := t.NamedChildren(id)
		if len(cs) == 3 {
			c := x.eval(fr, cs[1])
			if c.k != 0 && !fxTruthy(c) {
				return x.eval(fr, cs[2])
			}
			return x.eval(fr, cs[0])
		}
	case "list", "tuple", "set", "expression_list":
		var out []fxVal
		for _, c := range t.NamedChildren(id) {
			if t.Kind(c) == "list_splat" {
				v := x.eval(fr, t.firstNamed(c))
				if v.k == 'l' {
					out = append(out, *v.l...)
					continue
				}
				return fxUnknown
			}
			out = append(out, x.eval(fr, c))
		}
		return fxList(out)
	case "list_comprehension", "generator_expression", "set_comprehension":
		return x.comprehension(fr, id)
	case "dictionary", "dictionary_comprehension", "lambda":
		for _, c := range t.NamedChildren(id) {
			if t.Kind(c) == "pair" {
				x.eval(fr, t.Field(c, "value"))
			}
		}
	case "call":
		return x.callExpr(fr, id)
	}
	return fxUnknown
}

func (x *fx) classAttr(ci *classInfo, name string) fxVal {
	for _, st := range x.t.NamedChildren(x.t.Field(ci.id, "body")) {
		if x.t.Kind(st) != "expression_statement" {
			continue
		}
		for _, a := range x.t.NamedChildren(st) {
			if x.t.Kind(a) == "assignment" && x.t.Text(x.t.Field(a, "left")) == name {
				return x.eval(&fxFrame{env: map[string]fxVal{}, self: map[string]fxVal{}}, x.t.Field(a, "right"))
			}
		}
	}
	return fxUnknown
}

func (x *fx) compare(fr *fxFrame, id NodeID) fxVal {
	t := x.t
	cs := t.NamedChildren(id)
	var ops []string
	for c := t.Nodes[id].First; c != NoNode; c = t.Nodes[c].Next {
		if !t.Nodes[c].Named {
			ops = append(ops, t.Text(c))
		}
	}
	if len(cs) != 2 || len(ops) != 1 {
		return fxUnknown
	}
	l, r := x.eval(fr, cs[0]), x.eval(fr, cs[1])
	if l.k != 0 && r.k != 0 && (l.k == 's') != (r.k == 's') {
		// A string never equals a number ('M' == 64 in VGG configs).
		switch ops[0] {
		case "==":
			return fxBool(false)
		case "!=":
			return fxBool(true)
		}
	}
	if l.k != 'n' && l.k != 'b' || r.k != 'n' && r.k != 'b' {
		if l.k == 's' && r.k == 's' {
			switch ops[0] {
			case "==":
				return fxBool(l.s == r.s)
			case "!=":
				return fxBool(l.s != r.s)
			}
		}
		return fxUnknown
	}
	switch ops[0] {
	case "==":
		return fxBool(l.n == r.n)
	case "!=":
		return fxBool(l.n != r.n)
	case "<":
		return fxBool(l.n < r.n)
	case "<=":
		return fxBool(l.n <= r.n)
	case ">":
		return fxBool(l.n > r.n)
	case ">=":
		return fxBool(l.n >= r.n)
	}
	return fxUnknown
}

func fxBool(b bool) fxVal {
	if b {
		return fxVal{k: 'b', n: 1}
	}
	return fxVal{k: 'b'}
}

func fxParseNum(s string) fxVal {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	var f float64
	var err error
	switch {
	case strings.HasPrefix(s, "0x"), strings.HasPrefix(s, "0o"), strings.HasPrefix(s, "0b"):
		return fxUnknown
	case strings.HasSuffix(s, "j"):
		return fxUnknown
	default:
		f, err = strconv.ParseFloat(s, 64)
	}
	if err != nil {
		return fxUnknown
	}
	return fxNum(f)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func fxBinop(op string, l, r fxVal) fxVal {
	if l.k == 'b' {
		l.k = 'n'
	}
	if r.k == 'b' {
		r.k = 'n'
	}
	if l.k == 't' && r.k == 'n' || l.k == 'n' && r.k == 't' {
		// torch.randn(...) * 0.02 keeps its shape.
		return fxVal{k: 't', n: math.Max(l.n*b2f(l.k == 't'), r.n*b2f(r.k == 't'))}
	}
	if l.k == 'n' && r.k == 'n' {
		switch op {
		case "+":
			return fxNum(l.n + r.n)
		case "-":
			return fxNum(l.n - r.n)
		case "*":
			return fxNum(l.n * r.n)
		case "/":
			if r.n != 0 {
				return fxNum(l.n / r.n)
			}
		case "//":
			if r.n != 0 {
				return fxNum(math.Floor(l.n / r.n))
			}
		case "%":
			if r.n != 0 {
				return fxNum(math.Mod(l.n, r.n))
			}
		case "**":
			if p := math.Pow(l.n, r.n); !math.IsInf(p, 0) && !math.IsNaN(p) {
				return fxNum(p)
			}
		}
		return fxUnknown
	}
	if op == "+" && l.k == 'l' && r.k == 'l' {
		return fxList(append(append([]fxVal(nil), *l.l...), *r.l...))
	}
	if op == "*" && (l.k == 'l' && r.k == 'n' || l.k == 'n' && r.k == 'l') {
		if l.k == 'n' {
			l, r = r, l
		}
		n, ok := r.int()
		if !ok || n < 0 || n*len(*l.l) > 4096 {
			return fxUnknown
		}
		var out []fxVal
		for i := 0; i < n; i++ {
			out = append(out, *l.l...)
		}
		return fxList(out)
	}
	return fxUnknown
}

func (x *fx) comprehension(fr *fxFrame, id NodeID) fxVal {
	t := x.t
	body := t.Field(id, "body")
	var clause NodeID = NoNode
	for _, c := range t.NamedChildren(id) {
		if t.Kind(c) == "for_in_clause" {
			clause = c
			break
		}
	}
	if clause == NoNode {
		return fxUnknown
	}
	it := x.eval(fr, t.Field(clause, "right"))
	inner := &fxFrame{env: map[string]fxVal{}, self: fr.self, cls: fr.cls}
	for k, v := range fr.env {
		inner.env[k] = v
	}
	left := t.Field(clause, "left")
	if it.k != 'l' || len(*it.l) > 256 {
		x.bind(inner, left, fxUnknown)
		x.eval(inner, body)
		return fxUnknown
	}
	var out []fxVal
	for _, e := range *it.l {
		x.bind(inner, left, e)
		out = append(out, x.eval(inner, body))
	}
	return fxList(out)
}

// callExpr evaluates a call: torch.nn layers are recorded, local classes
// and functions are run, a few builtins are computed, the rest is fxUnknown
// (after evaluating its arguments, which may construct layers).
func (x *fx) callExpr(fr *fxFrame, id NodeID) fxVal {
	t := x.t
	fn := t.Field(id, "function")
	var args []fxVal
	kw := map[string]fxVal{}
	for _, a := range t.NamedChildren(t.Field(id, "arguments")) {
		switch t.Kind(a) {
		case "keyword_argument":
			kw[t.Text(t.Field(a, "name"))] = x.eval(fr, t.Field(a, "value"))
		case "list_splat":
			v := x.eval(fr, t.firstNamed(a))
			if v.k == 'l' {
				args = append(args, *v.l...)
			} else {
				args = append(args, fxUnknown)
			}
		case "dictionary_splat":
			x.eval(fr, t.firstNamed(a))
		default:
			args = append(args, x.eval(fr, a))
		}
	}
	q := t.qualName(fn, x.aliases)
	if v, ok := x.layerCall(id, q, &fxArgs{pos: args, kw: kw}); ok {
		return v
	}
	switch t.Kind(fn) {
	case "identifier":
		name := t.Text(fn)
		if _, local := fr.env[name]; local {
			return fxUnknown
		}
		if ci, ok := x.classes[name]; ok {
			inst := &fxFrame{env: map[string]fxVal{}, self: map[string]fxVal{}, cls: ci}
			x.callMethod(inst, ci, "__init__", args, kw)
			return fxVal{k: 'o', cls: ci, obj: inst.self}
		}
		if fd, ok := x.funcs[name]; ok {
			return x.call(&fxFrame{env: map[string]fxVal{}, self: map[string]fxVal{}}, fd, args, kw, false)
		}
		return fxBuiltin(name, args)
	case "attribute":
		obj := t.Field(fn, "object")
		attr := t.Text(t.Field(fn, "attribute"))
		if t.Text(obj) == "self" && fr.cls != nil {
			return x.callMethod(fr, fr.cls, attr, args, kw)
		}
		if attr == "__init__" && t.Kind(obj) == "call" && t.Text(t.Field(obj, "function")) == "super" && fr.cls != nil {
			for _, b := range fr.cls.bases {
				if p, ok := x.classes[t.Text(b)]; ok && p != fr.cls {
					return x.callMethod(fr, p, "__init__", args, kw)
				}
			}
			return fxUnknown
		}
		switch attr {
		case "append", "extend", "insert":
			target := x.eval(fr, obj)
			if target.k == 'l' && len(*target.l) < 4096 {
				switch {
				case attr == "append" && len(args) == 1:
					*target.l = append(*target.l, args[0])
				case attr == "extend" && len(args) == 1 && args[0].k == 'l':
					*target.l = append(*target.l, *args[0].l...)
				case attr == "insert" && len(args) == 2:
					*target.l = append(*target.l, args[1])
				}
			}
			return fxUnknown
		}
		switch q {
		case "torch.zeros", "torch.ones", "torch.randn", "torch.rand", "torch.empty", "torch.full":
			// A tensor: its element count, for nn.Parameter(torch.zeros(...)).
			shape := args
			if q == "torch.full" && len(args) > 0 {
				shape = args[:1]
			}
			if len(shape) == 1 && shape[0].k == 'l' {
				shape = *shape[0].l
			}
			p := 1.0
			for _, d := range shape {
				if d.k != 'n' {
					return fxUnknown
				}
				p *= d.n
			}
			return fxVal{k: 't', n: p}
		case "math.ceil":
			if len(args) == 1 && args[0].k == 'n' {
				return fxNum(math.Ceil(args[0].n))
			}
		case "math.floor":
			if len(args) == 1 && args[0].k == 'n' {
				return fxNum(math.Floor(args[0].n))
			}
		case "math.sqrt":
			if len(args) == 1 && args[0].k == 'n' && args[0].n >= 0 {
				return fxNum(math.Sqrt(args[0].n))
			}
		}
	}
	return fxUnknown
}

func fxBuiltin(name string, args []fxVal) fxVal {
	switch name {
	case "range":
		var lo, hi, step = 0, 0, 1
		ints := make([]int, len(args))
		for i, a := range args {
			n, ok := a.int()
			if !ok {
				return fxUnknown
			}
			ints[i] = n
		}
		switch len(ints) {
		case 1:
			hi = ints[0]
		case 2:
			lo, hi = ints[0], ints[1]
		case 3:
			lo, hi, step = ints[0], ints[1], ints[2]
		default:
			return fxUnknown
		}
		if step == 0 || (hi-lo)/step > 4096 {
			return fxUnknown
		}
		var out []fxVal
		for i := lo; (step > 0 && i < hi) || (step < 0 && i > hi); i += step {
			out = append(out, fxNum(float64(i)))
		}
		return fxList(out)
	case "len":
		if len(args) == 1 && args[0].k == 'l' {
			return fxNum(float64(len(*args[0].l)))
		}
	case "int":
		if len(args) == 1 && args[0].k == 'n' {
			return fxNum(math.Trunc(args[0].n))
		}
	case "float":
		if len(args) == 1 && args[0].k == 'n' {
			return args[0]
		}
	case "round":
		if len(args) == 1 && args[0].k == 'n' {
			return fxNum(math.RoundToEven(args[0].n))
		}
	case "list", "tuple":
		if len(args) == 1 && args[0].k == 'l' {
			return fxList(append([]fxVal(nil), *args[0].l...))
		}
	case "max", "min", "sum":
		vals := args
		if len(args) == 1 && args[0].k == 'l' {
			vals = *args[0].l
		}
		if len(vals) == 0 {
			return fxUnknown
		}
		acc := 0.0
		for i, v := range vals {
			if v.k != 'n' {
				return fxUnknown
			}
			switch {
			case name == "sum":
				acc += v.n
			case i == 0:
				acc = v.n
			case name == "max":
				acc = math.Max(acc, v.n)
			default:
				acc = math.Min(acc, v.n)
			}
		}
		return fxNum(acc)
	}
	return fxUnknown
}

type fxArgs struct {
	pos []fxVal
	kw  map[string]fxVal
}

// arg returns the i-th positional argument or the keyword name.
func (a *fxArgs) arg(i int, name string) fxVal {
	if a == nil {
		return fxUnknown
	}
	if i >= 0 && i < len(a.pos) {
		return a.pos[i]
	}
	return a.kw[name]
}

func fxProd(v fxVal) (float64, bool) {
	switch v.k {
	case 'n':
		return v.n, true
	case 'l':
		p := 1.0
		for _, e := range *v.l {
			if e.k != 'n' {
				return 0, false
			}
			p *= e.n
		}
		return p, true
	}
	return 0, false
}

// layerCall records a torch.nn constructor call (q is its qualified name);
// it returns false when q is not one. The value is a sized transformer
// layer ('L', its parameter count), for TransformerEncoder's clones.
func (x *fx) layerCall(id NodeID, q string, a *fxArgs) (fxVal, bool) {
	name, ok := strings.CutPrefix(q, "torch.nn.")
	if !ok || strings.Contains(name, ".") {
		if strings.HasPrefix(q, "torchvision.models.") && x.f.Backbone == "" {
			x.f.Backbone = strings.TrimPrefix(q, "torchvision.models.")
		}
		return fxUnknown, false
	}
	if name == "Parameter" {
		if v := a.arg(0, "data"); v.k == 't' {
			x.f.Params += v.n
		}
		return fxUnknown, true
	}
	cat := layerCategory(name)
	if cat == "" {
		return fxUnknown, false
	}
	if name == "TransformerEncoder" || name == "TransformerDecoder" {
		// The model holds num_layers deep copies of the template layer,
		// which was counted once when it was constructed.
		layer, n := a.arg(0, "encoder_layer"), a.arg(1, "num_layers")
		if name == "TransformerDecoder" {
			layer = a.arg(0, "decoder_layer")
		}
		x.f.Layers[cat]++
		if k, ok := n.int(); ok && k > 1 && k < 1000 {
			x.f.Layers["transformer"] += k - 1
			x.weights += k - 1
			if layer.k == 'L' {
				x.resolved += k - 1
				x.f.Params += float64(k-1) * layer.n
			}
		}
		return fxUnknown, true
	}
	f := x.f
	f.Layers[cat]++
	bias := 1.0
	if b := a.arg(-1, "bias"); b.k == 'b' && b.n == 0 {
		bias = 0
	}
	params, sized := 0.0, false
	weight := false
	switch cat {
	case "conv", "conv_transpose":
		weight = true
		in, out, k := a.arg(0, "in_channels"), a.arg(1, "out_channels"), a.arg(2, "kernel_size")
		dims := 2.0
		switch {
		case strings.HasSuffix(name, "1d"):
			dims = 1
		case strings.HasSuffix(name, "3d"):
			dims = 3
		}
		groups := a.arg(6, "groups")
		g := 1.0
		if groups.k == 'n' && groups.n > 0 {
			g = groups.n
			// Depthwise: one group per input channel (MobileNet); a few
			// groups (AlexNet's, ResNeXt's) are not.
			if g > 1 && (in.k != 'n' || g == in.n) {
				f.Depthwise = true
			}
		} else if groups.k == 0 && a != nil && a.kw["groups"].k == 0 && len(a.pos) <= 6 {
			if _, has := a.kw["groups"]; has {
				f.Depthwise = true // groups given but not resolvable: a depthwise conv by its channel count
			}
		}
		kk := 0.0
		if k.k == 'n' {
			kk = math.Pow(k.n, dims)
			f.MaxKernel = math.Max(f.MaxKernel, k.n)
		} else if p, ok := fxProd(k); ok {
			kk = p
			for _, e := range *k.l {
				f.MaxKernel = math.Max(f.MaxKernel, e.n)
			}
		}
		if out.k == 'n' {
			x.channels = append(x.channels, out.n)
		}
		if in.k == 'n' && out.k == 'n' && kk > 0 {
			params, sized = in.n/g*out.n*kk+bias*out.n, true
		}
		if s := a.arg(3, "stride"); s.k == 'n' && s.n >= 2 {
			f.Downsamples++
		} else if p, ok := fxProd(s); ok && s.k == 'l' && p >= 2 {
			f.Downsamples++
		}
	case "linear":
		weight = true
		in, out := a.arg(0, "in_features"), a.arg(1, "out_features")
		if out.k == 'n' {
			f.MaxLinear = math.Max(f.MaxLinear, out.n)
		}
		if name == "Linear" && in.k == 'n' && out.k == 'n' {
			params, sized = in.n*out.n+bias*out.n, true
		}
	case "batchnorm", "instancenorm":
		weight = true
		if c := a.arg(0, "num_features"); c.k == 'n' {
			params, sized = 2*c.n, true
		}
	case "groupnorm":
		weight = true
		if c := a.arg(1, "num_channels"); c.k == 'n' {
			params, sized = 2*c.n, true
		}
	case "layernorm":
		weight = true
		if p, ok := fxProd(a.arg(0, "normalized_shape")); ok {
			params, sized = 2*p, true
		}
	case "embedding":
		weight = true
		n, d := a.arg(0, "num_embeddings"), a.arg(1, "embedding_dim")
		if n.k == 'n' && d.k == 'n' {
			params, sized = n.n*d.n, true
		}
	case "attention":
		weight = true
		if d := a.arg(0, "embed_dim"); d.k == 'n' {
			params, sized = 4*d.n*d.n+4*d.n, true
		}
	case "transformer":
		weight = true
		if strings.HasSuffix(name, "Layer") {
			d, ff := a.arg(0, "d_model"), a.arg(2, "dim_feedforward")
			if ff.k == 0 && a.kw["dim_feedforward"].k == 0 && len(a.pos) < 3 {
				ff = fxNum(2048)
			}
			if d.k == 'n' && ff.k == 'n' {
				// self-attention, feed-forward and two LayerNorms; a
				// decoder layer adds cross-attention and a third norm.
				attn, norms := 4*d.n*d.n+4*d.n, 4*d.n
				if strings.Contains(name, "Decoder") {
					attn, norms = 2*attn, 6*d.n
				}
				params, sized = attn+2*d.n*ff.n+d.n+ff.n+norms, true
			}
		}
	case "recurrent":
		weight = true
		in, h := a.arg(0, "input_size"), a.arg(1, "hidden_size")
		layers := a.arg(2, "num_layers")
		if layers.k != 'n' {
			layers = fxNum(1)
		}
		gates := 1.0
		switch {
		case strings.HasPrefix(name, "LSTM"):
			gates = 4
		case strings.HasPrefix(name, "GRU"):
			gates = 3
		}
		if in.k == 'n' && h.k == 'n' {
			first := gates * (in.n*h.n + h.n*h.n + 2*h.n)
			rest := gates * (2*h.n*h.n + 2*h.n) * (layers.n - 1)
			params, sized = first+rest, true
		}
	case "maxpool", "avgpool":
		if !strings.HasPrefix(name, "Adaptive") {
			k, s := a.arg(0, "kernel_size"), a.arg(1, "stride")
			if s.k == 'n' && s.n >= 2 || s.k == 0 && (a == nil || a.kw["stride"].k == 0) && k.k == 'n' && k.n >= 2 {
				f.Downsamples++
			}
		}
	}
	if weight {
		x.weights++
		if sized {
			x.resolved++
			f.Params += params
			if cat == "transformer" {
				return fxVal{k: 'L', n: params}, true
			}
		}
	}
	return fxUnknown, true
}

// firstNamed is the first named child of id, or NoNode.
func (t *Tree) firstNamed(id NodeID) NodeID {
	if cs := t.NamedChildren(id); len(cs) > 0 {
		return cs[0]
	}
	return NoNode
}
