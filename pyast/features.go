package pyast

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Layer categories counted by Features.Layers, in vector order.
var LayerCategories = []string{
	"conv", "conv_transpose", "linear", "batchnorm", "layernorm", "groupnorm",
	"instancenorm", "dropout", "maxpool", "avgpool", "activation", "softmax",
	"attention", "transformer", "embedding", "recurrent", "upsample", "container",
}

// layerCategory maps a torch.nn class name to its category.
func layerCategory(name string) string {
	switch {
	case strings.HasPrefix(name, "ConvTranspose"), strings.HasPrefix(name, "LazyConvTranspose"):
		return "conv_transpose"
	case strings.HasPrefix(name, "Conv") && len(name) == 6, strings.HasPrefix(name, "LazyConv"):
		return "conv"
	case name == "Linear" || name == "LazyLinear" || name == "Bilinear":
		return "linear"
	case strings.Contains(name, "BatchNorm"):
		return "batchnorm"
	case name == "LayerNorm" || name == "RMSNorm":
		return "layernorm"
	case name == "GroupNorm":
		return "groupnorm"
	case strings.HasPrefix(name, "InstanceNorm"), strings.HasPrefix(name, "LazyInstanceNorm"), name == "LocalResponseNorm":
		return "instancenorm"
	case strings.Contains(name, "Dropout"):
		return "dropout"
	case strings.Contains(name, "MaxPool"):
		return "maxpool"
	case strings.Contains(name, "AvgPool"), strings.HasPrefix(name, "LPPool"):
		return "avgpool"
	case name == "Softmax" || name == "LogSoftmax" || name == "Softmax2d" || name == "Softmin":
		return "softmax"
	case name == "MultiheadAttention":
		return "attention"
	case name == "TransformerEncoder" || name == "TransformerDecoder":
		return "container" // clones of a layer counted separately
	case strings.HasPrefix(name, "Transformer"):
		return "transformer"
	case name == "Embedding" || name == "EmbeddingBag":
		return "embedding"
	case name == "LSTM" || name == "GRU" || name == "RNN" || name == "LSTMCell" || name == "GRUCell" || name == "RNNCell":
		return "recurrent"
	case strings.HasPrefix(name, "Upsampl"), name == "PixelShuffle", name == "PixelUnshuffle":
		return "upsample"
	case name == "Sequential" || name == "ModuleList" || name == "ModuleDict":
		return "container"
	}
	switch name {
	case "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "GELU", "SiLU", "Mish", "ELU", "SELU", "CELU",
		"Hardswish", "Hardsigmoid", "Sigmoid", "Tanh", "Softplus", "Softsign", "Tanhshrink", "Hardtanh",
		"GLU", "LogSigmoid", "Threshold", "Hardshrink", "Softshrink":
		return "activation"
	}
	return ""
}

// Structural families of Features.Family, in vector order.
const (
	FamilyResNet       = "resnet-like"
	FamilyVGG          = "vgg-like"
	FamilyMobileNet    = "mobilenet-like"
	FamilyDenseNet     = "densenet-like"
	FamilyTransformer  = "transformer-like"
	FamilyMultiBranch  = "multibranch" // inception- or squeezenet-like: parallel branches concatenated
	FamilyAttentionCNN = "attention-cnn"
	FamilyRNN          = "rnn"
	FamilyPlainCNN     = "plain-cnn"
	FamilyMLP          = "mlp"
	FamilyUnknown      = "unknown"
)

// Families lists the family labels in vector order.
var Families = []string{FamilyResNet, FamilyVGG, FamilyMobileNet, FamilyDenseNet, FamilyTransformer,
	FamilyMultiBranch, FamilyAttentionCNN, FamilyRNN, FamilyPlainCNN, FamilyMLP, FamilyUnknown}

// FeatureInput and FeatureClasses are what the feature estimates assume
// for in_shape and out_shape: a CIFAR-like batch and 10 classes.
var (
	FeatureInput   = []float64{1, 3, 32, 32}
	FeatureClasses = 10.0
)

