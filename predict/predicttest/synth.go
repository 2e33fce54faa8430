// Package predicttest makes small synthetic LEMUR trajectories for the
// tests of predict and the packages that use it: learning curves whose
// ceiling and speed depend on the model, the learning rate and the dataset,
// so a predictor has something real to learn and a wrong one fails.
package predicttest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/nngpt/nngpt/lemur"
)

// Records makes the stat records of runsPerModel runs of each of models
// models on cifar-10 and mnist. Epoch counts vary (5, 10 or 20).
func Records(models, runsPerModel int, seed uint64) []lemur.Record {
	rng := rand.New(rand.NewPCG(seed, 3))
	var recs []lemur.Record
	for m := range models {
		quality := 0.45 + 0.5*rng.Float64()
		for _, ds := range []string{"cifar-10", "mnist"} {
			base := 0.75
			if ds == "mnist" {
				base = 1.0
			}
			p := lemur.Pipeline{Task: "img-classification", Dataset: ds, Metric: "acc", NN: fmt.Sprintf("Synth%d", m)}
			for range runsPerModel {
				lr := math.Pow(10, -4+3*rng.Float64())
				momentum := rng.Float64()
				batch := int64(1) << (4 + rng.IntN(4))
				e := []int{5, 10, 20}[rng.IntN(3)]
				// Ceiling peaks at lr = 1e-2; speed grows with lr and momentum.
				ceil := 0.1 + (base*quality-0.1)*math.Exp(-math.Pow(math.Log10(lr)+2, 2)/1.5)
				tau := 4 * math.Pow(1e-2/lr, 0.35) / (0.5 + momentum)
				prm := lemur.Dict{{Key: "batch", Value: batch}, {Key: "lr", Value: lr}, {Key: "momentum", Value: momentum},
					{Key: "transform", Value: []string{"norm", "echo_32", "norm_64_flip"}[rng.IntN(3)]}}
				for ep := 1; ep <= e; ep++ {
					a := 0.1 + (ceil-0.1)*(1-math.Exp(-float64(ep)/tau)) + 0.01*rng.NormFloat64()
					a = math.Min(1, math.Max(0, a))
					d := int64(ep) * 1e9
					recs = append(recs, lemur.NewRecord(p, ep, math.Round(a*1e4)/1e4, &d, prm))
				}
			}
		}
	}
	return recs
}

// WriteTree writes records as a LEMUR stat tree under dir/stat and returns
// that folder.
func WriteTree(dir string, recs []lemur.Record) (string, error) {
	stat := filepath.Join(dir, "stat")
	files := map[string][]lemur.Record{}
	for _, r := range recs {
		k := filepath.Join(stat, r.Pipeline.String(), fmt.Sprintf("%d.json", r.Epoch))
		files[k] = append(files[k], r)
	}
	for path, rs := range files {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Accuracy > rs[j].Accuracy })
		var arr []json.RawMessage
		for _, r := range rs {
			b, err := lemur.EncodeJSON(r.Object(), 0, true)
			if err != nil {
				return "", err
			}
			arr = append(arr, b)
		}
		data, err := json.MarshalIndent(arr, "", "    ")
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return "", err
		}
	}
	return stat, nil
}
