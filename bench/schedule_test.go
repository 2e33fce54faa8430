package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

// Curves that rise to a trial's own ceiling: early epochs rank trials as
// their end does, so pruning saves epochs at little regret.
func TestRunScheduleSavesEpochs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var recs []lemur.Record
	for _, m := range []string{"A", "B"} {
		p := lemur.Pipeline{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", NN: m}
		for i := range 30 {
			ceil := 0.3 + 0.6*rng.Float64()
			prm := lemur.Dict{{Key: "lr", Value: float64(i+1) / 100}}
			for e := 1; e <= 5; e++ {
				recs = append(recs, lemur.NewRecord(p, e, ceil*(1-math.Exp(-float64(e)))+0.005*rng.NormFloat64(), nil, prm))
			}
		}
	}
	res, err := RunSchedule(context.Background(), ScheduleConfig{Records: recs, Epochs: 5, MinTrials: 20, Seeds: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pipelines != 2 || len(res.Rows) != 3 {
		t.Fatalf("%d pipelines, %d rows; want 2 and 3", res.Pipelines, len(res.Rows))
	}
	none := res.Rows[0]
	if none.EpochsShare != 1 || none.Regret != 0 || none.Pruned != 0 {
		t.Errorf("without pruning: %+v, want every epoch and no regret", none)
	}
	for _, r := range res.Rows[1:] {
		if r.EpochsShare >= 0.9 || r.Regret > 0.2 {
			t.Errorf("%s: %.2f of the epochs, regret %.3f; want a saving at small regret", r.Pruner, r.EpochsShare, r.Regret)
		}
	}
	if _, err := RunSchedule(context.Background(), ScheduleConfig{Records: recs, Epochs: 9}); err == nil {
		t.Error("no pipeline has 9 epochs, want an error")
	}
}
