package pyast

import (
	"strings"
	"sync"
)

// Size measures a source file.
type Size struct {
	Bytes int `json:"bytes"`
	Lines int `json:"lines"` // physical lines
	Code  int `json:"code"`  // lines with code (not blank, not only a comment)
	Nodes int `json:"nodes"` // syntax nodes
}

// Analysis is everything this package knows statically about a LEMUR
// model file. The gate decides from it; predictors use Features.
type Analysis struct {
	// Syntax lists the parse errors (at most 20); when it is non-empty the
	// other fields describe whatever tree-sitter recovered.
	Syntax   []SyntaxError     `json:"syntax,omitempty"`
	Contract Contract          `json:"contract"`
	Hparams  HyperparameterUse `json:"hparams"`
	Imports  []ModuleImport    `json:"imports"`
	Aliases  map[string]string `json:"aliases"` // local name -> qualified name, from the imports
	Calls    map[string][]int  `json:"-"`       // qualified callee -> lines, for calls whose callee resolves to a dotted name
	Torch2   []APIUse          `json:"torch2,omitempty"`
	// Downloads are calls that fetch weights or touch files (torch.hub,
	// torch.load, pretrained torchvision models, ...).
	Downloads []APIUse         `json:"downloads,omitempty"`
	Size      Size             `json:"size"`
	IDs       IDs              `json:"ids"`
	Features  Features         `json:"features"`
	Builtins  map[string][]int `json:"-"` // calls of the bare builtins in RiskyBuiltins -> lines
}

// RiskyBuiltins are the builtins a model has no reason to call; Analysis
// records their call sites in Builtins so the gate can refuse them.
var RiskyBuiltins = []string{"exec", "eval", "compile", "open", "input", "breakpoint", "__import__", "globals", "vars"}

// Analyze parses src and analyses it. It never panics on any input.
//
// What it finds, in the fields of Analysis:
//   - Syntax: parse errors, an unbalanced bracket or unclosed string first.
//   - Contract: class Net (an nn.Module) with __init__(self, in_shape,
//     out_shape, prm, device), train_setup(self, prm), learn(self,
//     train_data) and forward(self, x), checked by arity since the harness
//     passes arguments by position (other names become Notes); module-level
//     supported_hyperparameters() returning a literal set or list of strings.
//   - Hparams: which prm keys the code reads (prm['k'], prm.get('k'),
//     through aliases, copies, helpers it is passed to, string constants
//     and loops over literal key lists), the declared ones it never reads,
//     the undeclared ones it subscripts, and where it reads dynamically.
//   - Imports and Aliases: every import with its line; local names resolved
//     to qualified names (F -> torch.nn.functional).
//   - Torch2 and Downloads: uses of Torch2APIs, and calls that fetch
//     weights or touch files.
//   - Builtins: calls of RiskyBuiltins.
//   - IDs: LEMUR's code id, the normalised id and the structural
//     fingerprint (see IDs).
//   - Features: layer counts, depth, widths, estimated parameters, traits and
//     family, with a numeric Vector in FeatureNames order.
//
// For the ids alone (the dedup index over a corpus), CodeIDs is cheaper.
func Analyze(src []byte) *Analysis {
	f := Parse(src)
	defer f.Close()
	return AnalyzeFile(f)
}

// CodeIDs parses src and returns only its three ids: what the dedup index
// needs for a corpus model, at a fraction of Analyze's cost.
func CodeIDs(src []byte) IDs {
	f := Parse(src)
	t := f.Tree()
	f.Close()
	return t.ComputeIDs()
}

// AnalyzeFile analyses a parsed file; f stays open.
func AnalyzeFile(f *File) *Analysis {
	t := f.Tree()
	a := t.Analyze()
	if len(a.Syntax) > 0 {
		a.Syntax = f.SyntaxErrors(20)
		// A bracket or quote mismatch is the usual cause and tree-sitter
		// places it badly: name it first.
		if e, ok := bracketError(f.Src); ok {
			a.Syntax = append([]SyntaxError{e}, a.Syntax...)
		}
	}
	return a
}

// Analyze analyses a tree. Syntax errors are located coarsely (line of the
// first error node); AnalyzeFile gives tree-sitter's messages.
func (t *Tree) Analyze() *Analysis {
	a := &Analysis{}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.Error || n.Missing {
			msg := "invalid syntax"
			if n.Missing {
				msg = "missing " + n.Kind
			}
			a.Syntax = append(a.Syntax, SyntaxError{Line: int(n.Line), Msg: msg})
			if len(a.Syntax) >= 20 {
				break
			}
		}
	}
	imp := t.scanImports()
	a.Imports = imp.imports
	a.Aliases = imp.aliases
	classes := t.topClasses()
	// The ids and the features read the tree (and classes, aliases) only,
	// so they run beside the other analyses: a candidate's latency is what
	// the generation loop waits for.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		a.IDs = t.ComputeIDs()
	}()
	go func() {
		defer wg.Done()
		a.Features = t.features(imp, classes)
	}()
	a.Contract = t.contract(classes, imp.aliases)
	a.Hparams = t.hyperparameters(&a.Contract, classes)
	a.Torch2 = t.torch2(imp.imports, imp.aliases)
	a.Downloads = t.downloads(imp.aliases)
	a.Calls = map[string][]int{}
	a.Builtins = map[string][]int{}
	risky := map[string]bool{}
	for _, b := range RiskyBuiltins {
		risky[b] = true
	}
	for i := range t.Nodes {
		if t.Nodes[i].Kind != "call" {
			continue
		}
		fn := t.Field(NodeID(i), "function")
		if t.Kind(fn) == "identifier" && risky[t.Text(fn)] {
			a.Builtins[t.Text(fn)] = append(a.Builtins[t.Text(fn)], int(t.Nodes[i].Line))
		}
		if q := t.qualName(fn, imp.aliases); strings.Contains(q, ".") {
			a.Calls[q] = append(a.Calls[q], int(t.Nodes[i].Line))
		}
	}
	a.Size = Size{Bytes: len(t.Src), Lines: strings.Count(string(t.Src), "\n") + 1, Nodes: len(t.Nodes)}
	if len(t.Src) > 0 && t.Src[len(t.Src)-1] == '\n' {
		a.Size.Lines--
	}
	wg.Wait()
	a.Size.Code = a.Features.Lines
	return a
}
