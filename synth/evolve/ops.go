package evolve

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/pyast"
)

// mutation changes one model; it returns the new code and a short detail
// for the candidate's Operators, or errNotApplicable.
type mutation func(m *model, rng *rand.Rand) (code, detail string, err error)

func mutations() map[string]mutation {
	return map[string]mutation{
		OpActivation: mutateActivation,
		OpKernel:     mutateKernel,
		OpWidth:      mutateWidth,
		OpWidthAll:   mutateWidthAll,
		OpDropout:    mutateDropout,
		OpBatchNorm:  mutateBatchNorm,
		OpConv:       mutateConv,
		OpResidual:   mutateResidual,
		OpPool:       mutatePool,
	}
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// ---------------------------------------------------------------- activation

// Replacements never pass inplace=True: an in-place activation after an op
// that saved its output for backward (sigmoid, a residual sum) breaks
// autograd, and the parent's placement of inplace says nothing about the
// new spot.
var activationCtors = map[string]string{
	"ReLU": "ReLU()", "ReLU6": "ReLU6()", "GELU": "GELU()", "SiLU": "SiLU()", "ELU": "ELU()",
	"LeakyReLU": "LeakyReLU(0.1)", "Hardswish": "Hardswish()", "Mish": "Mish()", "CELU": "CELU()", "SELU": "SELU()",
}
var activationTargets = []string{"ReLU", "GELU", "SiLU", "LeakyReLU", "ELU", "Hardswish", "Mish", "ReLU6"}

// functional activations torch 1.13 has under torch.nn.functional.
var functionalActs = map[string]bool{"relu": true, "relu6": true, "gelu": true, "silu": true, "elu": true, "leaky_relu": true, "hardswish": true, "mish": true, "celu": true, "selu": true}
var functionalTargets = []string{"relu", "gelu", "silu", "elu", "hardswish", "mish", "leaky_relu"}

func mutateActivation(m *model, rng *rand.Rand) (string, string, error) {
	type site struct {
		c          pyast.Call
		name       string
		functional bool
	}
	var sites []site
	for _, c := range m.f.Calls(m.f.Root(), nil) {
		if l := layer(c); activations[l] {
			sites = append(sites, site{c, l, false})
			continue
		}
		if fn := pyast.Functional(c.Callee); functionalActs[fn] && !c.Splat {
			// torch.relu is torch's own op; only rewrite spellings whose
			// module has every target (F. and torch.nn.functional.) or
			// torch.relu/torch.selu (rewritten to torch.nn.functional.).
			if _, ok := c.Arg(0, "input"); ok {
				sites = append(sites, site{c, fn, true})
			}
		}
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	s := pick(rng, sites)
	all := rng.IntN(2) == 0
	var edits []pyast.Edit
	var to string
	if s.functional {
		to = pick(rng, functionalTargets)
		if to == s.name {
			return "", "", errNotApplicable
		}
		for _, o := range sites {
			if !o.functional || o.name != s.name || (!all && o.c.Node != s.c.Node) {
				continue
			}
			prefix := "torch.nn.functional."
			if strings.HasPrefix(o.c.Callee, "F.") {
				prefix = "F."
			}
			arg, _ := o.c.Arg(0, "input")
			edits = append(edits, pyast.Replace(o.c.Node, prefix+to+"("+m.text(arg.Value)+")"))
		}
	} else {
		to = pick(rng, activationTargets)
		if to == s.name {
			return "", "", errNotApplicable
		}
		for _, o := range sites {
			if o.functional || o.name != s.name || (!all && o.c.Node != s.c.Node) {
				continue
			}
			prefix := strings.TrimSuffix(o.c.Callee, o.name)
			edits = append(edits, pyast.Replace(o.c.Node, prefix+activationCtors[to]))
		}
	}
	code, err := m.apply(edits...)
	scope := "one"
	if all && len(edits) > 1 {
		scope = "all"
	}
	return code, fmt.Sprintf("%s %s->%s (%d)", scope, s.name, to, len(edits)), err
}

// ---------------------------------------------------------------- kernel

func mutateKernel(m *model, rng *rand.Rand) (string, string, error) {
	type site struct {
		c  pyast.Call
		cv conv
	}
	var sites []site
	for _, c := range m.f.Calls(m.f.Root(), func(s string) bool { return pyast.TorchLayer(s) == "Conv2d" }) {
		cv, ok := m.conv(elem{isCall: true, call: c, layer: "Conv2d"})
		if !ok || !cv.samePadded() {
			continue
		}
		if _, ok := c.Arg(2, "kernel_size"); !ok {
			continue
		}
		sites = append(sites, site{c, cv})
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	s := pick(rng, sites)
	choices := []int{1, 3, 5, 7}
	if s.cv.stride > 1 {
		choices = []int{3, 5} // a strided 1x1 skips pixels; keep downsampling convs spatial
	}
	choices = slices.DeleteFunc(choices, func(k int) bool { return k == s.cv.kernel })
	k := pick(rng, choices)
	ka, _ := s.c.Arg(2, "kernel_size")
	edits := []pyast.Edit{pyast.Replace(ka.Value, strconv.Itoa(k))}
	if pa, ok := s.c.Arg(4, "padding"); ok {
		edits = append(edits, pyast.Replace(pa.Value, strconv.Itoa(k/2)))
	} else if k/2 != 0 {
		last := s.c.Args[len(s.c.Args)-1].Node
		edits = append(edits, pyast.InsertAt(last.EndByte(), ", padding="+strconv.Itoa(k/2)))
	}
	code, err := m.apply(edits...)
	return code, fmt.Sprintf("conv@%d %d->%d", s.c.Node.StartPosition().Row+1, s.cv.kernel, k), err
}

// ---------------------------------------------------------------- widths

// newWidth scales a width by a random factor, keeping it a multiple of 8
// (of 4 for small ones) so group counts and attention heads still divide it.
func newWidth(rng *rand.Rand, v int) int {
	factors := []float64{0.5, 0.75, 1.25, 1.5, 2}
	for range 8 {
		f := pick(rng, factors)
		step := 8
		if v%8 != 0 {
			step = 4
			if v%4 != 0 {
				step = 1
			}
		}
		w := int(float64(v)*f/float64(step)+0.5) * step
		w = max(w, 8)
		w = min(w, 512)
		if w != v {
			return w
		}
	}
	return v
}

// mutateWidth changes the width between two consecutive layers of one
// sequence (conv->conv or linear->linear with only BN, activations,
// dropout and pooling between): the width never leaves the sequence, so
// the change is shape-safe.
func mutateWidth(m *model, rng *rand.Rand) (string, string, error) {
	type site struct {
		edits []*pyast.Node
		v     int
	}
	var sites []site
	for _, s := range m.seqs() {
		for i, e := range s.elems {
			var outArg pyast.Arg
			var kind string
			if cv, ok := m.conv(e); ok && !cv.grouped {
				outArg, kind = cv.out, "Conv2d"
			} else if e.isCall && e.layer == "Linear" {
				a, ok := e.call.Arg(1, "out_features")
				if !ok {
					continue
				}
				outArg, kind = a, "Linear"
			} else {
				continue
			}
			v, ok := m.f.IntLiteral(outArg.Value)
			if !ok || v < 4 {
				continue
			}
			nodes := []*pyast.Node{outArg.Value}
			for j := i + 1; j < len(s.elems); j++ {
				n := s.elems[j]
				if a, ok := bnArg(n); ok && kind == "Conv2d" {
					if w, ok := m.f.IntLiteral(a.Value); !ok || w != v {
						break
					}
					nodes = append(nodes, a.Value)
					continue
				}
				if n.isCall && (isPassthrough(n.layer) || (kind == "Conv2d" && (n.layer == "MaxPool2d" || n.layer == "AvgPool2d"))) {
					continue
				}
				var inArg pyast.Arg
				if cv, ok := m.conv(n); ok && kind == "Conv2d" && !cv.grouped {
					inArg = cv.in
				} else if n.isCall && n.layer == "Linear" && kind == "Linear" {
					inArg, ok = n.call.Arg(0, "in_features")
					if !ok {
						break
					}
				} else {
					break
				}
				if w, ok := m.f.IntLiteral(inArg.Value); ok && w == v {
					sites = append(sites, site{append(nodes, inArg.Value), v})
				}
				break
			}
		}
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	s := pick(rng, sites)
	w := newWidth(rng, s.v)
	if w == s.v {
		return "", "", errNotApplicable
	}
	var edits []pyast.Edit
	for _, n := range s.edits {
		edits = append(edits, pyast.Replace(n, strconv.Itoa(w)))
	}
	code, err := m.apply(edits...)
	return code, fmt.Sprintf("line %d %d->%d", s.edits[0].StartPosition().Row+1, s.v, w), err
}

// channelArgs are the (layer, position, keyword) arguments that hold a
// width.
var channelArgs = []struct {
	layer string
	pos   int
	kw    string
}{
	{"Conv2d", 0, "in_channels"}, {"Conv2d", 1, "out_channels"},
	{"BatchNorm2d", 0, "num_features"}, {"Linear", 0, "in_features"}, {"Linear", 1, "out_features"},
	{"LayerNorm", 0, "normalized_shape"}, {"TransformerEncoderLayer", 0, "d_model"},
	{"MultiheadAttention", 0, "embed_dim"}, {"GroupNorm", 1, "num_channels"},
}

// geometryArgs are arguments that are never widths: sizes of kernels,
// strides, paddings, dilations and head counts.
var geometryArgs = map[string]bool{"kernel_size": true, "stride": true, "padding": true, "dilation": true, "nhead": true, "num_heads": true, "num_groups": true, "output_size": true, "p": true}

// mutateWidthAll rewrites every occurrence of one width literal (at least
// 16) in the file, outside geometry arguments. Widths flow between layers
// and blocks through the same literal far more often than through code, so
// a consistent rewrite keeps the model consistent; the gate's dry run
// catches the files where a literal meant two things.
func mutateWidthAll(m *model, rng *rand.Rand) (string, string, error) {
	widths := map[int]bool{}
	named := m.intAssignments()
	for _, c := range m.f.Calls(m.f.Root(), nil) {
		l := layer(c)
		for _, ca := range channelArgs {
			if ca.layer != l {
				continue
			}
			a, ok := c.Arg(ca.pos, ca.kw)
			if !ok {
				continue
			}
			v, ok := m.f.IntLiteral(a.Value)
			if !ok && a.Value.Kind() == "identifier" {
				// dim = 64 ... nn.Linear(dim, classes): the literal is the width.
				v, ok = named[m.text(a.Value)]
			}
			if ok && v >= 16 {
				widths[v] = true
			}
		}
	}
	if len(widths) == 0 {
		return "", "", errNotApplicable
	}
	var ws []int
	for v := range widths {
		ws = append(ws, v)
	}
	slices.Sort(ws)
	v := pick(rng, ws)
	// Literals in geometry positions of conv and pool calls stay.
	skip := map[span]bool{}
	for _, c := range m.f.Calls(m.f.Root(), nil) {
		l := layer(c)
		if !strings.Contains(l, "Conv") && !strings.Contains(l, "Pool") {
			for _, a := range c.Args {
				if geometryArgs[a.Keyword] {
					skip[spanOf(a.Value)] = true
				}
			}
			continue
		}
		for i, a := range c.Args {
			pos := positional(c, i)
			if geometryArgs[a.Keyword] || (strings.Contains(l, "Pool")) || (pos >= 2 && pos <= 5) {
				skip[spanOf(a.Value)] = true
			}
		}
	}
	w := newWidth(rng, v)
	if w == v {
		return "", "", errNotApplicable
	}
	var edits []pyast.Edit
	pyast.Walk(m.f.Root(), func(n *pyast.Node) bool {
		if skip[spanOf(n)] {
			return false
		}
		if x, ok := m.f.IntLiteral(n); ok && x == v {
			edits = append(edits, pyast.Replace(n, strconv.Itoa(w)))
		}
		return true
	})
	code, err := m.apply(edits...)
	return code, fmt.Sprintf("%d->%d (%d sites)", v, w, len(edits)), err
}

// positional returns the position of argument i among the positional
// arguments, or -1 for a keyword argument.
func positional(c pyast.Call, i int) int {
	if c.Args[i].Keyword != "" {
		return -1
	}
	n := 0
	for _, a := range c.Args[:i] {
		if a.Keyword == "" {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------- dropout

var dropoutPs = []string{"0.1", "0.2", "0.25", "0.3", "0.4", "0.5"}

func mutateDropout(m *model, rng *rand.Rand) (string, string, error) {
	type site struct {
		kind string // insert, remove, retune
		s    seq
		i    int
		arg  *pyast.Node
	}
	var sites []site
	for _, s := range m.seqs() {
		for i, e := range s.elems {
			if !e.isCall {
				continue
			}
			if dropouts[e.layer] {
				if len(s.elems) > 1 && !m.readsPrm(e.node) {
					sites = append(sites, site{"remove", s, i, nil})
				}
				if a, ok := e.call.Arg(0, "p"); ok && a.Value.Kind() == "float" {
					sites = append(sites, site{"retune", s, i, a.Value})
				}
			}
			if m.nn != "" && e.layer == "Linear" && (i == 0 || !(s.elems[i-1].isCall && dropouts[s.elems[i-1].layer])) {
				sites = append(sites, site{"insert", s, i, nil})
			}
		}
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	st := pick(rng, sites)
	p := pick(rng, dropoutPs)
	var e pyast.Edit
	switch st.kind {
	case "remove":
		e = m.remove(st.s, st.i)
	case "retune":
		if m.text(st.arg) == p {
			return "", "", errNotApplicable
		}
		e = pyast.Replace(st.arg, p)
	default:
		e = m.insertBefore(st.s, st.i, m.nn+"Dropout("+p+")")
	}
	code, err := m.apply(e)
	detail := fmt.Sprintf("%s line %d", st.kind, st.s.elems[st.i].node.StartPosition().Row+1)
	if st.kind != "remove" {
		detail += " p=" + p
	}
	return code, detail, err
}

// ---------------------------------------------------------------- batchnorm

func mutateBatchNorm(m *model, rng *rand.Rand) (string, string, error) {
	type site struct {
		insert bool
		s      seq
		i      int
		out    string
	}
	var sites []site
	for _, s := range m.seqs() {
		for i, e := range s.elems {
			if cv, ok := m.conv(e); ok && m.nn != "" {
				if i+1 < len(s.elems) {
					if _, isBN := bnArg(s.elems[i+1]); isBN {
						continue
					}
				}
				sites = append(sites, site{true, s, i, m.text(cv.out.Value)})
			} else if _, ok := bnArg(e); ok && len(s.elems) > 1 && !m.readsPrm(e.node) {
				sites = append(sites, site{false, s, i, ""})
			}
		}
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	st := pick(rng, sites)
	var e pyast.Edit
	kind := "remove"
	if st.insert {
		kind = "insert"
		e = m.insertAfter(st.s, st.i, m.nn+"BatchNorm2d("+st.out+")")
	} else {
		e = m.remove(st.s, st.i)
	}
	code, err := m.apply(e)
	return code, fmt.Sprintf("%s line %d", kind, st.s.elems[st.i].node.StartPosition().Row+1), err
}

// ---------------------------------------------------------------- conv blocks

func mutateConv(m *model, rng *rand.Rand) (string, string, error) {
	type site struct {
		insert bool
		s      seq
		i, end int // the conv and the end of its group
		ch     string
	}
	var sites []site
	for _, s := range m.seqs() {
		for i, e := range s.elems {
			cv, ok := m.conv(e)
			if !ok {
				continue
			}
			end := m.group(s, i)
			if m.nn != "" && !cv.grouped {
				sites = append(sites, site{true, s, i, end, m.text(cv.out.Value)})
			}
			if m.shapeKeeping(cv) && !cv.grouped && convCount(m, s) > 1 && !m.readsPrmIn(s, i, end) {
				sites = append(sites, site{false, s, i, end, ""})
			}
		}
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	st := pick(rng, sites)
	line := st.s.elems[st.i].node.StartPosition().Row + 1
	if st.insert {
		k := pick(rng, []int{3, 3, 5, 1})
		block := fmt.Sprintf("%sConv2d(%s, %s, %d, padding=%d, bias=False), %sBatchNorm2d(%s), %s",
			m.nn, st.ch, st.ch, k, k/2, m.nn, st.ch, m.activationIn(st.s, st.i, st.end))
		code, err := m.apply(m.insertAfter(st.s, st.end-1, block))
		return code, fmt.Sprintf("insert %dx%d after line %d", k, k, line), err
	}
	// Remove the conv with its group (BatchNorm, activation, dropout): the
	// previous layer's activation stays, and no in-place activation ends up
	// right after another one (autograd refuses that).
	edits := []pyast.Edit{{Start: st.s.elems[st.i].node.StartByte(), End: nextStart(st.s, st.end-1)}}
	if st.end == len(st.s.elems) {
		edits = []pyast.Edit{{Start: st.s.elems[st.i-1].node.EndByte(), End: st.s.elems[st.end-1].node.EndByte()}}
	}
	code, err := m.apply(edits...)
	return code, fmt.Sprintf("remove line %d", line), err
}

func nextStart(s seq, i int) uint {
	if i+1 < len(s.elems) {
		return s.elems[i+1].node.StartByte()
	}
	return s.elems[i].node.EndByte()
}

func convCount(m *model, s seq) int {
	n := 0
	for _, e := range s.elems {
		if _, ok := m.conv(e); ok {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------- residual

// residualClass is the skip-connection wrapper the residual operator adds
// to a file once.
const residualClass = "EvoResidual"

func residualDef(nn string) string {
	return "class " + residualClass + "(" + nn + "Module):\n" +
		"    \"\"\"Adds the input of a shape-keeping block to its output.\"\"\"\n\n" +
		"    def __init__(self, block):\n" +
		"        super().__init__()\n" +
		"        self.block = block\n\n" +
		"    def forward(self, x):\n" +
		"        return x + self.block(x)\n\n\n"
}

func mutateResidual(m *model, rng *rand.Rand) (string, string, error) {
	if m.nn == "" {
		return "", "", errNotApplicable
	}
	netDef := m.f.ClassDef("Net")
	if netDef == nil {
		return "", "", errNotApplicable
	}
	type site struct {
		wrap   bool
		s      seq
		i, end int
		ch     string
	}
	var sites []site
	for _, s := range m.seqs() {
		for i, e := range s.elems {
			cv, ok := m.conv(e)
			if !ok || cv.grouped {
				continue
			}
			end := m.group(s, i)
			sites = append(sites, site{false, s, i, end, m.text(cv.out.Value)})
			if m.shapeKeeping(cv) {
				sites = append(sites, site{true, s, i, end, ""})
			}
		}
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	st := pick(rng, sites)
	var edits []pyast.Edit
	if !m.f.Defines(residualClass) {
		edits = append(edits, pyast.InsertAt(netDef.StartByte(), residualDef(m.nn)))
	} else if m.f.ClassDef(residualClass) == nil {
		return "", "", errNotApplicable // the name means something else here
	}
	line := st.s.elems[st.i].node.StartPosition().Row + 1
	var detail string
	if st.wrap {
		// Wrap the conv with its BatchNorm (when there is one); the
		// activation stays outside, after the sum, as in ResNet.
		last := st.i
		if st.i+1 < len(st.s.elems) {
			if _, ok := bnArg(st.s.elems[st.i+1]); ok {
				last = st.i + 1
			}
		}
		from, to := st.s.elems[st.i].node.StartByte(), st.s.elems[last].node.EndByte()
		inner := string(m.f.Src[from:to])
		if last > st.i {
			inner = m.nn + "Sequential(" + inner + ")"
		}
		edits = append(edits, pyast.Edit{Start: from, End: to, Text: residualClass + "(" + inner + ")"})
		detail = fmt.Sprintf("wrap line %d", line)
	} else {
		block := fmt.Sprintf("%s(%sSequential(%sConv2d(%s, %s, 3, padding=1, bias=False), %sBatchNorm2d(%s), %s, %sConv2d(%s, %s, 3, padding=1, bias=False), %sBatchNorm2d(%s)))",
			residualClass, m.nn, m.nn, st.ch, st.ch, m.nn, st.ch, m.activationIn(st.s, st.i, st.end), m.nn, st.ch, st.ch, m.nn, st.ch)
		edits = append(edits, m.insertAfter(st.s, st.end-1, block))
		detail = fmt.Sprintf("block after line %d", line)
	}
	code, err := m.apply(edits...)
	return code, detail, err
}

// ---------------------------------------------------------------- pooling

var poolSwap = map[string]string{
	"MaxPool2d": "AvgPool2d", "AvgPool2d": "MaxPool2d",
	"AdaptiveAvgPool2d": "AdaptiveMaxPool2d", "AdaptiveMaxPool2d": "AdaptiveAvgPool2d",
}
var poolFuncSwap = map[string]string{"max_pool2d": "avg_pool2d", "avg_pool2d": "max_pool2d", "adaptive_avg_pool2d": "adaptive_max_pool2d", "adaptive_max_pool2d": "adaptive_avg_pool2d"}

// Arguments only one of the two pools takes.
var poolOnly = map[string]bool{"dilation": true, "return_indices": true, "count_include_pad": true, "divisor_override": true}

func mutatePool(m *model, rng *rand.Rand) (string, string, error) {
	type site struct {
		c      pyast.Call
		from   string
		to     string
		callee string
	}
	var sites []site
	for _, c := range m.f.Calls(m.f.Root(), nil) {
		if c.Splat {
			continue
		}
		bad := false
		for _, a := range c.Args {
			bad = bad || poolOnly[a.Keyword]
		}
		l := layer(c)
		if to, ok := poolSwap[l]; ok && !bad && c.Positional() <= 4 {
			// MaxPool2d's 4th positional is dilation, AvgPool2d's is ceil_mode.
			if c.Positional() == 4 {
				continue
			}
			if l == "AdaptiveMaxPool2d" && globalPool(m, c) {
				// Global average pooling washes out where features are,
				// which small-image classifiers depend on; global max keeps
				// "the shape is somewhere". Only the other direction is offered.
				continue
			}
			sites = append(sites, site{c, l, to, strings.TrimSuffix(c.Callee, l) + to})
			continue
		}
		if !strings.HasPrefix(c.Callee, "F.") && !strings.HasPrefix(c.Callee, "torch.nn.functional.") {
			continue // torch.max_pool2d has no torch.avg_pool2d twin
		}
		fn := pyast.Functional(c.Callee)
		if to, ok := poolFuncSwap[fn]; ok && !bad && c.Positional() < 4 {
			if strings.HasPrefix(fn, "adaptive_max") && c.Positional() > 2 {
				continue // return_indices
			}
			sites = append(sites, site{c, fn, to, strings.TrimSuffix(c.Callee, fn) + to})
		}
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	s := pick(rng, sites)
	fn := s.c.Node.ChildByFieldName("function")
	code, err := m.apply(pyast.Replace(fn, s.callee))
	return code, fmt.Sprintf("line %d %s->%s", s.c.Node.StartPosition().Row+1, s.from, s.to), err
}

// globalPool reports an adaptive pool to a 1x1 output.
func globalPool(m *model, c pyast.Call) bool {
	a, ok := c.Arg(0, "output_size")
	if !ok {
		return false
	}
	v, ok := m.f.IntLiteral(a.Value)
	return ok && v == 1 || strings.ReplaceAll(m.text(a.Value), " ", "") == "(1,1)"
}

// intAssignments maps names assigned exactly once, anywhere in the file,
// to the int literal they get (dim = 64).
func (m *model) intAssignments() map[string]int {
	out := map[string]int{}
	count := map[string]int{}
	pyast.Walk(m.f.Root(), func(n *pyast.Node) bool {
		if n.Kind() != "assignment" {
			return true
		}
		left, right := n.ChildByFieldName("left"), n.ChildByFieldName("right")
		if left == nil || left.Kind() != "identifier" {
			return true
		}
		name := m.text(left)
		count[name]++
		if v, ok := m.f.IntLiteral(right); ok {
			out[name] = v
		}
		return true
	})
	for name := range out {
		if count[name] != 1 {
			delete(out, name)
		}
	}
	return out
}
