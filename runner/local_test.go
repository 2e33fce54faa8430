package runner

import (
	"path/filepath"
	"testing"
)

func TestTrainKnownGoodSmoke(t *testing.T) {
	_, sb := needTorch(t)
	d := tinyShapes(t, 1000, 300)
	l := newTestLocal(t, sb, Limits{})
	res, evs := runJob(t, l, Job{Name: "SimpleCNN", Code: readModel(t, filepath.Join("testdata", "models", "good", "SimpleCNN.py")), Data: d, Epochs: 2})
	for _, e := range evs {
		t.Logf("%s %s %s %+v %+v", e.Type, e.Stage, e.Detail, e.Epoch, e.Failure)
	}
	t.Logf("log: %s", res.LogTail)
	if !res.OK {
		t.Fatalf("failed: %+v", res.Failure)
	}
}
