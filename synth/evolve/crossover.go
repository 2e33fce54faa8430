package evolve

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/nngpt/nngpt/pyast"
)

// segment is a run of conv-stage layers inside one sequence whose channel
// and resolution effect is known: it maps (cin, H, W) to
// (cout, H/2^halvings, W/2^halvings).
type segment struct {
	s             seq
	from, to      int // elements [from, to)
	first, last   int // the first and the last conv
	halvings      int
	cin, cout     pyast.Arg
	trailingBN    []pyast.Arg // BatchNorms of the last conv's output
	start, end    uint        // byte range of the elements
	selfContained bool        // no names but nn/torch/F inside, apart from cin and cout
	convs         int
}

// halving returns how many times an element halves the resolution, or -1
// when the effect is unknown. ok is false for elements that cannot sit in a
// segment at all.
func (m *model) halving(e elem) (h int, ok bool) {
	if !e.isCall {
		return 0, false
	}
	if cv, isConv := m.conv(e); isConv {
		if !cv.samePadded() {
			return 0, false
		}
		switch cv.stride {
		case 1:
			return 0, true
		case 2:
			return 1, true
		}
		return 0, false
	}
	if _, isBN := bnArg(e); isBN || isPassthrough(e.layer) {
		return 0, true
	}
	if e.layer == "MaxPool2d" || e.layer == "AvgPool2d" {
		c := e.call
		lit := func(pos int, kw string, def int) int {
			a, ok := c.Arg(pos, kw)
			if !ok {
				return def
			}
			if v, ok := m.f.IntLiteral(a.Value); ok {
				return v
			}
			return -1
		}
		k := lit(0, "kernel_size", -1)
		s := lit(1, "stride", k)
		p := lit(2, "padding", 0)
		if c.Positional() > 3 || c.HasKeyword("ceil_mode") || c.HasKeyword("dilation") {
			return 0, false
		}
		switch {
		case k == 2 && s == 2 && p == 0, k == 3 && s == 2 && p == 1:
			return 1, true
		case k == 3 && s == 1 && p == 1:
			return 0, true
		}
	}
	return 0, false
}

// segments lists the analysable conv segments of the file: runs that start
// with a plain conv and end after the group of a plain conv.
func (m *model) segments() []segment {
	var out []segment
	for _, s := range m.seqs() {
		for i := range s.elems {
			cv, ok := m.conv(s.elems[i])
			if !ok || cv.grouped {
				continue
			}
			h := 0
			convs := 0
			for j := i; j < len(s.elems); j++ {
				hj, ok := m.halving(s.elems[j])
				if !ok {
					break
				}
				h += hj
				lc, isConv := m.conv(s.elems[j])
				if !isConv {
					continue
				}
				convs++
				if lc.grouped {
					continue
				}
				end := m.group(s, j)
				// Pools right after the group belong to the stage.
				hh := h
				for end < len(s.elems) {
					if x, ok := m.halving(s.elems[end]); ok && (s.elems[end].layer == "MaxPool2d" || s.elems[end].layer == "AvgPool2d") {
						hh += x
						end++
						continue
					}
					break
				}
				seg := segment{s: s, from: i, to: end, first: i, last: j, halvings: hh, cin: cv.in, cout: lc.out, convs: convs}
				for k := j + 1; k < end; k++ {
					if a, ok := bnArg(s.elems[k]); ok {
						seg.trailingBN = append(seg.trailingBN, a)
					}
				}
				seg.start, seg.end = s.elems[i].node.StartByte(), s.elems[end-1].node.EndByte()
				seg.selfContained = m.selfContained(seg)
				out = append(out, seg)
			}
		}
	}
	return out
}

// allowedNames may appear in a transplanted segment.
var allowedNames = map[string]bool{"nn": true, "torch": true, "F": true, "True": true, "False": true, "None": true}

// selfContained reports whether the segment names nothing of its file's
// scope apart from its input and output widths, so it can move to another
// file.
func (m *model) selfContained(seg segment) bool {
	skip := map[span]bool{spanOf(seg.cin.Value): true, spanOf(seg.cout.Value): true}
	for _, a := range seg.trailingBN {
		skip[spanOf(a.Value)] = true
	}
	ok := true
	for k := seg.from; k < seg.to && ok; k++ {
		pyast.Walk(seg.s.elems[k].node, func(n *pyast.Node) bool {
			if !ok || skip[spanOf(n)] {
				return false
			}
			if n.Kind() != "identifier" {
				return true
			}
			p := n.Parent()
			switch {
			case allowedNames[m.text(n)]:
			case p != nil && p.Kind() == "keyword_argument" && p.ChildByFieldName("name") != nil && p.ChildByFieldName("name").StartByte() == n.StartByte():
			case p != nil && p.Kind() == "attribute" && p.ChildByFieldName("attribute") != nil && p.ChildByFieldName("attribute").StartByte() == n.StartByte():
			default:
				ok = false
			}
			return true
		})
	}
	return ok
}

// crossover replaces a conv segment of a with a conv segment of b that
// halves the resolution as often, rewiring b's input and output widths to
// a's so the rest of a sees the shapes it expects.
func crossover(a, b *model, rng *rand.Rand) (string, string, error) {
	if a.nn == "" || a.nn != b.nn {
		return "", "", errNotApplicable
	}
	segA := a.segments()
	var donors []segment
	for _, s := range b.segments() {
		if s.selfContained {
			donors = append(donors, s)
		}
	}
	if len(segA) == 0 || len(donors) == 0 {
		return "", "", errNotApplicable
	}
	type pair struct{ x, y segment }
	var pairs []pair
	for _, x := range segA {
		for _, y := range donors {
			if x.halvings == y.halvings && (x.convs > 1 || y.convs > 1) && !a.readsPrmIn(x.s, x.from, x.to) {
				pairs = append(pairs, pair{x, y})
			}
		}
	}
	if len(pairs) == 0 {
		return "", "", errNotApplicable
	}
	p := pick(rng, pairs)
	// b's segment text with its widths at the border replaced by a's.
	edits := []pyast.Edit{
		shift(pyast.Replace(p.y.cin.Value, a.text(p.x.cin.Value)), p.y.start),
	}
	if p.y.cout.Value.StartByte() != p.y.cin.Value.StartByte() {
		edits = append(edits, shift(pyast.Replace(p.y.cout.Value, a.text(p.x.cout.Value)), p.y.start))
	}
	for _, bn := range p.y.trailingBN {
		edits = append(edits, shift(pyast.Replace(bn.Value, a.text(p.x.cout.Value)), p.y.start))
	}
	donor, err := pyast.ApplyEdits(b.f.Src[p.y.start:p.y.end], edits)
	if err != nil {
		return "", "", fmt.Errorf("crossover: %w", err)
	}
	text := string(donor)
	if !p.x.s.multiline {
		text = strings.Join(strings.Fields(text), " ")
	}
	code, err := a.apply(pyast.Edit{Start: p.x.start, End: p.x.end, Text: text})
	detail := fmt.Sprintf("lines %d-%d <- %d convs (x%d down)", p.x.s.elems[p.x.from].node.StartPosition().Row+1,
		p.x.s.elems[p.x.to-1].node.EndPosition().Row+1, p.y.convs, 1<<p.y.halvings)
	return code, detail, err
}

func shift(e pyast.Edit, by uint) pyast.Edit {
	e.Start -= by
	e.End -= by
	return e
}
