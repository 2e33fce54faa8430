package evolve

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/synth"
)

// OpBlock is the operator of BlockInserter: insert a library block.
const OpBlock = "block"

// Block is a library block (see package rag) evolve can insert: its
// qualified name (module.Class) and its self-contained code.
type Block struct {
	Name string
	Code string
}

// Channel parameter names of block constructors, by role. A block built
// with the same channel count in and out is taken to keep a feature map's
// shape; the gate's build and forward stages confirm it per candidate.
var (
	blockInParams  = []string{"in_channels", "in_planes", "inplanes", "in_chs", "in_ch", "in_c", "channels", "num_channels", "input_channels", "inp", "dim", "c1"}
	blockOutParams = []string{"out_channels", "out_planes", "planes", "out_chs", "out_ch", "out_c", "oup", "c2"}
)

// blockSig is how a block is built to keep the shape of a C-channel map.
type blockSig struct {
	class   string
	in, out string // keyword names; out "" when one parameter sets both
	stride  bool   // has a stride parameter, passed as 1
}

// call is the constructor call for channel expression ch.
func (s blockSig) call(ch string) string {
	args := s.in + "=" + ch
	if s.out != "" {
		args += ", " + s.out + "=" + ch
	}
	if s.stride {
		args += ", stride=1"
	}
	return s.class + "(" + args + ")"
}

// blockSignature works out from the block's __init__ how to build it with
// C channels in and out. Blocks that need other arguments (a layer list, a
// sub-block class) or that change the channel count by design (a class
// attribute expansion other than 1, as in ResNet's Bottleneck) are refused.
func blockSignature(b Block) (blockSig, []string, error) {
	class := b.Name[strings.LastIndex(b.Name, ".")+1:]
	f := pyast.Parse([]byte(b.Code))
	defer f.Close()
	if errs := f.SyntaxErrors(1); len(errs) > 0 {
		return blockSig{}, nil, fmt.Errorf("block %s does not parse: %v", b.Name, errs[0])
	}
	def := f.ClassDef(class)
	if def == nil {
		return blockSig{}, nil, fmt.Errorf("block %s: its code defines no class %s", b.Name, class)
	}
	if def.Kind() == "decorated_definition" {
		def = def.ChildByFieldName("definition")
	}
	var params []*pyast.Node
	for _, st := range pyast.Children(def.ChildByFieldName("body")) {
		switch st.Kind() {
		case "expression_statement":
			if a := st.NamedChild(0); a != nil && a.Kind() == "assignment" && f.Text(a.ChildByFieldName("left")) == "expansion" {
				if v, ok := f.IntLiteral(a.ChildByFieldName("right")); !ok || v != 1 {
					return blockSig{}, nil, fmt.Errorf("block %s: expansion = %s changes the channel count", b.Name, f.Text(a.ChildByFieldName("right")))
				}
			}
		case "function_definition":
			if f.Text(st.ChildByFieldName("name")) == "__init__" {
				params = pyast.Children(st.ChildByFieldName("parameters"))
			}
		}
	}
	sig := blockSig{class: class}
	var required []string
	names := map[string]bool{}
	for i, p := range params {
		var name string
		hasDefault := false
		switch p.Kind() {
		case "identifier":
			name = f.Text(p)
		case "typed_parameter":
			name = f.Text(p.NamedChild(0))
		case "default_parameter", "typed_default_parameter":
			name, hasDefault = f.Text(p.ChildByFieldName("name")), true
		default:
			continue // *args, **kwargs, separators
		}
		if i == 0 {
			continue // self
		}
		names[name] = true
		if name == "stride" {
			sig.stride = true
		}
		if !hasDefault {
			required = append(required, name)
		}
	}
	for _, n := range blockInParams {
		if names[n] && sig.in == "" {
			sig.in = n
		}
	}
	for _, n := range blockOutParams {
		if names[n] && n != sig.in && sig.out == "" {
			sig.out = n
		}
	}
	if sig.in == "" {
		sig.in, sig.out = sig.out, ""
	}
	if sig.in == "" {
		return blockSig{}, nil, fmt.Errorf("block %s: no channel parameter (%s) in its __init__", b.Name, strings.Join(append(blockInParams, blockOutParams...), ", "))
	}
	for _, r := range required {
		if r != sig.in && r != sig.out && r != "stride" {
			return blockSig{}, nil, fmt.Errorf("block %s: __init__ needs %s, which evolve cannot choose", b.Name, r)
		}
	}
	return sig, topNames(f), nil
}

// topNames lists the names a file defines at the top level, imports aside.
func topNames(f *pyast.File) []string {
	var out []string
	for _, st := range pyast.Children(f.Root()) {
		d := st
		if d.Kind() == "decorated_definition" {
			d = d.ChildByFieldName("definition")
		}
		switch d.Kind() {
		case "class_definition", "function_definition":
			out = append(out, f.Text(d.ChildByFieldName("name")))
		case "expression_statement":
			if a := d.NamedChild(0); a != nil && a.Kind() == "assignment" {
				if l := a.ChildByFieldName("left"); l != nil && l.Kind() == "identifier" {
					out = append(out, f.Text(l))
				}
			}
		}
	}
	return out
}