// Features describe a model's architecture from its code alone, for
// predictors and similarity search. Counts come from symbolically running
// Net.__init__: loops over literal ranges and lists are unrolled, local
// classes and helper methods are followed with their arguments, so a block
// class used six times counts six times. What cannot be resolved counts
// once (Resolved says how much was).
type Features struct {
	Family string         `json:"family"`
	Layers map[string]int `json:"layers"` // per LayerCategories
	// Depth is the number of weight layers (conv, linear, attention,
	// transformer layers, recurrent) constructed.
	Depth        int     `json:"depth"`
	MaxChannels  float64 `json:"max_channels"`  // largest conv output width
	MeanChannels float64 `json:"mean_channels"` // mean conv output width
	MaxLinear    float64 `json:"max_linear"`    // largest linear output width
	MaxKernel    float64 `json:"max_kernel"`
	Downsamples  int     `json:"downsamples"` // stride >= 2 convolutions and pools
	// Params is the parameter count of the weight layers whose sizes
	// resolved to numbers; Resolved is the fraction of weight layers that did.
	Params    float64 `json:"params"`
	Resolved  float64 `json:"resolved"`
	Residual  bool    `json:"residual"`
	Attention bool    `json:"attention"`
	Norm      bool    `json:"norm"`
	Depthwise bool    `json:"depthwise"` // depthwise convolutions (groups = input channels)
	Concat    bool    `json:"concat"`    // torch.cat of branches in a forward
	Dense     bool    `json:"dense"`     // torch.cat including the block input
	Backbone  string  `json:"backbone,omitempty"`
	Classes   int     `json:"classes"`   // class definitions
	Functions int     `json:"functions"` // function and method definitions
	Lines     int     `json:"lines"`     // non-blank, non-comment lines
	Nodes     int     `json:"nodes"`     // syntax nodes
}

// FeatureNames are the names of Vector's values, in order; stable across
// releases except for additions at the end.
func FeatureNames() []string {
	names := make([]string, 0, 64)
	for _, c := range LayerCategories {
		names = append(names, "layers_"+c)
	}
	names = append(names, "depth", "max_channels", "mean_channels", "max_linear", "max_kernel",
		"downsamples", "log10_params", "resolved", "residual", "attention", "norm", "depthwise",
		"concat", "dense", "backbone", "classes", "functions", "lines", "log10_nodes")
	for _, f := range Families {
		names = append(names, "family_"+f)
	}
	return names
}

// Vector is the numeric form of f in FeatureNames order.
func (f *Features) Vector() []float64 {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	v := make([]float64, 0, 64)
	for _, c := range LayerCategories {
		v = append(v, float64(f.Layers[c]))
	}
	v = append(v, float64(f.Depth), f.MaxChannels, f.MeanChannels, f.MaxLinear, f.MaxKernel,
		float64(f.Downsamples), math.Log10(1+f.Params), f.Resolved, b(f.Residual), b(f.Attention), b(f.Norm),
		b(f.Depthwise), b(f.Concat), b(f.Dense), b(f.Backbone != ""), float64(f.Classes), float64(f.Functions),
		float64(f.Lines), math.Log10(1+float64(f.Nodes)))
	for _, fam := range Families {
		v = append(v, b(f.Family == fam))
	}
	return v
}

