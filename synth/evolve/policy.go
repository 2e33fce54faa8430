package evolve

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/nngpt/nngpt/synth"
)

// Operator names. A candidate's Operators entries start with one of them.
const (
	OpActivation = "activation" // swap an activation (nn.ReLU -> nn.SiLU, F.relu -> F.gelu)
	OpKernel     = "kernel"     // change a same-padded conv's kernel size (3 -> 5), padding kept "same"
	OpWidth      = "width"      // change a channel width between two layers of one Sequential
	OpWidthAll   = "widthall"   // change every use of one width literal in the file
	OpDropout    = "dropout"    // insert, remove or retune a dropout layer
	OpBatchNorm  = "batchnorm"  // insert or remove a BatchNorm2d after a conv
	OpConv       = "conv"       // insert a shape-keeping conv-BN-act block, or remove a shape-keeping conv
	OpResidual   = "residual"   // add a residual conv block, or wrap a shape-keeping conv in a skip connection
	OpPool       = "pool"       // swap max <-> average pooling
	OpCrossover  = "crossover"  // transplant a conv segment of a second parent
	OpHP         = "hp"         // perturb lr, momentum, dropout, batch or transform (always with a code change)
)

// CodeOperators lists the operators that change code, in a fixed order.
var CodeOperators = []string{OpActivation, OpKernel, OpWidth, OpWidthAll, OpDropout, OpBatchNorm, OpConv, OpResidual, OpPool, OpCrossover}

// DefaultWeights favour operators that change a model's capacity and are
// shape-safe by construction; the global width rewrite, which relies on a
// literal meaning one width everywhere, is the least trusted.
var DefaultWeights = map[string]float64{
	OpActivation: 1.0,
	OpKernel:     1.0,
	OpWidth:      1.2,
	OpWidthAll:   0.6,
	OpDropout:    0.7,
	OpBatchNorm:  0.6,
	OpConv:       1.0,
	OpResidual:   0.8,
	OpPool:       0.5,
	OpCrossover:  1.0,
}

// Policy is how evolve chooses operators: a weight per operator, sampled
// in proportion. It is the part a later step learns (a bandit over the
// candidates' outcomes): Update moves a weight by a reward, Weights and
// SetWeights read and restore it. Safe for concurrent use.
type Policy struct {
	mu sync.Mutex
	w  map[string]float64
	// LearningRate scales Update's multiplicative step (default 0.2).
	LearningRate float64
	// Floor keeps every operator reachable: no weight drops below it.
	Floor float64
	// StackProb is the chance of applying a second code operator on top of
	// the first.
	StackProb float64
	// HPProb is the chance of also perturbing the hyperparameters.
	HPProb float64
}

// NewPolicy returns a policy with DefaultWeights.
func NewPolicy() *Policy {
	p := &Policy{w: map[string]float64{}, LearningRate: 0.2, Floor: 0.02, StackProb: 0.3, HPProb: 0.5}
	for k, v := range DefaultWeights {
		p.w[k] = v
	}
	return p
}

// Weights returns a copy of the operator weights.
func (p *Policy) Weights() map[string]float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]float64, len(p.w))
	for k, v := range p.w {
		out[k] = v
	}
	return out
}

// SetWeights replaces the weights; unknown operators and negative or
// non-finite weights are an error, missing ones keep their value.
func (p *Policy) SetWeights(w map[string]float64) error {
	for k, v := range w {
		if _, ok := DefaultWeights[k]; !ok {
			return fmt.Errorf("policy: unknown operator %q (want one of %v)", k, CodeOperators)
		}
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("policy: weight of %s is %v, want a finite number >= 0", k, v)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range w {
		p.w[k] = v
	}
	return nil
}

// Update moves op's weight by reward: w *= exp(rate * reward), so a reward
// of +1 (the candidate trained well) raises it and -1 (it failed) lowers
// it, never below Floor.
func (p *Policy) Update(op string, reward float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.w[op]
	if !ok || math.IsNaN(reward) {
		return
	}
	w *= math.Exp(p.LearningRate * reward)
	p.w[op] = math.Max(w, p.Floor)
}

// Learn credits every code operator a candidate went through (its
// Operators entries, "<op>:<detail>") with reward, e.g. +1 when it trained
// above 1.2 x chance and -1 when it failed a check. Operators of other
// generators and the hp perturbation are ignored.
func (p *Policy) Learn(c *synth.Candidate, reward float64) {
	if c == nil || c.Generator != Name {
		return
	}
	for _, o := range c.Operators {
		op, _, _ := strings.Cut(o, ":")
		p.Update(op, reward)
	}
}

// pick samples an operator among those allowed (nil: all) in proportion
// to the weights; ok is false when none has weight.
func (p *Policy) pick(rng *rand.Rand, allowed func(string) bool) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var total float64
	for _, op := range CodeOperators {
		if allowed == nil || allowed(op) {
			total += p.w[op]
		}
	}
	if total <= 0 {
		return "", false
	}
	x := rng.Float64() * total
	last := ""
	for _, op := range CodeOperators {
		if allowed != nil && !allowed(op) || p.w[op] <= 0 {
			continue
		}
		last = op
		if x < p.w[op] {
			return op, true
		}
		x -= p.w[op]
	}
	return last, last != ""
}

type policyJSON struct {
	Weights      map[string]float64 `json:"weights"`
	LearningRate float64            `json:"learning_rate"`
	Floor        float64            `json:"floor"`
	StackProb    float64            `json:"stack_prob"`
	HPProb       float64            `json:"hp_prob"`
}

// MarshalJSON saves the policy so a learned one can be stored and reused.
func (p *Policy) MarshalJSON() ([]byte, error) {
	w := p.Weights()
	return json.Marshal(policyJSON{Weights: w, LearningRate: p.LearningRate, Floor: p.Floor, StackProb: p.StackProb, HPProb: p.HPProb})
}

// UnmarshalJSON restores a saved policy over the defaults.
func (p *Policy) UnmarshalJSON(data []byte) error {
	def := NewPolicy()
	j := policyJSON{LearningRate: def.LearningRate, Floor: def.Floor, StackProb: def.StackProb, HPProb: def.HPProb}
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	p.w = def.w
	p.LearningRate, p.Floor, p.StackProb, p.HPProb = j.LearningRate, j.Floor, j.StackProb, j.HPProb
	return p.SetWeights(j.Weights)
}

// String lists the weights, for logs.
func (p *Policy) String() string {
	w := p.Weights()
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s=%.3g ", k, w[k])
	}
	return s
}
