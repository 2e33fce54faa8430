package hpo

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// LEMUR's sampling ranges (ab/nn/util): lr log-uniform, momentum and every
// other [0, 1] key uniform, dropout capped at 0.5, batch a power of two.
const (
	LRLow, LRHigh       = 1e-5, 1.0
	DropoutHigh         = 0.5
	BatchLow, BatchHigh = 1, 4096
)

// TransformBases and TransformSizes are the parts of LEMUR's transform
// names: base, optional _size, optional _flip.
var (
	TransformBases = []string{"echo", "norm", "complex"}
	TransformSizes = []string{"", "32", "64", "128", "256", "299", "512"}
)

// DefaultTransforms are the transforms a search uses unless told otherwise:
// every base at the dataset's own resolution, with and without a flip.
// Resizing ones (norm_256, ...) are valid too but slow on a CPU, so they
// are opt-in through --space transform=cat:...
var DefaultTransforms = []string{"complex", "complex_flip", "echo", "echo_flip", "norm", "norm_flip"}

// AllTransforms lists every LEMUR transform name: base[_size][_flip].
func AllTransforms() []string {
	var out []string
	for _, b := range TransformBases {
		for _, s := range TransformSizes {
			n := b
			if s != "" {
				n += "_" + s
			}
			out = append(out, n, n+"_flip")
		}
	}
	sort.Strings(out)
	return out
}

// ValidTransform reports whether name follows LEMUR's base[_size][_flip].
func ValidTransform(name string) bool {
	parts := strings.Split(name, "_")
	if !slices.Contains(TransformBases, parts[0]) {
		return false
	}
	rest := parts[1:]
	if len(rest) > 0 && rest[len(rest)-1] == "flip" {
		rest = rest[:len(rest)-1]
	}
	switch len(rest) {
	case 0:
		return true
	case 1:
		return rest[0] != "" && slices.Contains(TransformSizes, rest[0])
	}
	return false
}

// LEMURParam is the default range of one hyperparameter a model declares
// in supported_hyperparameters().
func LEMURParam(name string) Param {
	switch name {
	case "lr":
		return Param{Name: name, Kind: Float, Low: LRLow, High: LRHigh, Log: true}
	case "dropout":
		return Param{Name: name, Kind: Float, Low: 0, High: DropoutHigh}
	case "batch":
		return Param{Name: name, Kind: Pow2, Low: BatchLow, High: BatchHigh}
	}
	return Param{Name: name, Kind: Float, Low: 0, High: 1}
}

// LEMURSpace builds the search space of a model: every name its
// supported_hyperparameters() returns with LEMUR's range, plus batch and
// transform (over transforms, DefaultTransforms when empty). Overrides
// replace or add parameters (from --space).
func LEMURSpace(supported []string, transforms []string, overrides ...Param) (*Space, error) {
	if len(transforms) == 0 {
		transforms = DefaultTransforms
	}
	for _, t := range transforms {
		if !ValidTransform(t) {
			return nil, fmt.Errorf("transform %q is not a LEMUR transform name (want echo|norm|complex, optional _32|_64|_128|_256|_299|_512, optional _flip)", t)
		}
	}
	var ps []Param
	seen := map[string]bool{}
	for _, n := range supported {
		if n == "" || seen[n] || n == "batch" || n == "transform" || n == "epoch" {
			continue
		}
		seen[n] = true
		ps = append(ps, LEMURParam(n))
	}
	ps = append(ps, LEMURParam("batch"), Param{Name: "transform", Kind: Categorical, Choices: slices.Clone(transforms)})
	s, err := NewSpace(ps...)
	if err != nil {
		return nil, err
	}
	for _, o := range overrides {
		if s, err = s.With(o); err != nil {
			return nil, err
		}
	}
	return s, nil
}
