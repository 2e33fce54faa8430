package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/app"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/workspace"
)

// checkEnv gives `nngpt check` a private cache the sandbox's uid can enter,
// or skips where torch is missing.
func checkEnv(t *testing.T) string {
	t.Helper()
	if exec.Command("/usr/bin/python3", "-c", "import torch").Run() != nil && os.Getenv("NNGPT_PYTHON") == "" {
		t.Skip("skipping: needs python3 with torch (or NNGPT_PYTHON)")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent: the sandbox runs as nobody under root
	t.Setenv("NNGPT_CACHE", filepath.Join(dir, "cache"))
	return dir
}

const linearModel = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.fc = nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], out_shape[0])

    def forward(self, x):
        return self.fc(x.flatten(1))

    def train_setup(self, prm):
        self.criteria = (nn.CrossEntropyLoss(),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        for x, y in train_data:
            self.optimizer.zero_grad()
            self.criteria[0](self(x), y).backward()
            self.optimizer.step()
`

// TestCheckRecordsInFreshWorkspace runs `nngpt check --record --json` on a
// model in a workspace that does not exist yet, then a broken model, and
// reads back what was stored.
func TestCheckRecordsInFreshWorkspace(t *testing.T) {
	dir := checkEnv(t)
	ws := filepath.Join(dir, "ws")
	good := filepath.Join(dir, "Linear.py")
	os.WriteFile(good, []byte(linearModel), 0o644)
	bad := filepath.Join(dir, "Wide.py")
	os.WriteFile(bad, []byte(strings.Replace(linearModel, "return self.fc(x.flatten(1))", "return torch.cat([self.fc(x.flatten(1))] * 2, 1)", 1)), 0o644)
	ctx := context.Background()
	args := []string{"-w", ws, "check", "--n-train", "300", "--n-test", "100", "--batch", "32", "--epochs", "2",
		"--prm", `{"lr": 0.05, "momentum": 0.5}`, "--record", "--json"}

	var out, errb bytes.Buffer
	code := Execute(ctx, append(args, good), &out, &errb)
	if code != 0 && code != exitLowAccuracy {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out.String(), errb.String())
	}
	var rep checkReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if !rep.Recorded || len(rep.Result.Epochs) != 2 || rep.Result.Failure != nil {
		t.Fatalf("report %+v", rep)
	}
	if (code == 0) != (rep.Best > 1.2*rep.Chance) || (code == 0) != rep.Passed {
		t.Fatalf("exit %d with best %.3f, chance %.3f, passed %v", code, rep.Best, rep.Chance, rep.Passed)
	}

	out.Reset()
	errb.Reset()
	if code := Execute(ctx, append(args[:len(args)-1], bad), &out, &errb); code != exitModelFailed {
		t.Fatalf("broken model: exit %d, want %d\n%s%s", code, exitModelFailed, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "forward") || !strings.Contains(out.String(), "shape") || !strings.Contains(errb.String(), "shape") {
		t.Fatalf("broken model output does not name the stage and kind:\n%s\n%s", out.String(), errb.String())
	}

	w, err := workspace.Open(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var runs []store.Run
	for r, err := range w.Store.ListRuns(ctx, store.RunFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs stored, want 2", len(runs))
	}
	byNN := map[string]store.Run{}
	for _, r := range runs {
		byNN[r.NN] = r
	}
	if r := byNN["Wide"]; r.Status != "failed" || r.FailureKind != "shape" || r.Stage != "forward" {
		t.Fatalf("failed run record %+v", r)
	}
	r := byNN["Linear"]
	if r.Status != "ok" || len(r.Epochs) != 2 || r.Torch == "" || r.SplitID == "" || r.UID == "" || r.Isolation == "" {
		t.Fatalf("run record %+v", r)
	}
	var stats int
	for rec, err := range w.Store.Stats(ctx, store.Filter{NN: "Linear"}) {
		if err != nil {
			t.Fatal(err)
		}
		stats++
		if rec.Dataset != "shapes" || rec.Task != "img-classification" || rec.Metric != "acc" || rec.UID != r.UID || rec.Duration == nil {
			t.Fatalf("stat row %+v", rec)
		}
		if lr, _ := rec.Prm.Float("lr"); lr != 0.05 {
			t.Fatalf("stat row prm %v", rec.Prm)
		}
	}
	if stats != 2 {
		t.Fatalf("%d stat rows, want 2", stats)
	}
	if _, ok, _ := w.Store.Code(ctx, store.KindNN, "Linear"); !ok {
		t.Fatal("the model's code was not stored")
	}
	if _, ok, _ := w.Store.Code(ctx, store.KindNN, "Wide"); ok {
		t.Fatal("a failed model's code was stored")
	}
}

func TestCheckBadInput(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "my_model.py")
	os.WriteFile(f, []byte(linearModel), 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"check", filepath.Join(dir, "missing.py")}, "model file"},
		{[]string{"check", f, "--record"}, "contains '_'"},
		{[]string{"check", f, "--prm", "[1]"}, "--prm"},
		{[]string{"check", f, "--prm", `{"lr": "fast"}`}, "not a number"},
		{[]string{"check", f, "--sandbox", "maybe"}, `sandbox = "maybe": want auto`},
		{[]string{"check", f, "--batch", "0"}, "batch = 0"},
		{[]string{"check", f, "--epochs", "0"}, "epochs = 0"},
		{[]string{"check", f, "--dataset", "cifar10"}, `LEMUR spells it "cifar-10"`},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), append([]string{"-w", filepath.Join(dir, "ws")}, tc.args...), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 1 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

func TestDoctorReports(t *testing.T) {
	checkEnv(t)
	var out, errb bytes.Buffer
	code := Execute(context.Background(), []string{"doctor", "--json"}, &out, &errb)
	var items []app.Finding
	if err := json.Unmarshal(out.Bytes(), &items); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out.String())
	}
	names := map[string]app.Finding{}
	for _, it := range items {
		names[it.Name] = it
	}
	for _, n := range []string{"python", "torch", "torchvision", "cuda", "bubblewrap", "isolation", "cache"} {
		if _, ok := names[n]; !ok {
			t.Errorf("doctor does not report %s", n)
		}
	}
	if !names["python"].OK || code != 0 {
		t.Fatalf("exit %d, python %+v", code, names["python"])
	}
	var out2 bytes.Buffer
	if code := Execute(context.Background(), []string{"doctor", "--python", "/nonexistent/python3"}, &out2, &errb); code != 1 {
		t.Fatalf("doctor with a missing interpreter: exit %d", code)
	}
	if !strings.Contains(out2.String(), "fix:") {
		t.Fatalf("no fix printed:\n%s", out2.String())
	}
}
