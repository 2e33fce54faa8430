package evolve

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nngpt/nngpt/pyast"
)

// errNotApplicable means an operator found nothing it can change safely in
// this model; the generator then tries another operator or parent.
var errNotApplicable = errors.New("operator not applicable")

// model is parsed model code plus what the operators need to know about it.
type model struct {
	f    *pyast.File
	code string
	// nn is how the file spells torch.nn ("nn." or "torch.nn."); "" when
	// neither is bound, and then no operator inserts layers.
	nn string
	// classes are the module-level class names (custom blocks).
	classes map[string]bool
	an      *pyast.Analysis // lazily, see analysis
}

// analysis is pyast's static analysis of the model, computed once.
func (m *model) analysis() *pyast.Analysis {
	if m.an == nil {
		m.an = pyast.AnalyzeFile(m.f)
	}
	return m.an
}

func parseModel(code string) (*model, error) {
	f := pyast.Parse([]byte(code))
	if errs := f.SyntaxErrors(1); len(errs) > 0 {
		f.Close()
		return nil, fmt.Errorf("parent does not parse: %v", errs[0])
	}
	m := &model{f: f, code: code, classes: map[string]bool{}}
	for _, st := range pyast.Children(f.Root()) {
		d := st
		if d.Kind() == "decorated_definition" {
			d = d.ChildByFieldName("definition")
		}
		if d != nil && d.Kind() == "class_definition" {
			m.classes[f.Text(d.ChildByFieldName("name"))] = true
		}
	}
	switch {
	case strings.Contains(code, "import torch.nn as nn") || strings.Contains(code, "from torch import nn"):
		m.nn = "nn."
	case strings.Contains(code, "import torch\n") || strings.Contains(code, "import torch\r\n"):
		m.nn = "torch.nn."
	}
	return m, nil
}

func (m *model) close() { m.f.Close() }

func (m *model) text(n *pyast.Node) string { return m.f.Text(n) }

// layer returns the torch.nn class a call constructs, "" otherwise.
func layer(c pyast.Call) string { return pyast.TorchLayer(c.Callee) }

// elem is one element of a layer sequence.
type elem struct {
	node   *pyast.Node
	call   pyast.Call
	isCall bool
	layer  string // torch.nn class, "" for custom blocks and names
}

// seq is a sequence of layers applied one after the other: the arguments of
// nn.Sequential(...) or a list literal of layer constructors (later spread
// into nn.Sequential(*layers)).
type seq struct {
	node      *pyast.Node
	elems     []elem
	multiline bool
}

// seqs finds the layer sequences of the file.
func (m *model) seqs() []seq {
	var out []seq
	pyast.Walk(m.f.Root(), func(n *pyast.Node) bool {
		var items []*pyast.Node
		switch n.Kind() {
		case "call":
			c, ok := m.f.AsCall(n)
			if !ok || layer(c) != "Sequential" || c.Splat {
				return true
			}
			items = pyast.Elements(c.ArgList)
			for _, a := range c.Args {
				if a.Keyword != "" {
					return true
				}
			}
		case "list":
			items = pyast.Elements(n)
			if len(items) < 2 {
				return true
			}
			for _, it := range items {
				c, ok := m.f.AsCall(it)
				if !ok || (layer(c) == "" && !m.classes[c.Callee]) {
					return true
				}
			}
		default:
			return true
		}
		if len(items) == 0 {
			return true
		}
		s := seq{node: n}
		for i, it := range items {
			e := elem{node: it}
			if c, ok := m.f.AsCall(it); ok {
				e.call, e.isCall, e.layer = c, true, layer(c)
			}
			s.elems = append(s.elems, e)
			if i > 0 && it.StartPosition().Row != items[i-1].EndPosition().Row {
				s.multiline = true
			}
		}
		out = append(out, s)
		return true
	})
	return out
}

// insertAfter inserts text as a new element after element i.
func (m *model) insertAfter(s seq, i int, text string) pyast.Edit {
	e := s.elems[i].node
	if s.multiline {
		return pyast.InsertAt(e.EndByte(), ",\n"+m.f.LineIndent(e.StartByte())+text)
	}
	return pyast.InsertAt(e.EndByte(), ", "+text)
}

// insertBefore inserts text as a new element before element i.
func (m *model) insertBefore(s seq, i int, text string) pyast.Edit {
	e := s.elems[i].node
	if s.multiline {
		return pyast.InsertAt(e.StartByte(), text+",\n"+m.f.LineIndent(e.StartByte()))
	}
	return pyast.InsertAt(e.StartByte(), text+", ")
}

// remove deletes element i with its separator.
func (m *model) remove(s seq, i int) pyast.Edit {
	e := s.elems[i].node
	if i+1 < len(s.elems) {
		return pyast.Edit{Start: e.StartByte(), End: s.elems[i+1].node.StartByte()}
	}
	return pyast.Edit{Start: s.elems[i-1].node.EndByte(), End: e.EndByte()}
}

