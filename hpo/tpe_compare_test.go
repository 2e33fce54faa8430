package hpo

import (
	"math"
	"testing"

	"github.com/c-bata/goptuna"
	gtpe "github.com/c-bata/goptuna/tpe"

	"github.com/nngpt/nngpt/lemur"
)

// benchFn is a standard test function to minimise over a space.
type benchFn struct {
	name  string
	space []Param
	f     func(cfg lemur.Dict) float64
	// suggest asks goptuna for the same parameters.
	suggest func(t goptuna.Trial) (lemur.Dict, error)
}

func num(cfg lemur.Dict, k string) float64 { f, _ := cfg.Float(k); return f }

func floatFn(name string, lo, hi float64, dims int, f func(x []float64) float64) benchFn {
	keys := []string{"x0", "x1", "x2", "x3", "x4"}[:dims]
	var ps []Param
	for _, k := range keys {
		ps = append(ps, Param{Name: k, Kind: Float, Low: lo, High: hi})
	}
	return benchFn{
		name: name, space: ps,
		f: func(cfg lemur.Dict) float64 {
			x := make([]float64, dims)
			for i, k := range keys {
				x[i] = num(cfg, k)
			}
			return f(x)
		},
		suggest: func(t goptuna.Trial) (lemur.Dict, error) {
			var d lemur.Dict
			for _, k := range keys {
				v, err := t.SuggestFloat(k, lo, hi)
				if err != nil {
					return nil, err
				}
				d = append(d, lemur.Item{Key: k, Value: v})
			}
			return d, nil
		},
	}
}

func standardFunctions() []benchFn {
	sphere := floatFn("sphere-3d", -5, 5, 3, func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += (v - 1) * (v - 1)
		}
		return s
	})
	rosen := floatFn("rosenbrock-2d", -2, 2, 2, func(x []float64) float64 {
		return 100*math.Pow(x[1]-x[0]*x[0], 2) + math.Pow(1-x[0], 2)
	})
	ackley := floatFn("ackley-2d", -5, 5, 2, func(x []float64) float64 {
		a := -20 * math.Exp(-0.2*math.Sqrt(0.5*(x[0]*x[0]+x[1]*x[1])))
		b := -math.Exp(0.5 * (math.Cos(2*math.Pi*x[0]) + math.Cos(2*math.Pi*x[1])))
		return a + b + math.E + 20
	})
	branin := benchFn{
		name:  "branin",
		space: []Param{{Name: "x0", Kind: Float, Low: -5, High: 10}, {Name: "x1", Kind: Float, Low: 0, High: 15}},
		f: func(cfg lemur.Dict) float64 {
			x, y := num(cfg, "x0"), num(cfg, "x1")
			b, c := 5.1/(4*math.Pi*math.Pi), 5/math.Pi
			return math.Pow(y-b*x*x+c*x-6, 2) + 10*(1-1/(8*math.Pi))*math.Cos(x) + 10 - 0.397887
		},
		suggest: func(t goptuna.Trial) (lemur.Dict, error) {
			x, _ := t.SuggestFloat("x0", -5, 10)
			y, err := t.SuggestFloat("x1", 0, 15)
			return lemur.Dict{{Key: "x0", Value: x}, {Key: "x1", Value: y}}, err
		},
	}
	// A training-like mixed space: log lr, int width, categorical transform.
	choices := []string{"echo", "norm", "complex", "norm_flip"}
	penalty := map[string]float64{"echo": 0.6, "norm": 0.1, "complex": 0.3, "norm_flip": 0}
	mixed := benchFn{
		name: "mixed-log-int-cat",
		space: []Param{{Name: "lr", Kind: Float, Low: 1e-5, High: 1, Log: true},
			{Name: "width", Kind: Int, Low: 1, High: 32}, {Name: "transform", Kind: Categorical, Choices: choices}},
		f: func(cfg lemur.Dict) float64 {
			lr, w := num(cfg, "lr"), num(cfg, "width")
			tr, _ := cfg.String("transform")
			return math.Pow(math.Log10(lr)+1.7, 2) + math.Pow((w-20)/8, 2) + penalty[tr]
		},
		suggest: func(t goptuna.Trial) (lemur.Dict, error) {
			lr, _ := t.SuggestLogFloat("lr", 1e-5, 1)
			w, _ := t.SuggestInt("width", 1, 32)
			tr, err := t.SuggestCategorical("transform", choices)
			return lemur.Dict{{Key: "lr", Value: lr}, {Key: "width", Value: int64(w)}, {Key: "transform", Value: tr}}, err
		},
	}
	return []benchFn{sphere, rosen, ackley, branin, mixed}
}

