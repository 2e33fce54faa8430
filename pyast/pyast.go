// Package pyast parses Python with tree-sitter. It is the only cgo package
// of nngpt: every other package sees Python code through its types.
package pyast

import (
	"fmt"
	"sync"

	sitter "github.com/tree-sitter/go-tree-sitter"
	python "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// Node is a tree-sitter syntax node; valid while its File is open.
type Node = sitter.Node

var (
	langOnce sync.Once
	lang     *sitter.Language
	// parsers are reused: creating one per file costs more than parsing a model.
	parsers = sync.Pool{New: func() any {
		p := sitter.NewParser()
		if err := p.SetLanguage(language()); err != nil {
			panic(fmt.Sprintf("pyast: tree-sitter-python: %v", err))
		}
		return p
	}}
)

func language() *sitter.Language {
	langOnce.Do(func() { lang = sitter.NewLanguage(python.Language()) })
	return lang
}

// File is a parsed Python source. Close it to free the C tree.
type File struct {
	Src  []byte
	tree *sitter.Tree
}

// Parse parses src. It never fails on bad Python: syntax problems become
// error nodes, reported by SyntaxErrors.
func Parse(src []byte) *File {
	p := parsers.Get().(*sitter.Parser)
	defer parsers.Put(p)
	t := parseString(p, src) // see ctree.go: p.Parse(src, nil) without its per-chunk callbacks
	return &File{Src: src, tree: t}
}

// Close frees the tree.
func (f *File) Close() {
	if f.tree != nil {
		f.tree.Close()
		f.tree = nil
	}
}

// Root is the module node.
func (f *File) Root() *Node { return f.tree.RootNode() }

// Text is the source text of n.
func (f *File) Text(n *Node) string {
	if n == nil {
		return ""
	}
	return string(f.Src[n.StartByte():n.EndByte()])
}

// SyntaxError is one error or missing node, with a 1-based line and column.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e SyntaxError) Error() string { return fmt.Sprintf("line %d col %d: %s", e.Line, e.Col, e.Msg) }

// SyntaxErrors lists the error and missing nodes of the tree, at most max
// of them (max <= 0: all).
func (f *File) SyntaxErrors(max int) []SyntaxError {
	root := f.Root()
	if !root.HasError() {
		return nil
	}
	var errs []SyntaxError
	Walk(root, func(n *Node) bool {
		if max > 0 && len(errs) >= max {
			return false
		}
		if !n.HasError() && !n.IsMissing() {
			return false
		}
		pos := n.StartPosition()
		switch {
		case n.IsMissing():
			errs = append(errs, SyntaxError{int(pos.Row) + 1, int(pos.Column) + 1, "missing " + n.Kind()})
			return false
		case n.IsError():
			snippet := f.Text(n)
			if len(snippet) > 40 {
				snippet = snippet[:40] + "..."
			}
			errs = append(errs, SyntaxError{int(pos.Row) + 1, int(pos.Column) + 1, fmt.Sprintf("invalid syntax near %q", snippet)})
			return false
		}
		return true
	})
	return errs
}

// Walk visits n and its descendants depth-first in source order; fn
// returns false to skip a node's children.
func Walk(n *Node, fn func(*Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	c := n.Walk()
	defer c.Close()
	if !c.GotoFirstChild() {
		return
	}
	for {
		child := c.Node()
		Walk(child, fn)
		if !c.GotoNextSibling() {
			return
		}
	}
}

// Children returns the named children of n.
func Children(n *Node) []*Node {
	out := make([]*Node, 0, n.NamedChildCount())
	for i := uint(0); i < n.NamedChildCount(); i++ {
		out = append(out, n.NamedChild(i))
	}
	return out
}