// apply returns the code with edits applied.
func (m *model) apply(edits ...pyast.Edit) (string, error) {
	out, err := pyast.ApplyEdits(m.f.Src, edits)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// Layer classes by role.
var (
	activations = map[string]bool{"ReLU": true, "ReLU6": true, "GELU": true, "SiLU": true, "ELU": true, "LeakyReLU": true, "Hardswish": true, "Mish": true, "CELU": true, "SELU": true}
	dropouts    = map[string]bool{"Dropout": true, "Dropout2d": true, "AlphaDropout": true}
	// passthrough layers keep the channels and the resolution.
	passthrough = map[string]bool{"Identity": true, "Sigmoid": true, "Tanh": true, "Hardsigmoid": true}
)

func isPassthrough(l string) bool { return activations[l] || dropouts[l] || passthrough[l] }

// conv describes an nn.Conv2d call.
type conv struct {
	in, out          pyast.Arg
	kernel, padding  int  // -1: not a plain int literal
	stride           int  // -1: not a plain int literal
	hasPadding       bool // padding given
	grouped, dilated bool
}

func (m *model) conv(e elem) (conv, bool) {
	if !e.isCall || e.layer != "Conv2d" || e.call.Splat {
		return conv{}, false
	}
	c := e.call
	var cv conv
	var ok bool
	if cv.in, ok = c.Arg(0, "in_channels"); !ok {
		return conv{}, false
	}
	if cv.out, ok = c.Arg(1, "out_channels"); !ok {
		return conv{}, false
	}
	cv.kernel, cv.stride, cv.padding = -1, 1, 0
	if a, ok := c.Arg(2, "kernel_size"); ok {
		if v, ok := m.f.IntLiteral(a.Value); ok {
			cv.kernel = v
		}
	}
	if a, ok := c.Arg(3, "stride"); ok {
		cv.stride = -1
		if v, ok := m.f.IntLiteral(a.Value); ok {
			cv.stride = v
		}
	}
	if a, ok := c.Arg(4, "padding"); ok {
		cv.hasPadding = true
		cv.padding = -1
		if v, ok := m.f.IntLiteral(a.Value); ok {
			cv.padding = v
		}
	}
	if a, ok := c.Arg(5, "dilation"); ok {
		v, lit := m.f.IntLiteral(a.Value)
		cv.dilated = !lit || v != 1
	}
	if a, ok := c.Arg(6, "groups"); ok {
		v, lit := m.f.IntLiteral(a.Value)
		cv.grouped = !lit || v != 1
	}
	return cv, true
}

// samePadded reports a conv whose output size is ceil(input/stride)
// whatever the kernel: odd kernel, padding kernel//2, no dilation.
func (cv conv) samePadded() bool {
	return cv.kernel > 0 && cv.kernel%2 == 1 && cv.padding == cv.kernel/2 && !cv.dilated && cv.stride > 0
}

// shapeKeeping reports a conv that maps (c, H, W) to (c, H, W) with the
// same channel expression in and out.
func (m *model) shapeKeeping(cv conv) bool {
	return cv.samePadded() && cv.stride == 1 && m.text(cv.in.Value) == m.text(cv.out.Value)
}

// bnArg is the channel argument of a BatchNorm2d call.
func bnArg(e elem) (pyast.Arg, bool) {
	if !e.isCall || e.layer != "BatchNorm2d" {
		return pyast.Arg{}, false
	}
	return e.call.Arg(0, "num_features")
}

// group returns the index just past the elements that belong with the conv
// at i: a BatchNorm2d of its output, activations and dropouts.
func (m *model) group(s seq, i int) int {
	j := i + 1
	for j < len(s.elems) {
		e := s.elems[j]
		if _, ok := bnArg(e); ok || (e.isCall && (activations[e.layer] || dropouts[e.layer])) {
			j++
			continue
		}
		break
	}
	return j
}

// activationIn returns the text of the first activation constructor in
// elements [from, to) of s, or a ReLU.
func (m *model) activationIn(s seq, from, to int) string {
	for k := from; k < to && k < len(s.elems); k++ {
		e := s.elems[k]
		if e.isCall && activations[e.layer] {
			return m.nn + e.layer + "()"
		}
	}
	return m.nn + "ReLU()"
}

// readsPrm reports whether n reads the hyperparameters (prm[...], a
// variable holding one is not seen): removing it could leave a declared
// hyperparameter unused, which the gate rejects.
func (m *model) readsPrm(n *pyast.Node) bool {
	return strings.Contains(m.text(n), "prm")
}

// readsPrmIn is readsPrm over elements [from, to) of s.
func (m *model) readsPrmIn(s seq, from, to int) bool {
	for k := from; k < to; k++ {
		if m.readsPrm(s.elems[k].node) {
			return true
		}
	}
	return false
}

// span identifies a node by its byte range: tree-sitter hands out a new
// *Node value on every visit, so pointers cannot be compared.
type span struct {
	start, end uint
	kind       string
}

func spanOf(n *pyast.Node) span { return span{n.StartByte(), n.EndByte(), n.Kind()} }
