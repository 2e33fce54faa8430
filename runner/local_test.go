package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

// TestKnownGoodModels trains the LEMUR-contract fixtures (written in
// LEMUR's style, not against this harness) for one epoch on 5,000 shapes
// images; each must beat 1.2 x chance. The fast MLP always runs; the CNNs
// take minutes on a busy 2-core machine and run with NNGPT_SLOW=1.
func TestKnownGoodModels(t *testing.T) {
	_, sb := needTorch(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "models", "good", "*.py"))
	if len(files) < 4 {
		t.Fatalf("%d known-good fixtures, want 4", len(files))
	}
	d := tinyShapes(t, 5000, 1000)
	l := newTestLocal(t, sb, Limits{})
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".py")
		t.Run(name, func(t *testing.T) {
			if name != "MLPAdam" && os.Getenv("NNGPT_SLOW") == "" {
				t.Skip("slow: set NNGPT_SLOW=1 to train every known-good model")
			}
			res, _ := runJob(t, l, Job{Name: name, Code: readModel(t, f), Data: d, Epochs: 1})
			if !res.OK {
				t.Fatalf("failed: %+v\n%s", res.Failure, res.LogTail)
			}
			t.Logf("%s: acc %.4f, %d params, train %.1fs, startup %.1fs", name, res.Best(), res.Params, res.Epochs[0].TrainSeconds, res.StartupSec)
			if res.Best() <= 1.2*d.Chance() {
				t.Fatalf("accuracy %.4f does not beat 1.2 x chance", res.Best())
			}
		})
	}
}

func TestEarlyStopAndStopAndCancel(t *testing.T) {
	_, sb := needTorch(t)
	d := tinyShapes(t, 96, 40)
	l := newTestLocal(t, sb, Limits{})
	linear := hostileModel("", "", "")

	t.Run("OnEpochStop", func(t *testing.T) {
		var seen []int
		res, evs := runJob(t, l, Job{Name: "linear", Code: linear, Data: d, Batch: 16, Epochs: 4,
			OnEpoch: func(e EpochResult) Decision {
				seen = append(seen, e.Epoch)
				if e.Epoch == 2 {
					return Stop
				}
				return Continue
			}})
		if !res.OK || !res.Stopped || len(res.Epochs) != 2 || len(seen) != 2 {
			t.Fatalf("ok %v stopped %v epochs %d seen %v failure %+v", res.OK, res.Stopped, len(res.Epochs), seen, res.Failure)
		}
		if evs[len(evs)-1].Type != EventDone {
			t.Fatalf("last event %s", evs[len(evs)-1].Type)
		}
		if res.Epochs[1].Duration <= res.Epochs[0].Duration {
			t.Fatalf("durations not cumulative: %d, %d", res.Epochs[0].Duration, res.Epochs[1].Duration)
		}
		recs := res.Records(d.Pipeline("linear"))
		if len(recs) != 2 || recs[0].UID != recs[1].UID || recs[0].ID == recs[1].ID || recs[1].Epoch != 2 {
			t.Fatalf("records %+v", recs)
		}
		if tr, _ := recs[0].Prm.String("transform"); tr != "norm" {
			t.Fatalf("record prm %s", lemur.Repr(recs[0].Prm))
		}
	})
	t.Run("Stop", func(t *testing.T) {
		ctx := context.Background()
		r, err := l.Submit(ctx, Job{Name: "linear", Code: linear, Data: d, Batch: 16, Epochs: 50})
		if err != nil {
			t.Fatal(err)
		}
		for ev := range r.Events() {
			if ev.Type == EventEpoch && ev.Epoch.Epoch == 1 {
				r.Stop()
			}
		}
		res, _ := r.Wait(ctx)
		if !res.OK || !res.Stopped || len(res.Epochs) > 2 {
			t.Fatalf("ok %v stopped %v epochs %d", res.OK, res.Stopped, len(res.Epochs))
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		ctx := context.Background()
		r, err := l.Submit(ctx, Job{Name: "slow", Code: hostileModel("import time\ntime.sleep(60)", "", ""), Data: d, Batch: 16})
		if err != nil {
			t.Fatal(err)
		}
		for ev := range r.Events() {
			if ev.Type == EventStage && ev.Stage == StageContract {
				r.Cancel()
			}
		}
		res, err := r.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.Failure.Kind != FailCanceled {
			t.Fatalf("failure %+v", res.Failure)
		}
	})
}

func TestContractFailures(t *testing.T) {
	_, sb := needTorch(t)
	d := tinyShapes(t, 96, 40)
	l := newTestLocal(t, sb, Limits{})
	good := hostileModel("", "", "")
	cases := []struct {
		name, code string
		prm        lemur.Dict
		maxParams  int64
		kind       FailKind
		stage      Stage
	}{
		{"syntax", "def broken(:\n", nil, 0, FailSyntax, StageParse},
		{"import", "import torch\nraise RuntimeError('boom at import')\n", nil, 0, FailImport, StageContract},
		{"no net", "def supported_hyperparameters():\n    return {'lr'}\n", nil, 0, FailContract, StageContract},
		{"no shp", strings.Replace(good, "def supported_hyperparameters", "def other_name", 1), nil, 0, FailContract, StageContract},
		{"bad init signature", strings.Replace(good, "def __init__(self, in_shape, out_shape, prm, device)", "def __init__(self, in_shape)", 1), nil, 0, FailContract, StageContract},
		{"missing prm", strings.Replace(good, "{'lr', 'momentum'}", "{'lr', 'momentum', 'gamma'}", 1), nil, 0, FailPrm, StageContract},
		{"too big", good, nil, 100, FailTooBig, StageParams},
		{"build raises", hostileModel("raise ValueError('nope')", "", ""), nil, 0, FailBuild, StageBuild},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := runJob(t, l, Job{Name: "m", Code: tc.code, Data: d, Batch: 16, Prm: tc.prm, MaxParams: tc.maxParams})
			if res.OK || res.Failure.Kind != tc.kind || res.Failure.Stage != tc.stage {
				t.Fatalf("got %+v, want %s at %s", res.Failure, tc.kind, tc.stage)
			}
		})
	}
}
