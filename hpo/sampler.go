package hpo

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Observation is a finished trial as a sampler sees it: internal
// coordinates (NaN where the trial has no value for a parameter) and a loss
// to minimise (the study negates accuracies). Pruned trials rank after every
// complete one, ordered by how far they got and then by their last value,
// as Optuna ranks them. Pending observations are trials still running:
// their X is known, their loss is not (samplers may treat them as the worst,
// so parallel workers do not propose the same point).
type Observation struct {
	X       []float64
	Loss    float64
	Pruned  bool
	Pending bool
	Step    int // last reported step of a pruned trial
	// Losses are every objective of a complete trial of a multi-objective
	// study, each to minimise; nil otherwise.
	Losses []float64
}

// Sampler proposes the next point of a search. Implementations must be
// deterministic given rng, so a study seeded with the same seed replays.
type Sampler interface {
	Name() string
	// Sample returns internal coordinates for the next trial given the
	// finished observations in the order they were asked.
	Sample(sp *Space, obs []Observation, rng *rand.Rand) []float64
}

// RandomSampler draws every parameter independently and uniformly in its
// internal coordinates.
type RandomSampler struct{}

// Name implements Sampler.
func (RandomSampler) Name() string { return "random" }

// Sample implements Sampler.
func (RandomSampler) Sample(sp *Space, _ []Observation, rng *rand.Rand) []float64 {
	return sp.Random(rng)
}

// NewSampler returns the sampler with the given name: tpe (multivariate),
// tpe-univariate or random.
func NewSampler(name string) (Sampler, error) {
	switch name {
	case "random":
		return RandomSampler{}, nil
	case "tpe":
		return NewTPE(), nil
	case "tpe-univariate":
		return NewUnivariateTPE(), nil
	}
	return nil, fmt.Errorf("unknown sampler %q (want tpe, tpe-univariate or random)", name)
}

// NewRand is the generator a study uses for one trial: it depends only on
// the study's seed and the trial number, so a resumed or shared study draws
// the same numbers for the same trial.
func NewRand(seed uint64, trial int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(trial)*0x9E3779B97F4A7C15+0x632BE59BD9B4E019))
}

// lessObs orders observations best first.
func lessObs(a, b *Observation) bool {
	if a.Pending != b.Pending {
		return !a.Pending
	}
	if a.Pruned != b.Pruned {
		return !a.Pruned
	}
	if a.Pruned && a.Step != b.Step {
		return a.Step > b.Step
	}
	if math.IsNaN(a.Loss) {
		return false
	}
	if math.IsNaN(b.Loss) {
		return true
	}
	return a.Loss < b.Loss
}
