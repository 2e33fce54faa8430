package pyast

import "strings"

// Torch2API is a PyTorch (or torchvision) API that torch 1.13 /
// torchvision 0.14, the versions the project targets (Debian 12), lack.
type Torch2API struct {
	// Name is a fully qualified name; it also matches everything under it
	// (torch.func matches torch.func.vmap).
	Name string
	// Kwarg, when set, restricts the entry to calls of Name passing that
	// keyword argument (nn.LayerNorm(bias=False) is 2.1+, nn.LayerNorm is not).
	Kwarg string
	Since string // first version that has it
}

// Torch2APIs is the list checked by Analyze. Sources: the PyTorch and
// torchvision release notes; each entry is absent from torch 1.13.1 /
// torchvision 0.14.1.
var Torch2APIs = []Torch2API{
	{Name: "torch.compile", Since: "torch 2.0"},
	{Name: "torch.compiler", Since: "torch 2.1"},
	{Name: "torch._dynamo", Since: "torch 2.0"},
	{Name: "torch._inductor", Since: "torch 2.0"},
	{Name: "torch.export", Since: "torch 2.1"},
	{Name: "torch.func", Since: "torch 2.0 (use functorch on 1.13)"},
	{Name: "torch.set_default_device", Since: "torch 2.0"},
	{Name: "torch.get_default_device", Since: "torch 2.3"},
	{Name: "torch.nn.functional.scaled_dot_product_attention", Since: "torch 2.0"},
	{Name: "torch.nn.attention", Since: "torch 2.2"},
	{Name: "torch.nn.RMSNorm", Since: "torch 2.4"},
	{Name: "torch.nn.modules.normalization.RMSNorm", Since: "torch 2.4"},
	{Name: "torch.nn.functional.rms_norm", Since: "torch 2.4"},
	{Name: "torch.nn.Buffer", Since: "torch 2.5"},
	{Name: "torch.nn.CircularPad1d", Since: "torch 2.1"},
	{Name: "torch.nn.CircularPad2d", Since: "torch 2.1"},
	{Name: "torch.nn.CircularPad3d", Since: "torch 2.1"},
	{Name: "torch.nn.ZeroPad1d", Since: "torch 2.1"},
	{Name: "torch.nn.ZeroPad3d", Since: "torch 2.1"},
	{Name: "torch.nn.LayerNorm", Kwarg: "bias", Since: "torch 2.1"},
	{Name: "torch.nn.TransformerEncoderLayer", Kwarg: "bias", Since: "torch 2.1"},
	{Name: "torch.nn.TransformerDecoderLayer", Kwarg: "bias", Since: "torch 2.1"},
	{Name: "torch.nn.Transformer", Kwarg: "bias", Since: "torch 2.1"},
	{Name: "torch.nn.utils.parametrizations.weight_norm", Since: "torch 2.1"},
	{Name: "torch.amp.GradScaler", Since: "torch 2.3 (use torch.cuda.amp.GradScaler on 1.13)"},
	{Name: "torch.library.custom_op", Since: "torch 2.4"},
	{Name: "torch.optim.lr_scheduler.LRScheduler", Since: "torch 2.0 (1.13 has _LRScheduler)"},
	{Name: "torch.float8_e4m3fn", Since: "torch 2.1"},
	{Name: "torch.float8_e5m2", Since: "torch 2.1"},
	{Name: "torch.uint16", Since: "torch 2.3"},
	{Name: "torch.uint32", Since: "torch 2.3"},
	{Name: "torch.uint64", Since: "torch 2.3"},
	{Name: "torchvision.transforms.v2", Since: "torchvision 0.15"},
	{Name: "torchvision.tv_tensors", Since: "torchvision 0.16"},
	{Name: "torchvision.datapoints", Since: "torchvision 0.15"},
}

// APIUse is one use of a torch 2.x-only API.
type APIUse struct {
	API  string // the matching Torch2APIs name
	Used string // the qualified name as used
	Line int
	Msg  string // what to do instead
}