// fxVal is an abstract value of the symbolic run.
type fxVal struct {
	k   byte // 0 fxUnknown, 'n' number, 's' string, 'l' list, 'b' bool, 'c' local class, 'N' None
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

func (t *Tree) features(imp importScan, classes map[string]*classInfo) Features {
	f := Features{Layers: map[string]int{}}
	x := &fx{t: t, aliases: imp.aliases, classes: classes, funcs: map[string]NodeID{}, globals: map[string]fxVal{}, f: &f}
	for _, st := range t.NamedChildren(0) {
		def := t.unwrapDecorated(st)
		if t.Kind(def) == "function_definition" {
			x.funcs[t.Text(t.Field(def, "name"))] = def
		}
	}
	// Module-level constants first (WIDTH = 64).
	x.block(&fxFrame{env: x.globals, self: map[string]fxVal{}}, 0, true)
	if net, ok := classes["Net"]; ok {
		shape := make([]fxVal, len(FeatureInput))
		for i, v := range FeatureInput {
			shape[i] = fxNum(v)
		}
		inst := &fxFrame{env: map[string]fxVal{}, self: map[string]fxVal{}, cls: net}
		x.callMethod(inst, net, "__init__", []fxVal{fxList(shape), fxList([]fxVal{fxNum(FeatureClasses)}), fxUnknown, fxUnknown}, nil)
	}
	if x.weights == 0 && sumLayers(f.Layers) == 0 {
		// Nothing constructed through Net: count each constructor call once.
		for i := range t.Nodes {
			if t.Nodes[i].Kind == "call" {
				_, _ = x.layerCall(NodeID(i), t.qualName(t.Field(NodeID(i), "function"), imp.aliases), &fxArgs{kw: map[string]fxVal{}})
			}
		}
	}
	for _, c := range x.channels {
		f.MeanChannels += c
		f.MaxChannels = math.Max(f.MaxChannels, c)
	}
	if len(x.channels) > 0 {
		f.MeanChannels /= float64(len(x.channels))
	}
	if x.weights > 0 {
		f.Resolved = float64(x.resolved) / float64(x.weights)
	}
	f.Depth = f.Layers["conv"] + f.Layers["conv_transpose"] + f.Layers["linear"] + f.Layers["attention"] +
		f.Layers["transformer"] + f.Layers["recurrent"]
	f.Norm = f.Layers["batchnorm"]+f.Layers["layernorm"]+f.Layers["groupnorm"]+f.Layers["instancenorm"] > 0
	t.forwardTraits(&f, imp.aliases)
	for i := range t.Nodes {
		switch t.Nodes[i].Kind {
		case "class_definition":
			f.Classes++
		case "function_definition":
			f.Functions++
		}
	}
	f.Nodes = len(t.Nodes)
	f.Lines = codeLines(t)
	f.Family = familyOf(&f)
	return f
}

func sumLayers(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// codeLines counts lines that hold code (not blank, not only a comment).
func codeLines(t *Tree) int {
	n := 0
	for _, line := range strings.Split(string(t.Src), "\n") {
		s := strings.TrimSpace(line)
		if s != "" && !strings.HasPrefix(s, "#") {
			n++
		}
	}
	return n
}

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

// forwardTraits looks at the forward methods for residual additions,
// concatenations and hand-written attention.
func (t *Tree) forwardTraits(f *Features, aliases map[string]string) {
	if f.Layers["attention"]+f.Layers["transformer"] > 0 {
		f.Attention = true
	}
	for i := range t.Nodes {
		fd := NodeID(i)
		if t.Nodes[i].Kind != "function_definition" || t.Text(t.Field(fd, "name")) != "forward" {
			continue
		}
		m := t.method("", fd)
		if len(m.Params) < 2 {
			continue
		}
		input := m.Params[1]
		derived := map[string]bool{input: true}
		usesInput := func(id NodeID) bool {
			found := false
			t.Walk(id, func(c NodeID) bool {
				if t.Kind(c) == "identifier" && derived[t.Text(c)] && t.Nodes[c].Field != "attribute" {
					found = true
				}
				return !found
			})
			return found
		}
		isSkip := func(id NodeID) bool {
			switch t.Kind(id) {
			case "identifier":
				return derived[t.Text(id)]
			case "call":
				return usesInput(t.Field(id, "arguments"))
			}
			return false
		}
		softmax, matmul := false, false
		body := t.Field(fd, "body")
		from, to := t.Subtree(body)
		for c := from; c < to; c++ {
			switch t.Nodes[c].Kind {
			case "assignment":
				l, r := t.Field(c, "left"), t.Field(c, "right")
				if t.Kind(l) == "identifier" && t.Text(l) != input {
					switch t.Kind(r) {
					case "identifier":
						if derived[t.Text(r)] {
							derived[t.Text(l)] = true
						}
					case "call":
						if args := t.NamedChildren(t.Field(r, "arguments")); len(args) == 1 && t.Kind(args[0]) == "identifier" && t.Text(args[0]) == input {
							derived[t.Text(l)] = true
						}
					}
				}
			case "binary_operator":
				if t.Text(t.Field(c, "operator")) == "@" {
					matmul = true
				}
				if t.Text(t.Field(c, "operator")) != "+" {
					continue
				}
				l, r := t.Field(c, "left"), t.Field(c, "right")
				if isSkip(l) && t.Kind(r) != "attribute" && !fxIsLit(t, r) || isSkip(r) && t.Kind(l) != "attribute" && !fxIsLit(t, l) {
					if !(t.Kind(l) == "identifier" && t.Kind(r) == "identifier" && t.Text(l) == t.Text(r)) {
						f.Residual = true
					}
				}
			case "augmented_assignment":
				if t.Text(t.Field(c, "operator")) == "+=" {
					if r := t.Field(c, "right"); isSkip(r) && t.Kind(r) != "attribute" {
						f.Residual = true
					}
				}
			case "call":
				fn := t.Field(c, "function")
				q := t.qualName(fn, aliases)
				last := q
				if k := strings.LastIndexByte(q, '.'); k >= 0 {
					last = q[k+1:]
				}
				if t.Kind(fn) == "attribute" {
					last = t.Text(t.Field(fn, "attribute"))
				}
				switch last {
				case "softmax":
					softmax = true
				case "matmul", "bmm", "einsum", "baddbmm":
					matmul = true
				case "cat", "concat", "concatenate":
					if strings.HasPrefix(q, "torch.") {
						f.Concat = true
						if args := t.NamedChildren(t.Field(c, "arguments")); len(args) > 0 && usesInputDirect(t, args[0], input) {
							f.Dense = true
						}
					}
				case "add":
					if q == "torch.add" {
						args := t.NamedChildren(t.Field(c, "arguments"))
						if len(args) >= 2 && (isSkip(args[0]) || isSkip(args[1])) {
							f.Residual = true
						}
					}
				}
			}
		}
		if softmax && matmul {
			f.Attention = true
		}
	}
}

func fxIsLit(t *Tree, id NodeID) bool {
	switch t.Kind(id) {
	case "integer", "float", "string":
		return true
	}
	return false
}

// usesInputDirect reports whether a list/tuple argument of torch.cat holds
// the forward input as its first element (DenseNet's torch.cat([x, out], 1)).
func usesInputDirect(t *Tree, arg NodeID, input string) bool {
	switch t.Kind(arg) {
	case "list", "tuple":
		// DenseNet writes the input first: torch.cat([x, out], 1); a ViT's
		// class-token concat puts the token first.
		if es := t.NamedChildren(arg); len(es) > 1 {
			return t.Kind(es[0]) == "identifier" && t.Text(es[0]) == input
		}
	}
	return false
}

// family labels the architecture; the first matching rule wins.
func familyOf(f *Features) string {
	if bb := strings.ToLower(f.Backbone); bb != "" {
		switch {
		case strings.HasPrefix(bb, "resnet"), strings.HasPrefix(bb, "resnext"), strings.HasPrefix(bb, "wide_resnet"), strings.HasPrefix(bb, "regnet"):
			return FamilyResNet
		case strings.HasPrefix(bb, "vgg"), strings.HasPrefix(bb, "alexnet"):
			return FamilyVGG
		case strings.HasPrefix(bb, "mobilenet"), strings.HasPrefix(bb, "efficientnet"), strings.HasPrefix(bb, "mnasnet"), strings.HasPrefix(bb, "shufflenet"):
			return FamilyMobileNet
		case strings.HasPrefix(bb, "densenet"):
			return FamilyDenseNet
		case strings.HasPrefix(bb, "vit"), strings.HasPrefix(bb, "swin"), strings.HasPrefix(bb, "maxvit"):
			return FamilyTransformer
		case strings.HasPrefix(bb, "squeezenet"), strings.HasPrefix(bb, "inception"), strings.HasPrefix(bb, "googlenet"):
			return FamilyMultiBranch
		}
	}
	conv := f.Layers["conv"] + f.Layers["conv_transpose"]
	switch {
	case f.Attention && (f.Layers["layernorm"] > 0 || f.Layers["transformer"] > 0 || f.Layers["embedding"] > 0 || conv == 0):
		return FamilyTransformer
	case f.Layers["recurrent"] > 0:
		return FamilyRNN
	case f.Dense:
		return FamilyDenseNet
	case f.Depthwise:
		return FamilyMobileNet
	case f.Residual && conv > 0:
		return FamilyResNet
	case f.Concat && conv > 0:
		return FamilyMultiBranch
	case f.Attention && conv > 0:
		return FamilyAttentionCNN
	case conv >= 4 && f.MaxKernel <= 3 && f.Layers["maxpool"] >= 2:
		// Stacks of small convolutions between poolings (AlexNet's large
		// kernels make it a plain CNN).
		return FamilyVGG
	case conv > 0:
		return FamilyPlainCNN
	case f.Layers["linear"] > 0:
		return FamilyMLP
	}
	return FamilyUnknown
}

// sortedMapKeys returns m's keys in order.
func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// firstNamed is the first named child of id, or NoNode.
func (t *Tree) firstNamed(id NodeID) NodeID {
	if cs := t.NamedChildren(id); len(cs) > 0 {
		return cs[0]
	}
	return NoNode
}