// blockCode is the block's code as it goes into a model file: a
// `from __future__` import must open a file, so it is left out.
func blockCode(code string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(code, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "from __future__ import") {
			continue
		}
		b.WriteString(l)
	}
	return strings.TrimRight(b.String(), "\n") + "\n\n\n"
}

// insertBlock adds the block's code before Net and an instance of it after
// a conv group (the conv with its BatchNorm, activation and dropout) of a
// layer sequence, with the conv's output channels in and out.
func insertBlock(m *model, b Block, sig blockSig, names []string, rng *rand.Rand) (string, string, error) {
	netDef := m.f.ClassDef("Net")
	if netDef == nil {
		return "", "", errNotApplicable
	}
	for _, n := range names {
		if m.f.Defines(n) {
			// Already inserted, or the name means something else here.
			return "", "", errNotApplicable
		}
	}
	type site struct {
		s   seq
		end int
		ch  string
	}
	var sites []site
	for _, s := range m.seqs() {
		for i, e := range s.elems {
			if cv, ok := m.conv(e); ok {
				sites = append(sites, site{s, m.group(s, i), m.text(cv.out.Value)})
			}
		}
	}
	if len(sites) == 0 {
		return "", "", errNotApplicable
	}
	st := pick(rng, sites)
	line := st.s.elems[st.end-1].node.EndPosition().Row + 1
	code, err := m.apply(pyast.InsertAt(netDef.StartByte(), blockCode(b.Code)), m.insertAfter(st.s, st.end-1, sig.call(st.ch)))
	return code, fmt.Sprintf("%s after line %d", b.Name, line), err
}

// BlockInserter is evolve with one operator: it inserts library blocks
// into corpus models, one block per candidate in turn. Blocks whose
// constructor cannot be filled in with a channel count are refused up
// front, with the reason.
type BlockInserter struct {
	Source   Source
	Blocks   []Block
	Seen     func(code string) bool // as in Generator
	MaxTries int                    // per candidate (default 60)
	Log      *slog.Logger
}

// Name implements synth.Generator.
func (g *BlockInserter) Name() string { return Name }

// Generate implements synth.Generator.
func (g *BlockInserter) Generate(ctx context.Context, req synth.Request) iter.Seq2[*synth.Candidate, error] {
	return func(yield func(*synth.Candidate, error) bool) {
		if err := req.Validate(); err != nil {
			yield(nil, err)
			return
		}
		if g.Source == nil || len(g.Blocks) == 0 {
			yield(nil, errors.New("evolve: block insertion needs a parent source and at least one block"))
			return
		}
		type usable struct {
			b     Block
			sig   blockSig
			names []string
		}
		var blocks []usable
		var refused []error
		for _, b := range g.Blocks {
			sig, names, err := blockSignature(b)
			if err != nil {
				refused = append(refused, err)
				continue
			}
			blocks = append(blocks, usable{b, sig, names})
		}
		if len(blocks) == 0 {
			yield(nil, fmt.Errorf("evolve: no block can be inserted: %w", errors.Join(refused...)))
			return
		}
		log, tries, seed, rng := runSettings(g.Log, g.MaxTries, req.Seed)
		for _, err := range refused {
			log.Warn("evolve: block skipped", "err", err)
		}
		pool, seen, err := loadPool(ctx, g.Source, req, log)
		if err != nil {
			yield(nil, err)
			return
		}
		defer closePool(pool)
		for n := 0; n < req.N; n++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			start := time.Now()
			u := blocks[n%len(blocks)]
			var c *synth.Candidate
			for try := 0; try < tries && c == nil; try++ {
				p := tournament(pool, rng)
				code, detail, err := insertBlock(p.m, u.b, u.sig, u.names, rng)
				if err != nil {
					continue
				}
				m, err := parseModel(code)
				if err != nil {
					log.Warn("evolve: block insertion produced unparsable code", "block", u.b.Name, "parent", p.Name, "err", err)
					continue
				}
				if err := contractKept(m, p.m); err != nil || seen.dup(m) != "" || (g.Seen != nil && g.Seen(code)) {
					m.close()
					continue
				}
				c = synth.New(Name, code)
				seen.add(m, c.Name)
				c.Parents = []string{p.Name}
				c.Operators = []string{OpBlock + ":" + detail}
				c.Transform = p.Transform
				if c.Transform == "" {
					c.Transform = DefaultTransform
				}
				c.HP = baseHP(p.HP, supported(m))
				m.close()
			}
			if c == nil {
				yield(nil, fmt.Errorf("evolve: block %s: no new model after %d attempts (%d parents): no layer sequence with a conv to insert it after, or only duplicates", u.b.Name, tries, len(pool)))
				return
			}
			c.Task, c.Dataset, c.Metric = req.Task, req.Dataset, req.Metric
			c.Seed = seed
			c.Elapsed = time.Since(start)
			if !yield(c, nil) {
				return
			}
		}
	}
}

var _ synth.Generator = (*BlockInserter)(nil)
