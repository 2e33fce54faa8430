package predict

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/pyast"
)

// Code feature groups: what of a model's code the learned model reads.
// Each is measured on and off by 'nngpt bench predict --code-features'.
const (
	// CodeStructure is pyast's features: layer counts by type, depth,
	// widths, kernel sizes, estimated parameters, residual, attention and
	// normalisation traits, size and the structural family.
	CodeStructure = "structure"
	// CodeEmbedding is a hashed bag of the code's syntax and call n-grams
	// (EmbedDims values), randomly projected to ProjectDims columns.
	CodeEmbedding = "embedding"
	// CodeNeighbours is the similarity of the code to the training models
	// (cosine of the hashed bags) and how those neighbours did on the
	// run's dataset: the nearest model's median best accuracy and a
	// similarity-weighted mean over the closest ones.
	CodeNeighbours = "neighbours"
)

// CodeGroups lists every group, in column order.
var CodeGroups = []string{CodeStructure, CodeEmbedding, CodeNeighbours}

// DefaultCodeGroups are the groups a predictor uses unless told otherwise:
// those that lowered the held-out error on the development archive (see
// 'nngpt bench predict --code-features'). At k = 0 structure and the
// embedding each lower the pooled RMSE (0.123 without code, 0.112 and
// 0.114 alone, 0.110 together) while the neighbour columns raise it
// (0.123, and 0.117 beside structure): the trees learn more from the code
// itself than from how similar models did.
var DefaultCodeGroups = []string{CodeStructure, CodeEmbedding}

// ParseCodeGroups reads a comma-separated list of groups; "none" is no
// code at all and "default" or "" is DefaultCodeGroups.
func ParseCodeGroups(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "default":
		return slices.Clone(DefaultCodeGroups), nil
	case "none":
		return []string{}, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(CodeGroups, p) {
			return nil, fmt.Errorf("code feature group %q: want some of %s, none or default", p, strings.Join(CodeGroups, ","))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// EmbedDims is the size of the hashed bag of code n-grams; ProjectDims is
// how many random projections of it the embedding group adds as columns.
const (
	EmbedDims   = 128
	ProjectDims = 8
	embedPrefix = "emb_"
)

// CodeFeaturesOf extracts code features from a model's source with pyast:
// layer counts by type, depth, widths, estimated parameters, residual,
// attention and normalisation flags, the structural family (one-hot) and
// the hashed bag of syntax and call n-grams (keys emb_000 ...) that code
// similarity is measured on. Code that does not parse gives an error;
// predict without code then.
func CodeFeaturesOf(src []byte) (CodeFeatures, error) {
	f := pyast.Parse(src)
	defer f.Close()
	a := pyast.AnalyzeFile(f)
	if len(a.Syntax) > 0 {
		return nil, fmt.Errorf("code features: the code does not parse: %v", a.Syntax[0])
	}
	names := pyast.FeatureNames()
	vec := a.Features.Vector()
	cf := make(CodeFeatures, len(names)+EmbedDims)
	for i, n := range names {
		if i < len(vec) {
			cf[n] = vec[i]
		}
	}
	for i, v := range embed(f.Tree()) {
		if v != 0 {
			cf[embedKey(i)] = v
		}
	}
	return cf, nil
}

func embedKey(i int) string { return fmt.Sprintf("%s%03d", embedPrefix, i) }

// embed hashes a tree into a unit vector: parent>child kinds of named
// nodes (the shape of the code), callee names (the layers and functions it
// uses), consecutive callee pairs (their order) and integer literals (its
// widths and kernel sizes), each counted, log-damped and hashed with a
// sign so collisions cancel out on average. Renamed copies hash alike.
func embed(t *pyast.Tree) []float64 {
	counts := map[string]float64{}
	prev := ""
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if !n.Named {
			continue
		}
		parent := "root"
		if n.Parent != pyast.NoNode {
			parent = t.Nodes[n.Parent].Kind
		}
		counts["k:"+parent+">"+n.Kind]++
		switch n.Kind {
		case "call":
			name := calleeName(t, t.Field(pyast.NodeID(i), "function"))
			if name == "" {
				continue
			}
			counts["c:"+name]++
			counts["s:"+prev+">"+name]++
			prev = name
		case "integer":
			if v, err := strconv.Atoi(t.Text(pyast.NodeID(i))); err == nil {
				counts["i:"+strconv.Itoa(v)]++
			}
		}
	}
	v := make([]float64, EmbedDims)
	for tok, c := range counts {
		h := fnv.New64a()
		h.Write([]byte(tok))
		x := h.Sum64()
		sign := 1.0
		if x>>63 == 1 {
			sign = -1
		}
		v[x%EmbedDims] += sign * math.Log1p(c)
	}
	norm := 0.0
	for _, x := range v {
		norm += x * x
	}
	if norm > 0 {
		norm = math.Sqrt(norm)
		for i := range v {
			v[i] /= norm
		}
	}
	return v
}

// calleeName is the last name of a call's function: Conv2d for
// nn.Conv2d(...), relu for F.relu(...), "" for computed callees.
func calleeName(t *pyast.Tree, fn pyast.NodeID) string {
	if fn == pyast.NoNode {
		return ""
	}
	switch t.Kind(fn) {
	case "identifier":
		return t.Text(fn)
	case "attribute":
		return t.Text(t.Field(fn, "attribute"))
	}
	return ""
}

// embedding reads the hashed bag back from code features; nil when the
// code is unknown or was analysed without it.
func embedding(cf CodeFeatures) []float64 {
	if cf == nil {
		return nil
	}
	v := make([]float64, EmbedDims)
	any := false
	for i := range v {
		if x, ok := cf[embedKey(i)]; ok {
			v[i], any = x, true
		}
	}
	if !any {
		return nil
	}
	return v
}

// projection is the fixed random matrix of the embedding group (the same
// for every model, so it need not be saved).
var projection = func() [][]float64 {
	rng := rand.New(rand.NewPCG(0x6e6e677074, 17))
	p := make([][]float64, ProjectDims)
	for i := range p {
		p[i] = make([]float64, EmbedDims)
		for j := range p[i] {
			p[i][j] = rng.NormFloat64()
		}
	}
	return p
}()

func cosine(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s // both are unit vectors
}
