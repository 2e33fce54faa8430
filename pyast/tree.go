package pyast

import (
	"sync"
)

// NodeID indexes a node of a Tree; NoNode means "none".
type NodeID int32

// NoNode is the NodeID of a missing node (no child, no parent).
const NoNode NodeID = -1

// TNode is one node of a Tree: a plain Go copy of a tree-sitter node.
type TNode struct {
	Kind       string // grammar kind ("call", "identifier", "(", "ERROR", ...)
	Field      string // field name in the parent ("function", "arguments", ...), "" if none
	Start, End uint32 // byte offsets into Tree.Src
	Line       int32  // 1-based line of Start
	Parent     NodeID
	First      NodeID // first child (named or anonymous)
	Next       NodeID // next sibling
	Named      bool
	Error      bool // an ERROR node
	Missing    bool // a node tree-sitter inserted to recover from an error
}

// Tree is a Go copy of a parsed file's syntax tree, built in one pass over
// the C tree. The analyses of this package walk it instead of the C tree:
// every tree-sitter node access is a cgo call (about a microsecond per node
// with the stock cursor walk), and an analysis visits each node many times.
// Nodes are in pre-order, so a node's descendants follow it contiguously.
type Tree struct {
	Src   []byte
	Nodes []TNode // Nodes[0] is the module
}

// kindNames caches the grammar's kind and field names by id: asking
// tree-sitter for them costs a cgo call and a C string copy each time.
var (
	namesOnce  sync.Once
	kindNames  []string
	kindNamed  []bool
	fieldNames []string
)

func loadNames() {
	l := language()
	n := l.NodeKindCount()
	kindNames = make([]string, n)
	kindNamed = make([]bool, n)
	for i := uint32(0); i < n; i++ {
		kindNames[i] = l.NodeKindForId(uint16(i))
		kindNamed[i] = l.NodeKindIsNamed(uint16(i))
	}
	fc := l.FieldCount()
	fieldNames = make([]string, fc+1)
	for i := uint32(1); i <= fc; i++ {
		fieldNames[i] = l.FieldNameForId(uint16(i))
	}
}

// N returns the node id; it panics on NoNode, like an index out of range.
func (t *Tree) N(id NodeID) *TNode { return &t.Nodes[id] }

// Kind is the kind of id, "" for NoNode.
func (t *Tree) Kind(id NodeID) string {
	if id < 0 {
		return ""
	}
	return t.Nodes[id].Kind
}

// Text is the source text of id, "" for NoNode.
func (t *Tree) Text(id NodeID) string {
	if id < 0 {
		return ""
	}
	n := &t.Nodes[id]
	return string(t.Src[n.Start:n.End])
}

// Line is the 1-based line of id, 0 for NoNode.
func (t *Tree) Line(id NodeID) int {
	if id < 0 {
		return 0
	}
	return int(t.Nodes[id].Line)
}

// Children lists every child of id (named and anonymous) in order.
func (t *Tree) Children(id NodeID) []NodeID {
	var out []NodeID
	for c := t.Nodes[id].First; c != NoNode; c = t.Nodes[c].Next {
		out = append(out, c)
	}
	return out
}

// NamedChildren lists the named children of id in order, comments excluded.
func (t *Tree) NamedChildren(id NodeID) []NodeID {
	var out []NodeID
	for c := t.Nodes[id].First; c != NoNode; c = t.Nodes[c].Next {
		if n := &t.Nodes[c]; n.Named && n.Kind != "comment" {
			out = append(out, c)
		}
	}
	return out
}

// Field returns the first child of id in the given field, or NoNode.
func (t *Tree) Field(id NodeID, field string) NodeID {
	if id < 0 {
		return NoNode
	}
	for c := t.Nodes[id].First; c != NoNode; c = t.Nodes[c].Next {
		if t.Nodes[c].Field == field {
			return c
		}
	}
	return NoNode
}

// Subtree returns the ids of id and all its descendants: a contiguous
// range in pre-order.
func (t *Tree) Subtree(id NodeID) (from, to NodeID) {
	end := NodeID(len(t.Nodes))
	for a := id; a != NoNode; a = t.Nodes[a].Parent {
		if nx := t.Nodes[a].Next; nx != NoNode {
			end = nx
			break
		}
	}
	return id, end
}

// Walk visits id and its descendants in pre-order; fn returns false to skip
// a node's children.
func (t *Tree) Walk(id NodeID, fn func(NodeID) bool) {
	if id < 0 || !fn(id) {
		return
	}
	for c := t.Nodes[id].First; c != NoNode; c = t.Nodes[c].Next {
		t.Walk(c, fn)
	}
}

// Ancestor returns the nearest proper ancestor of id whose kind is one of
// kinds, or NoNode.
func (t *Tree) Ancestor(id NodeID, kinds ...string) NodeID {
	for a := t.Nodes[id].Parent; a != NoNode; a = t.Nodes[a].Parent {
		for _, k := range kinds {
			if t.Nodes[a].Kind == k {
				return a
			}
		}
	}
	return NoNode
}
