package llmtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/synth/reply"
)

// torchPython finds an interpreter that can import torch (Debian's
// /usr/bin/python3 first: the first python3 on PATH may lack torch).
func torchPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err = exec.CommandContext(ctx, path, "-c", "import torch").Run()
		cancel()
		if err == nil {
			return path
		}
	}
	t.Skip("no python3 with torch: the canned models cannot be run here")
	return ""
}

const runModels = `
import importlib.util, json, sys, traceback
import torch
out = {}
for name, path, prm in json.loads(sys.argv[1]):
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        keys = set(mod.supported_hyperparameters())
        missing = keys - set(prm)
        assert not missing, "hp lacks %s" % missing
        torch.manual_seed(0)
        net = mod.Net((4, 3, 32, 32), (10,), prm, torch.device("cpu"))
        net.train_setup(prm)
        data = [(torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))) for _ in range(2)]
        net.learn(data)
        net.eval()
        with torch.no_grad():
            y = net(torch.randn(4, 3, 32, 32))
        assert tuple(y.shape) == (4, 10), "output shape %s" % (tuple(y.shape),)
        out[name] = "ok"
    except BaseException as e:
        out[name] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
`

// TestCannedModelsOnTorch runs every canned model through the LEMUR
// contract on torch 1.13: the valid ones must build, learn one step and
// give logits of the right shape; the broken ones must fail.
func TestCannedModelsOnTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python")
	}
	py := torchPython(t)
	dir := t.TempDir()
	var jobs []any
	for _, c := range llmtest.Replies() {
		if !c.HasCode {
			continue
		}
		r := reply.Extract(c.Text)
		path := filepath.Join(dir, c.Name+".py")
		if err := os.WriteFile(path, []byte(r.Code), 0o644); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, []any{c.Name, path, r.HP})
	}
	arg, _ := json.Marshal(jobs)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, py, "-c", runModels, string(arg))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	mustFail := map[string]bool{"broken": true, "nocontract": true, "torch2": true, "truncated": true}
	for _, c := range llmtest.Replies() {
		if !c.HasCode {
			continue
		}
		res := got[c.Name]
		switch {
		case c.Valid && res != "ok":
			t.Errorf("%s: valid model fails on torch: %s", c.Name, res)
		case mustFail[c.Name] && res == "ok":
			t.Errorf("%s: broken model runs", c.Name)
		}
		t.Logf("%s: %s", c.Name, strings.SplitN(res, "\n", 2)[0])
	}
}
