package slurm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Finding is one line of the cluster check (`nngpt doctor`).
type Finding struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Value string `json:"value"`
	Fix   string `json:"fix,omitempty"`
}

// Check is the cluster's part of `nngpt doctor`: Slurm answers (sinfo),
// the shared folder is writable, and a tiny job on a node imports torch
// with the configured interpreter and tries bubblewrap.
func Check(ctx context.Context, o Options) []Finding {
	c := &cli{}
	if o.SlurmConf != "" {
		c.env = append(os.Environ(), "SLURM_CONF="+o.SlurmConf)
	}
	var out []Finding
	info, err := c.run(ctx, "sinfo", "-h", "-o", "%P %a %D %T")
	if err != nil {
		return append(out, Finding{Name: "slurm", Value: err.Error(),
			Fix: "install Slurm's client commands and point SLURM_CONF (or cluster.slurm_conf) at the cluster's slurm.conf"})
	}
	out = append(out, Finding{Name: "slurm", OK: true, Value: "sinfo: " + strings.Join(strings.Fields(strings.ReplaceAll(info, "\n", "; ")), " ")})
	if o.SharedDir == "" || !filepath.IsAbs(o.SharedDir) {
		return append(out, Finding{Name: "shared folder", Value: fmt.Sprintf("%q is not an absolute path", o.SharedDir),
			Fix: "set cluster.shared_dir (env NNGPT_CLUSTER_SHARED_DIR) to a folder every node mounts at the same path"})
	}
	dir := filepath.Join(o.SharedDir, "doctor-"+randHex(4))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return append(out, Finding{Name: "shared folder", Value: err.Error(), Fix: "make " + o.SharedDir + " writable for this user"})
	}
	defer removeTree(dir)
	out = append(out, Finding{Name: "shared folder", OK: true, Value: o.SharedDir + " is writable"})
	py := "python3"
	if o.Python != nil {
		py = o.Python.Path
	}
	script := "#!/bin/bash\nexport PATH=/usr/local/bin:/usr/bin:/bin\nhostname\n" +
		shellQuote(py) + " -c 'import torch; print(\"torch\", torch.__version__, \"cuda\", torch.cuda.is_available())' 2>&1 | tail -1\n" +
		"if bwrap --ro-bind / / --unshare-all true 2>/dev/null; then echo bwrap yes; else echo bwrap no; fi\n" +
		"test -r " + shellQuote(filepath.Join(dir, "probe")) + " && echo shared yes || echo shared no\n"
	if err := os.WriteFile(filepath.Join(dir, "probe"), []byte("ok"), 0o644); err != nil {
		return append(out, Finding{Name: "shared folder", Value: err.Error()})
	}
	if err := os.WriteFile(filepath.Join(dir, "job.sh"), []byte(script), 0o755); err != nil {
		return append(out, Finding{Name: "shared folder", Value: err.Error()})
	}
	args := []string{"--wait", "--job-name=nngpt-doctor", "--time=5", "--ntasks=1", "--cpus-per-task=1", "--mem=512",
		"--output=" + filepath.Join(dir, "out"), "--chdir=" + dir}
	if o.Partition != "" {
		args = append(args, "--partition="+o.Partition)
	}
	if o.Account != "" {
		args = append(args, "--account="+o.Account)
	}
	args = append(append(args, o.ExtraArgs...), filepath.Join(dir, "job.sh"))
	jctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	if _, err := c.run(jctx, "sbatch", args...); err != nil {
		return append(out, Finding{Name: "node", Value: "the test job failed: " + err.Error(),
			Fix: "check the partition and account (cluster.partition, cluster.account) and that a node is up (sinfo)"})
	}
	b, _ := os.ReadFile(filepath.Join(dir, "out"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	res := map[string]string{}
	for _, l := range lines[min(1, len(lines)):] {
		k, v, _ := strings.Cut(l, " ")
		res[k] = v
	}
	node := lines[0]
	out = append(out, Finding{Name: "node", OK: true, Value: fmt.Sprintf("a test job ran on %s in %.1fs", node, time.Since(t0).Seconds())})
	if t, ok := res["torch"]; ok {
		out = append(out, Finding{Name: "torch on the node", OK: true, Value: py + ": torch " + t})
	} else {
		out = append(out, Finding{Name: "torch on the node", Value: py + " cannot import torch on " + node + ": " + string(b),
			Fix: "install PyTorch on the nodes (apt-get install python3-torch, or a module/venv) and set the interpreter's path"})
	}
	sh := Finding{Name: "shared folder on the node", OK: res["shared"] == "yes", Value: "the node reads the coordinator's files"}
	if !sh.OK {
		sh.Value, sh.Fix = "the node does not see "+o.SharedDir, "mount the shared folder at the same path on every node"
	}
	out = append(out, sh)
	bw := Finding{Name: "bubblewrap on the node", OK: res["bwrap"] == "yes", Value: "the worker runs sandboxed"}
	if !bw.OK {
		bw.Value, bw.Fix = "bubblewrap cannot run on the node: workers run with limits only", "apt-get install bubblewrap on the nodes (and allow unprivileged user namespaces)"
	}
	return append(out, bw)
}
