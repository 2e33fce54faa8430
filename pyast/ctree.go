package pyast

/*
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>

// The layouts and prototypes below are tree-sitter's (api.h of the pinned
// go-tree-sitter v0.25.0), declared here because that module's include
// directory is not on this package's include path. The symbols are linked
// from go-tree-sitter itself.
typedef struct { uint32_t context[4]; const void *id; const void *tree; } pyast_TSNode;
typedef struct { const void *tree; const void *id; uint32_t context[3]; } pyast_TSTreeCursor;

pyast_TSTreeCursor ts_tree_cursor_new(pyast_TSNode node);
void ts_tree_cursor_delete(pyast_TSTreeCursor *self);
pyast_TSNode ts_tree_cursor_current_node(const pyast_TSTreeCursor *self);
uint16_t ts_tree_cursor_current_field_id(const pyast_TSTreeCursor *self);
bool ts_tree_cursor_goto_parent(pyast_TSTreeCursor *self);
bool ts_tree_cursor_goto_next_sibling(pyast_TSTreeCursor *self);
bool ts_tree_cursor_goto_first_child(pyast_TSTreeCursor *self);
uint16_t ts_node_symbol(pyast_TSNode self);
uint32_t ts_node_start_byte(pyast_TSNode self);
uint32_t ts_node_end_byte(pyast_TSNode self);
bool ts_node_is_missing(pyast_TSNode self);

void ts_set_allocator(void *(*new_malloc)(size_t), void *(*new_calloc)(size_t, size_t),
	void *(*new_realloc)(void *, size_t), void (*new_free)(void *));
void *ts_parser_parse_string(void *self, const void *old_tree, const char *string, uint32_t length);

// go-tree-sitter routes every allocation of the C library through Go
// callbacks (C -> Go -> C.malloc); a callback costs about a microsecond and
// a parse makes thousands. libc's functions are what those callbacks end
// up calling, so memory allocated either way is freed correctly either way.
static void pyast_libc_allocator(void) { ts_set_allocator(malloc, calloc, realloc, free); }

typedef struct {
	uint32_t start, end;
	int32_t parent, first, next;
	uint16_t sym, field;
	uint8_t missing;
} pyast_rec;

// pyast_flatten writes the nodes under *root in pre-order with their
// parent, first-child and next-sibling links, at most cap of them, and
// returns how many it wrote (-1: out of memory). One cgo call per file
// instead of several per node.
static int pyast_flatten(const void *root, pyast_rec *out, int cap) {
	if (cap <= 0) return 0;
	int32_t *stack = malloc(sizeof(int32_t) * (size_t)cap);
	int32_t *last = malloc(sizeof(int32_t) * (size_t)cap);
	if (!stack || !last) { free(stack); free(last); return -1; }
	int depth = 0, n = 0;
	pyast_TSTreeCursor c = ts_tree_cursor_new(*(const pyast_TSNode *)root);
	for (;;) {
		if (n >= cap) break;
		pyast_TSNode node = ts_tree_cursor_current_node(&c);
		pyast_rec *r = &out[n];
		r->start = ts_node_start_byte(node);
		r->end = ts_node_end_byte(node);
		r->sym = ts_node_symbol(node);
		r->field = ts_tree_cursor_current_field_id(&c);
		r->missing = r->start == r->end && ts_node_is_missing(node);
		r->first = -1;
		r->next = -1;
		r->parent = -1;
		if (depth > 0) {
			int32_t p = stack[depth - 1];
			r->parent = p;
			if (last[depth - 1] < 0) out[p].first = n; else out[last[depth - 1]].next = n;
			last[depth - 1] = n;
		}
		int id = n++;
		if (ts_tree_cursor_goto_first_child(&c)) {
			stack[depth] = id;
			last[depth] = -1;
			depth++;
			continue;
		}
		bool done = false;
		while (!ts_tree_cursor_goto_next_sibling(&c)) {
			if (depth == 0 || !ts_tree_cursor_goto_parent(&c)) { done = true; break; }
			depth--;
		}
		if (done) break;
	}
	ts_tree_cursor_delete(&c);
	free(stack);
	free(last);
	return n;
}
*/
import "C"

import (
	"sort"
	"unsafe"

	sitter "github.com/tree-sitter/go-tree-sitter"
)

func init() { C.pyast_libc_allocator() }

// parseString parses src with ts_parser_parse_string, without the read
// callback (C -> Go per chunk) that sitter.Parser.Parse uses. It relies on
// the layout of the pinned go-tree-sitter v0.25.0: Parser and Tree are
// structs holding only the C pointer (TestParseStringMatchesParse checks).
func parseString(p *sitter.Parser, src []byte) *sitter.Tree {
	inner := *(*unsafe.Pointer)(unsafe.Pointer(p))
	var text *C.char
	if len(src) > 0 {
		text = (*C.char)(unsafe.Pointer(&src[0]))
	}
	tp := C.ts_parser_parse_string(inner, nil, text, C.uint32_t(len(src)))
	t := new(sitter.Tree)
	*(*unsafe.Pointer)(unsafe.Pointer(t)) = tp
	return t
}

// flatten copies the tree under root (a *Node, whose memory is a C TSNode)
// into Go records with one cgo call.
func flatten(root *Node) []C.pyast_rec {
	n := int(root.DescendantCount())
	if n == 0 {
		return nil
	}
	recs := make([]C.pyast_rec, n)
	got := C.pyast_flatten(unsafe.Pointer(root), &recs[0], C.int(n))
	if got < 0 {
		panic("pyast: out of memory flattening a syntax tree")
	}
	return recs[:got]
}

// Tree copies f's syntax tree into Go memory. The result stays valid after
// f is closed.
func (f *File) Tree() *Tree {
	namesOnce.Do(loadNames)
	recs := flatten(f.Root())
	t := &Tree{Src: f.Src, Nodes: make([]TNode, len(recs))}
	// Lines from byte offsets: pre-order starts never decrease, so one
	// forward pass over the line starts serves every node (binary search
	// when a node would go back, which tree-sitter does not do).
	lineStarts := make([]uint32, 1, 256)
	for i, b := range f.Src {
		if b == '\n' {
			lineStarts = append(lineStarts, uint32(i+1))
		}
	}
	line := 0 // index into lineStarts of the current node's line
	for i := range recs {
		r := &recs[i]
		tn := &t.Nodes[i]
		tn.Start, tn.End = uint32(r.start), uint32(r.end)
		tn.Parent, tn.First, tn.Next = NodeID(r.parent), NodeID(r.first), NodeID(r.next)
		tn.Missing = r.missing != 0
		sym := int(r.sym)
		switch {
		case sym == 0xFFFF:
			tn.Kind, tn.Named, tn.Error = "ERROR", true, true
		case sym < len(kindNames):
			tn.Kind, tn.Named = kindNames[sym], kindNamed[sym]
		default:
			tn.Kind = "UNKNOWN"
		}
		if fid := int(r.field); fid > 0 && fid < len(fieldNames) {
			tn.Field = fieldNames[fid]
		}
		if tn.Start < lineStarts[line] {
			line = sort.Search(len(lineStarts), func(k int) bool { return lineStarts[k] > tn.Start }) - 1
		}
		for line+1 < len(lineStarts) && lineStarts[line+1] <= tn.Start {
			line++
		}
		tn.Line = int32(line + 1)
	}
	return t
}
