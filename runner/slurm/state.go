package slurm

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/nngpt/nngpt/runner"
)

// jobState is what scontrol says about one job.
type jobState struct {
	State    string // PENDING, RUNNING, COMPLETED, TIMEOUT, ...
	Reason   string
	Restarts int
	ExitCode string // "code:signal"
	Nodes    string
	Known    bool // false: Slurm no longer knows the job (purged after MinJobAge) or never did
}

// Running states: the job holds (or is about to hold) a node.
func (s jobState) running() bool {
	switch s.State {
	case "RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING", "RESIZING":
		return true
	}
	return false
}

// pending: queued, not started yet (also after a requeue).
func (s jobState) pending() bool {
	switch s.State {
	case "PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED", "RESV_DEL_HOLD", "SPECIAL_EXIT":
		return true
	}
	return false
}

func (s jobState) final() bool { return s.Known && !s.running() && !s.pending() }

// failure maps a final state the job did not reach by itself to a failure
// kind; nil for COMPLETED and FAILED, which the job's exit status judges.
func (s jobState) failure(limit time.Duration) *runner.Failure {
	f := &runner.Failure{Stage: runner.StageStart}
	switch s.State {
	case "COMPLETED", "FAILED":
		return nil
	case "TIMEOUT":
		f.Kind, f.Message = runner.FailTimeout, fmt.Sprintf("Slurm ended the job at its time limit (%v)", limit)
	case "DEADLINE":
		f.Kind, f.Message = runner.FailTimeout, "Slurm ended the job at its deadline"
	case "OUT_OF_MEMORY":
		f.Kind, f.Message = runner.FailMemory, "Slurm ended the job: out of memory (raise the memory limit)"
	case "NODE_FAIL":
		f.Kind, f.Message = runner.FailNodeFailed, "the node running the job failed ("+s.Nodes+")"
	case "BOOT_FAIL":
		f.Kind, f.Message = runner.FailNodeFailed, "the node failed to boot for the job ("+s.Nodes+")"
	case "PREEMPTED":
		f.Kind, f.Message = runner.FailPreempted, "the job was preempted and not requeued (allow requeueing on this partition)"
	case "CANCELLED":
		f.Kind, f.Message = runner.FailCanceled, "the job was cancelled outside nngpt (scancel or an administrator)"
	default:
		f.Kind, f.Message = runner.FailCrashed, "the job ended in Slurm state "+s.State
	}
	if s.Reason != "" && s.Reason != "None" {
		f.Message += " [" + s.Reason + "]"
	}
	return f
}

// parseJob reads one `scontrol show job -o` line.
func parseJob(out string) jobState {
	s := jobState{Known: true}
	for _, f := range strings.Fields(out) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "JobState":
			s.State = v
		case "Reason":
			s.Reason = v
		case "Restarts":
			s.Restarts, _ = strconv.Atoi(v)
		case "ExitCode":
			s.ExitCode = v
		case "NodeList":
			s.Nodes = v
		}
	}
	return s
}

// query asks scontrol about job id (no accounting database needed:
// scontrol keeps finished jobs for MinJobAge seconds).
func (x *cli) query(ctx context.Context, id string) (jobState, error) {
	out, err := x.run(ctx, "scontrol", "show", "job", "-o", id)
	if err != nil {
		if strings.Contains(out, "Invalid job id") {
			return jobState{}, nil
		}
		return jobState{}, err
	}
	s := parseJob(out)
	if s.State == "" {
		return jobState{}, fmt.Errorf("scontrol show job %s: no JobState in %q", id, clip(out))
	}
	return s, nil
}

// cli runs Slurm's commands with the executor's environment.
type cli struct {
	env []string // SLURM_CONF and friends; nil: inherited
}

func (x *cli) run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if x.env != nil {
		cmd.Env = x.env
	}
	if name == "sbatch" {
		cmd.Env = jobEnv(cmd.Environ())
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s is not installed or not on PATH (install Slurm's client commands, e.g. apt-get install slurm-client)", name)
		}
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, clip(string(out)))
	}
	return string(out), nil
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// jobEnv is what sbatch copies into a job (--export=ALL): Slurm's own
// variables and a few basics, nothing else of the coordinator's
// environment (API keys stay here). --export=NONE would instead make
// slurmd build a login environment, which costs seconds per job.
func jobEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "SLURM_"), k == "PATH", k == "HOME", k == "USER", k == "LOGNAME", k == "LANG":
			out = append(out, kv)
		}
	}
	return out
}
