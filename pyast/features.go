package pyast

import (
	"math"
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
