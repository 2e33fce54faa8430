package evolve

import (
	"math"
	"math/rand/v2"
	"strings"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/pyast"
)

// Defaults for parents with no recorded run: LEMUR's usual SGD settings.
const (
	DefaultLR        = 0.01
	DefaultMomentum  = 0.9
	DefaultDropout   = 0.2
	DefaultBatch     = 64
	DefaultTransform = "norm"
)

// supported returns the hyperparameter names the model's
// supported_hyperparameters() returns as a literal set, list or tuple.
func supported(m *model) []string {
	var out []string
	for _, st := range pyast.Children(m.f.Root()) {
		if st.Kind() != "function_definition" || m.text(st.ChildByFieldName("name")) != "supported_hyperparameters" {
			continue
		}
		pyast.Walk(st.ChildByFieldName("body"), func(n *pyast.Node) bool {
			if n.Kind() != "return_statement" {
				return true
			}
			pyast.Walk(n, func(s *pyast.Node) bool {
				if s.Kind() == "string" {
					t := strings.Trim(m.text(s), `'"`)
					if t != "" {
						out = append(out, t)
					}
					return false
				}
				return true
			})
			return false
		})
	}
	return out
}

// baseHP builds the hyperparameters of a child: the parent's (from its best
// recorded run) for every key the child supports, defaults for the rest,
// and batch.
func baseHP(parent lemur.Dict, keys []string) lemur.Dict {
	hp := lemur.Dict{}
	for _, k := range keys {
		if v, ok := parent.Get(k); ok {
			hp = hp.Set(k, v)
			continue
		}
		switch k {
		case "lr":
			hp = hp.Set(k, DefaultLR)
		case "momentum":
			hp = hp.Set(k, DefaultMomentum)
		case "dropout":
			hp = hp.Set(k, DefaultDropout)
		default:
			hp = hp.Set(k, 0.5) // LEMUR samples every hyperparameter in [0, 1]
		}
	}
	if v, ok := parent.Get("batch"); ok {
		hp = hp.Set("batch", v)
	} else {
		hp = hp.Set("batch", int64(DefaultBatch))
	}
	return hp
}

// perturbHP nudges one hyperparameter: lr on a log scale, the others by a
// small step, all kept in LEMUR's [0, 1] range (lr in [1e-4, 0.1], where
// one-epoch training of small nets works).
func perturbHP(hp lemur.Dict, rng *rand.Rand) (lemur.Dict, string) {
	out := append(lemur.Dict(nil), hp...)
	keys := make([]string, 0, len(out))
	for _, it := range out {
		keys = append(keys, it.Key)
	}
	k := pick(rng, keys)
	switch k {
	case "batch":
		b := pick(rng, []int64{16, 32, 64, 128})
		return out.Set(k, b), "batch=" + lemur.Repr(b)
	case "lr":
		f, _ := out.Float(k)
		if f <= 0 {
			f = DefaultLR
		}
		f = math.Exp(math.Log(f) + rng.NormFloat64()*0.5)
		f = round4(math.Min(math.Max(f, 1e-4), 0.1))
		return out.Set(k, f), "lr=" + lemur.FloatRepr(f)
	default:
		f, ok := out.Float(k)
		if !ok {
			return out, ""
		}
		lo, hi := 0.0, 1.0
		switch k {
		case "momentum":
			lo, hi = 0.5, 0.99
		case "dropout":
			hi = 0.6
		}
		f = round4(math.Min(math.Max(f+rng.NormFloat64()*0.1, lo), hi))
		return out.Set(k, f), k + "=" + lemur.FloatRepr(f)
	}
}

func round4(f float64) float64 {
	// Keep hyperparameters short in prompts and files; lr keeps 3 significant digits.
	if f == 0 {
		return 0
	}
	scale := math.Pow(10, 3-math.Ceil(math.Log10(math.Abs(f))))
	return math.Round(f*scale) / scale
}