// torch2 finds uses of Torch2APIs: resolved attribute chains and names
// (through the file's import aliases) and imports of those modules.
func (t *Tree) torch2(imports []ModuleImport, aliases map[string]string) []APIUse {
	var out []APIUse
	match := func(q string) (Torch2API, bool) {
		for _, a := range Torch2APIs {
			if q == a.Name || strings.HasPrefix(q, a.Name+".") {
				return a, true
			}
		}
		return Torch2API{}, false
	}
	add := func(a Torch2API, q string, line int) {
		out = append(out, APIUse{API: a.Name, Used: q, Line: line,
			Msg: q + " needs " + a.Since + "; the worker runs torch 1.13: write it with 1.13 APIs"})
	}
	for _, m := range imports {
		if a, ok := match(m.Module); ok && a.Kwarg == "" {
			add(a, m.Module, m.Line)
			continue
		}
		for _, n := range m.Names {
			q := joinQual(m.Module, n)
			if a, ok := match(q); ok && a.Kwarg == "" {
				add(a, q, m.Line)
			}
		}
	}
	for i := range t.Nodes {
		id := NodeID(i)
		n := &t.Nodes[i]
		if n.Kind != "attribute" && n.Kind != "identifier" {
			continue
		}
		// Only the outermost node of an attribute chain, and not names that
		// are themselves the attribute part or inside imports.
		if p := n.Parent; p != NoNode {
			pk := t.Nodes[p].Kind
			if pk == "attribute" || pk == "dotted_name" || pk == "aliased_import" || pk == "keyword_argument" && n.Field == "name" {
				continue
			}
		}
		// Only chains rooted at a torch or torchvision import can match;
		// checking the root first avoids building every chain's name.
		root := id
		for t.Nodes[root].Kind == "attribute" {
			root = t.Field(root, "object")
		}
		if t.Kind(root) != "identifier" || !strings.HasPrefix(aliases[t.Text(root)], "torch") {
			continue
		}
		q := t.qualName(id, aliases)
		if q == "" || !strings.Contains(q, ".") {
			continue
		}
		a, ok := match(q)
		if !ok {
			continue
		}
		if a.Kwarg != "" {
			call := n.Parent
			if t.Kind(call) != "call" || t.Field(call, "function") != id || !t.hasKwarg(call, a.Kwarg) {
				continue
			}
		}
		add(a, q, int(n.Line))
	}
	return out
}

// hasKwarg reports whether a call passes the keyword argument name.
func (t *Tree) hasKwarg(call NodeID, name string) bool {
	for _, a := range t.NamedChildren(t.Field(call, "arguments")) {
		if t.Kind(a) == "keyword_argument" && t.Text(t.Field(a, "name")) == name {
			return true
		}
	}
	return false
}

// downloadAPIs read or fetch files: a model that calls them cannot work in
// the worker's sandbox (no network, a scratch directory only).
var downloadAPIs = []string{"torch.hub", "torch.load", "torch.save", "torch.utils.model_zoo", "torchvision.datasets", "torchvision.io"}

// downloads finds calls that fetch weights or touch files: downloadAPIs,
// and torchvision.models constructors asked for pretrained weights
// (pretrained=True, or weights= anything but None).
func (t *Tree) downloads(aliases map[string]string) []APIUse {
	var out []APIUse
	for i := range t.Nodes {
		if t.Nodes[i].Kind != "call" {
			continue
		}
		id := NodeID(i)
		q := t.qualName(t.Field(id, "function"), aliases)
		if !strings.HasPrefix(q, "torch") {
			continue
		}
		line := int(t.Nodes[i].Line)
		for _, api := range downloadAPIs {
			if q == api || strings.HasPrefix(q, api+".") {
				out = append(out, APIUse{API: api, Used: q, Line: line,
					Msg: q + " reads, writes or downloads files; the worker has no network and no files: build the model from code"})
			}
		}
		if !strings.HasPrefix(q, "torchvision.models.") {
			continue
		}
		for _, a := range t.NamedChildren(t.Field(id, "arguments")) {
			if t.Kind(a) != "keyword_argument" {
				continue
			}
			k, v := t.Text(t.Field(a, "name")), t.Field(a, "value")
			if k == "pretrained" && t.Kind(v) != "false" || k == "weights" && t.Kind(v) != "none" {
				out = append(out, APIUse{API: "torchvision.models", Used: q, Line: line,
					Msg: q + " with " + k + "=" + t.Text(v) + " downloads weights; the worker has no network: pass weights=None"})
			}
		}
	}
	return out
}