// runOurs minimises fn for n trials and returns the best value.
func runOurs(t *testing.T, fn benchFn, s Sampler, seed uint64, n int) float64 {
	sp, err := NewSpace(fn.space...)
	if err != nil {
		t.Fatal(err)
	}
	var obs []Observation
	best := math.Inf(1)
	for i := range n {
		x := s.Sample(sp, obs, NewRand(seed, i))
		y := fn.f(sp.Decode(x))
		obs = append(obs, Observation{X: sp.Encode(sp.Decode(x)), Loss: y})
		best = math.Min(best, y)
	}
	return best
}

func runGoptuna(t *testing.T, fn benchFn, seed int64, n int) float64 {
	study, err := goptuna.CreateStudy("cmp", goptuna.StudyOptionSampler(gtpe.NewSampler(gtpe.SamplerOptionSeed(seed))),
		goptuna.StudyOptionLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := study.Optimize(func(tr goptuna.Trial) (float64, error) {
		cfg, err := fn.suggest(tr)
		if err != nil {
			return 0, err
		}
		return fn.f(cfg), nil
	}, n); err != nil {
		t.Fatal(err)
	}
	v, err := study.GetBestValue()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// goptuna's figures vary from run to run even with a fixed seed; 20 seeds
// keep the comparison stable (our mean ratio was 0.54 to
// 0.75 over repeated runs).
//
// TestTPEAtLeastAsGoodAsGoptuna runs our TPE and goptuna v0.9.0's TPE (both
// with Optuna's defaults: 10 random start-up trials, 24 EI candidates) on
// standard functions and requires ours to reach a best value at least as
// low on average over seeds, averaged over the functions (each function's
// mean is divided by goptuna's so the scales compare). Random search is run
// too, to check the comparison can tell a search from no search.
func TestTPEAtLeastAsGoodAsGoptuna(t *testing.T) {
	const seeds, trials = 20, 60
	var ratioSum, randRatioSum float64
	fns := standardFunctions()
	for _, fn := range fns {
		var ours, theirs, rnd float64
		for s := range seeds {
			ours += runOurs(t, fn, NewTPE(), uint64(s+1), trials)
			theirs += runGoptuna(t, fn, int64(s+1), trials)
			rnd += runOurs(t, fn, RandomSampler{}, uint64(s+1), trials)
		}
		ours, theirs, rnd = ours/seeds, theirs/seeds, rnd/seeds
		t.Logf("%-18s mean best over %d seeds: ours %.4f  goptuna %.4f  random %.4f", fn.name, seeds, ours, theirs, rnd)
		ratioSum += (ours + 1e-3) / (theirs + 1e-3)
		randRatioSum += (rnd + 1e-3) / (theirs + 1e-3)
	}
	ratio, randRatio := ratioSum/float64(len(fns)), randRatioSum/float64(len(fns))
	t.Logf("mean ratio to goptuna: ours %.3f, random %.3f", ratio, randRatio)
	if ratio > 1 {
		t.Errorf("our TPE is worse than goptuna's on average: mean ratio %.3f > 1", ratio)
	}
	if randRatio <= ratio {
		t.Errorf("random search (%.3f) is not worse than our TPE (%.3f): the comparison cannot tell them apart", randRatio, ratio)
	}
}
