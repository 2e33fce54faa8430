// Package hpo is nngpt's hyperparameter optimisation: search spaces built
// from a model's supported_hyperparameters() with LEMUR's ranges, samplers
// behind an ask/tell Study (random search and TPE), pruners that stop weak
// trials between epochs, and one-shot recommenders (learned from the corpus,
// or an LLM) that propose a configuration without searching and can
// warm-start TPE.
//
// Samplers work in a space's internal coordinates: floats as they are (or
// their natural log when log-scaled), ints likewise, powers of two as their
// exponent, categories as their index. Configurations travel as lemur.Dict
// with Python types (lr float64, batch int64, transform string) so they go
// to the worker and into LEMUR records unchanged.
package hpo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/lemur"
)

// Kind is the type of a hyperparameter.
type Kind string

const (
	// Float is a real number in [Low, High], log-uniform when Log is set.
	Float Kind = "float"
	// Int is an integer in [Low, High], log-scaled when Log is set.
	Int Kind = "int"
	// Pow2 is a power of two in [Low, High] (both powers of two), searched
	// over its exponent; LEMUR's batch.
	Pow2 Kind = "pow2"
	// Categorical is one of Choices.
	Categorical Kind = "categorical"
)

// Param is one dimension of a search space.
type Param struct {
	Name    string   `json:"name"`
	Kind    Kind     `json:"kind"`
	Low     float64  `json:"low,omitempty"`
	High    float64  `json:"high,omitempty"`
	Log     bool     `json:"log,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

// Bounds are the internal coordinates' limits: for a categorical, [0, n-1].
func (p *Param) Bounds() (lo, hi float64) {
	switch p.Kind {
	case Categorical:
		return 0, float64(len(p.Choices) - 1)
	case Pow2:
		return math.Log2(p.Low), math.Log2(p.High)
	}
	if p.Log {
		return math.Log(p.Low), math.Log(p.High)
	}
	return p.Low, p.High
}

// Discrete reports whether internal coordinates are whole numbers (ints,
// exponents of powers of two and category indices).
func (p *Param) Discrete() bool { return p.Kind != Float && !(p.Kind == Int && p.Log) }

// Validate checks a parameter definition.
func (p *Param) Validate() error {
	if p.Name == "" {
		return fmt.Errorf("a search-space parameter has no name")
	}
	switch p.Kind {
	case Categorical:
		if len(p.Choices) == 0 {
			return fmt.Errorf("parameter %s: a categorical needs at least one choice", p.Name)
		}
		seen := map[string]bool{}
		for _, c := range p.Choices {
			if seen[c] {
				return fmt.Errorf("parameter %s: choice %q is listed twice", p.Name, c)
			}
			seen[c] = true
		}
		return nil
	case Float, Int, Pow2:
	default:
		return fmt.Errorf("parameter %s: unknown kind %q (want float, int, pow2 or categorical)", p.Name, p.Kind)
	}
	if math.IsNaN(p.Low) || math.IsNaN(p.High) || math.IsInf(p.Low, 0) || math.IsInf(p.High, 0) {
		return fmt.Errorf("parameter %s: bounds must be finite", p.Name)
	}
	if p.Low > p.High {
		return fmt.Errorf("parameter %s: low %g is above high %g", p.Name, p.Low, p.High)
	}
	if (p.Log || p.Kind == Pow2) && p.Low <= 0 {
		return fmt.Errorf("parameter %s: a log-scaled range needs low > 0, got %g", p.Name, p.Low)
	}
	if p.Kind == Int && (p.Low != math.Trunc(p.Low) || p.High != math.Trunc(p.High)) {
		return fmt.Errorf("parameter %s: int bounds must be whole numbers, got [%g, %g]", p.Name, p.Low, p.High)
	}
	if p.Kind == Pow2 && (!isPow2(p.Low) || !isPow2(p.High)) {
		return fmt.Errorf("parameter %s: pow2 bounds must be powers of two, got [%g, %g]", p.Name, p.Low, p.High)
	}
	return nil
}

func isPow2(x float64) bool {
	e := math.Log2(x)
	return x >= 1 && e == math.Trunc(e)
}

// Internal maps a Python-typed value to internal coordinates, clipping
// numbers to the range; ok is false when the value does not fit the kind
// (a string for a float, an unknown category).
func (p *Param) Internal(v lemur.Value) (x float64, ok bool) {
	if p.Kind == Categorical {
		s, isStr := v.(string)
		if !isStr {
			s = lemur.Repr(v)
		}
		i := slices.Index(p.Choices, s)
		return float64(i), i >= 0
	}
	f, isNum := lemur.AsFloat(v)
	if !isNum || math.IsNaN(f) {
		return 0, false
	}
	f = math.Min(math.Max(f, p.Low), p.High)
	switch {
	case p.Kind == Pow2:
		return math.Log2(f), true
	case p.Log:
		return math.Log(f), true
	}
	return f, true
}

// External maps internal coordinates to the Python-typed value, rounding
// discrete kinds and clipping to the range.
func (p *Param) External(x float64) lemur.Value {
	lo, hi := p.Bounds()
	x = math.Min(math.Max(x, lo), hi)
	switch p.Kind {
	case Categorical:
		return p.Choices[int(math.Round(x))]
	case Pow2:
		return int64(1) << int(math.Round(x))
	case Int:
		if p.Log {
			x = math.Exp(x)
		}
		return int64(math.Min(math.Max(math.Round(x), p.Low), p.High))
	}
	if p.Log {
		return math.Min(math.Max(math.Exp(x), p.Low), p.High)
	}
	return x
}

// Unit maps internal coordinates to [0, 1] (categoricals: index/(n-1)); the
// benchmark's surrogate and the learned recommender measure distances here.
func (p *Param) Unit(x float64) float64 {
	lo, hi := p.Bounds()
	if hi <= lo {
		return 0
	}
	return (x - lo) / (hi - lo)
}

// String is the parameter in the --space syntax (see ParseParam).
func (p *Param) String() string {
	switch p.Kind {
	case Categorical:
		return p.Name + "=cat:" + strings.Join(p.Choices, ",")
	case Pow2:
		return fmt.Sprintf("%s=pow2:%g:%g", p.Name, p.Low, p.High)
	}
	k := string(p.Kind)
	if p.Log {
		k = "log"
		if p.Kind == Int {
			k = "logint"
		}
	}
	return fmt.Sprintf("%s=%s:%g:%g", p.Name, k, p.Low, p.High)
}

// ParseParam reads one parameter in the --space syntax:
//
//	lr=log:1e-5:1          log-uniform float
//	momentum=float:0:1     uniform float
//	layers=int:1:8         integer (logint: log-scaled integer)
//	batch=pow2:4:256       power of two
//	transform=cat:norm,echo_flip
func ParseParam(spec string) (Param, error) {
	name, rest, ok := strings.Cut(spec, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Param{}, fmt.Errorf("space %q: want NAME=KIND:ARGS, e.g. lr=log:1e-5:1 or transform=cat:norm,echo", spec)
	}
	kind, args, _ := strings.Cut(rest, ":")
	p := Param{Name: name}
	switch kind {
	case "cat", "categorical":
		p.Kind = Categorical
		for _, c := range strings.Split(args, ",") {
			if c = strings.TrimSpace(c); c != "" {
				p.Choices = append(p.Choices, c)
			}
		}
		return p, p.Validate()
	case "float", "uniform":
		p.Kind = Float
	case "log":
		p.Kind, p.Log = Float, true
	case "int":
		p.Kind = Int
	case "logint":
		p.Kind, p.Log = Int, true
	case "pow2":
		p.Kind = Pow2
	default:
		return Param{}, fmt.Errorf("space %q: unknown kind %q (want float, log, int, logint, pow2 or cat)", spec, kind)
	}
	lo, hi, ok := strings.Cut(args, ":")
	if !ok {
		return Param{}, fmt.Errorf("space %q: want %s=%s:LOW:HIGH", spec, name, kind)
	}
	var err error
	if p.Low, err = strconv.ParseFloat(strings.TrimSpace(lo), 64); err != nil {
		return Param{}, fmt.Errorf("space %q: low %q is not a number", spec, lo)
	}
	if p.High, err = strconv.ParseFloat(strings.TrimSpace(hi), 64); err != nil {
		return Param{}, fmt.Errorf("space %q: high %q is not a number", spec, hi)
	}
	return p, p.Validate()
}

// Space is an ordered set of parameters (sorted by name, so two spaces with
// the same parameters encode configurations the same way).
type Space struct {
	Params []Param `json:"params"`
}

// NewSpace validates and sorts the parameters.
func NewSpace(ps ...Param) (*Space, error) {
	s := &Space{Params: slices.Clone(ps)}
	sort.Slice(s.Params, func(i, j int) bool { return s.Params[i].Name < s.Params[j].Name })
	for i := range s.Params {
		if err := s.Params[i].Validate(); err != nil {
			return nil, err
		}
		if i > 0 && s.Params[i].Name == s.Params[i-1].Name {
			return nil, fmt.Errorf("parameter %s is defined twice", s.Params[i].Name)
		}
	}
	if len(s.Params) == 0 {
		return nil, fmt.Errorf("the search space is empty")
	}
	return s, nil
}

// Index returns the position of a parameter, or -1.
func (s *Space) Index(name string) int {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return i
		}
	}
	return -1
}

// With returns a copy of s where p replaces the parameter of the same name
// (or is added).
func (s *Space) With(p Param) (*Space, error) {
	ps := slices.Clone(s.Params)
	if i := s.Index(p.Name); i >= 0 {
		ps[i] = p
	} else {
		ps = append(ps, p)
	}
	return NewSpace(ps...)
}

// Encode maps a configuration to internal coordinates; a missing or
// unusable value is NaN (samplers skip it for that parameter).
func (s *Space) Encode(cfg lemur.Dict) []float64 {
	x := make([]float64, len(s.Params))
	for i := range s.Params {
		x[i] = math.NaN()
		if v, ok := cfg.Get(s.Params[i].Name); ok {
			if f, ok := s.Params[i].Internal(v); ok {
				x[i] = f
			}
		}
	}
	return x
}

// Decode maps internal coordinates to a configuration with Python types,
// keys in the space's (sorted) order.
func (s *Space) Decode(x []float64) lemur.Dict {
	d := make(lemur.Dict, 0, len(s.Params))
	for i := range s.Params {
		d = append(d, lemur.Item{Key: s.Params[i].Name, Value: s.Params[i].External(x[i])})
	}
	return d
}

// Clip returns cfg restricted to the space: values clipped to ranges and
// rounded to their kind; missing parameters are reported, extra keys and
// unknown categories are errors so a one-shot proposal is rejected with a
// reason rather than silently changed.
func (s *Space) Clip(cfg lemur.Dict) (lemur.Dict, []string, error) {
	var missing []string
	x := make([]float64, len(s.Params))
	for i := range s.Params {
		p := &s.Params[i]
		v, ok := cfg.Get(p.Name)
		if !ok {
			missing = append(missing, p.Name)
			x[i] = math.NaN()
			continue
		}
		f, ok := p.Internal(v)
		if !ok {
			if p.Kind == Categorical {
				return nil, nil, fmt.Errorf("%s=%s is not one of %s", p.Name, lemur.Repr(v), strings.Join(p.Choices, ", "))
			}
			return nil, nil, fmt.Errorf("%s=%s is not a number", p.Name, lemur.Repr(v))
		}
		x[i] = f
	}
	for _, it := range cfg {
		if s.Index(it.Key) < 0 {
			return nil, nil, fmt.Errorf("%s is not a hyperparameter of this search space (%s)", it.Key, strings.Join(s.Names(), ", "))
		}
	}
	if len(missing) > 0 {
		return nil, missing, nil
	}
	out := s.Decode(x)
	// A float already in range keeps its exact value (no log round trip).
	for i := range s.Params {
		p := &s.Params[i]
		if p.Kind != Float {
			continue
		}
		v, _ := cfg.Get(p.Name)
		if f, ok := v.(float64); ok && f >= p.Low && f <= p.High {
			out[i].Value = f
		}
	}
	return out, nil, nil
}

// Names lists the parameter names in order.
func (s *Space) Names() []string {
	out := make([]string, len(s.Params))
	for i := range s.Params {
		out[i] = s.Params[i].Name
	}
	return out
}

// Random draws one point uniformly in internal coordinates (log-uniform for
// log-scaled kinds, uniform over exponents and categories).
func (s *Space) Random(rng *rand.Rand) []float64 {
	x := make([]float64, len(s.Params))
	for i := range s.Params {
		x[i] = s.Params[i].random(rng)
	}
	return x
}

func (p *Param) random(rng *rand.Rand) float64 {
	lo, hi := p.Bounds()
	if p.Discrete() {
		return lo + float64(rng.IntN(int(hi-lo)+1))
	}
	return lo + rng.Float64()*(hi-lo)
}

// String is the space in the --space syntax, one parameter per line.
func (s *Space) String() string {
	var b strings.Builder
	for i := range s.Params {
		b.WriteString(s.Params[i].String())
		b.WriteByte('\n')
	}
	return b.String()
}
