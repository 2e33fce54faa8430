package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/workspace"
)

// tinyLoop makes `nngpt run` small: 256 training and 128 test images.
func tinyLoop(t *testing.T) {
	t.Helper()
	if _, _, err := runner.FindPython(context.Background(), runner.PythonOptions{}); err != nil {
		t.Skipf("no python3 with torch (%v): install python3-torch to run the closed loop", err)
	}
	t.Setenv("NNGPT_DATA_TRAIN", "256")
	t.Setenv("NNGPT_DATA_TEST", "128")
}

func journal(t *testing.T, ws string) (store.Loop, []store.CandidateRow) {
	t.Helper()
	w, err := workspace.Open(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	loops, err := w.Store.Loops(context.Background())
	if err != nil || len(loops) == 0 {
		t.Fatalf("no loop in %s: %v", ws, err)
	}
	cs, err := w.Store.Candidates(context.Background(), loops[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return loops[0], cs
}

// TestRunEndToEnd runs the real loop: evolve on the seed zoo, the shapes
// dataset, the sandboxed worker, the store, the report.
func TestRunEndToEnd(t *testing.T) {
	tinyLoop(t)
	ws := filepath.Join(t.TempDir(), "ws")
	code, out, errOut := run(t, "-w", ws, "run", "--cycles", "2", "--candidates", "3", "--seed", "11", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ Type string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		types = append(types, ev.Type)
	}
	if types[0] != "loop" || types[len(types)-1] != "loop_done" {
		t.Fatalf("event stream %v", types)
	}
	l, cs := journal(t, ws)
	if l.Status != "done" || l.CycleDone != 2 || len(cs) != 6 {
		t.Fatalf("loop %+v with %d candidates", l, len(cs))
	}
	trained := 0
	for _, c := range cs {
		if !store.Final(c.State) {
			t.Errorf("%s left in state %s", c.ID, c.State)
		}
		if c.State == store.StateDone {
			trained++
			if len(c.Epochs) != 1 || c.Params == 0 {
				t.Errorf("%s done without its epoch or params: %+v", c.Name, c)
			}
		}
		if c.Generator != "evolve" || len(c.Parents) == 0 {
			t.Errorf("%s: generator %q parents %v", c.Name, c.Generator, c.Parents)
		}
	}
	if trained == 0 {
		t.Fatalf("nothing trained: %+v", cs)
	}
	for _, f := range []string{"report.md", "accuracy_per_cycle.png", "accuracy_per_cycle.svg"} {
		matches, _ := filepath.Glob(filepath.Join(ws, "reports", l.ID, "*"))
		found := false
		for _, m := range matches {
			found = found || filepath.Base(m) == f
		}
		if !found {
			t.Errorf("report file %s missing; have %v", f, matches)
		}
	}
	// `nngpt report` rebuilds it any time.
	if code, out, errOut := run(t, "-w", ws, "report"); code != 0 || !strings.Contains(out, l.ID) {
		t.Errorf("nngpt report: %d\n%s\n%s", code, out, errOut)
	}
}

// TestRunLLM runs one cycle against the scripted OpenAI-compatible server.
func TestRunLLM(t *testing.T) {
	tinyLoop(t)
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyGood.Text), llmtest.Reply(llmtest.ReplyBroken.Text),
		llmtest.Forever(llmtest.Reply(llmtest.ReplyBroken.Text)))
	ws := filepath.Join(t.TempDir(), "ws")
	code, out, errOut := run(t, "-w", ws, "run", "--llm", srv.URL, "--model", "scripted", "--cycles", "1", "--candidates", "2", "--seed", "3")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	_, cs := journal(t, ws)
	if len(cs) != 2 {
		t.Fatalf("%d candidates, want 2", len(cs))
	}
	states := map[string]int{}
	for _, c := range cs {
		states[c.State]++
		if c.Generator != "llm" {
			t.Errorf("generator %q", c.Generator)
		}
	}
	if states[store.StateDone] != 1 || states[store.StateRejected] != 1 {
		t.Fatalf("states %v (want the good reply trained and the broken one rejected): %+v", states, cs)
	}
	if len(srv.Requests()) < 2 {
		t.Fatalf("%d requests reached the server", len(srv.Requests()))
	}
}

// TestRunRAG runs a cycle whose candidate the LLM builds around a block of
// the library (the rag setting).
func TestRunRAG(t *testing.T) {
	tinyLoop(t)
	ws := ragWorkspace(t)
	srv := llmtest.NewServer(t, llmtest.Forever(llmtest.Reply(llmtest.ReplyGood.Text)))
	code, out, errOut := run(t, "-w", ws, "run", "--llm", srv.URL, "--model", "scripted", "--rag", "SEBlock", "--cycles", "1", "--candidates", "1", "--seed", "3")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	_, cs := journal(t, ws)
	if len(cs) != 1 || len(cs[0].Operators) == 0 || cs[0].Operators[0] != "rag:blocks.SEBlock" {
		t.Fatalf("candidates %+v: want one built around blocks.SEBlock", cs)
	}
	reqs := srv.Requests()
	if len(reqs) == 0 || !strings.Contains(string(reqs[0].Body), "class SEBlock") {
		t.Errorf("the prompt does not carry the block")
	}
	if code, _, errOut := run(t, "-w", ws, "run", "--rag", "Nope", "--cycles", "1"); code == 0 || !strings.Contains(errOut, "no block named Nope") {
		t.Errorf("unknown block: exit %d, %s", code, errOut)
	}
}

// TestRunLLMRecommender: with recommender llm, a candidate whose <hp> does
// not fit its model (it lacks momentum and dropout) gets the LLM's one-shot
// proposal (the HPGPT prompt).
func TestRunLLMRecommender(t *testing.T) {
	tinyLoop(t)
	partial := regexp.MustCompile(`(?s)<hp>.*?</hp>`).ReplaceAllString(llmtest.ReplyGood.Text, `<hp>{"lr": 0.5}</hp>`)
	srv := llmtest.NewServer(t, llmtest.Reply(partial),
		llmtest.Forever(llmtest.Reply(`<hp>{"lr": 0.0123, "momentum": 0.8, "dropout": 0.1, "batch": 32, "transform": "norm"}</hp>`)))
	ws := filepath.Join(t.TempDir(), "ws")
	code, out, errOut := run(t, "-w", ws, "run", "--recommender", "llm", "--llm", srv.URL, "--model", "scripted",
		"--cycles", "1", "--candidates", "1", "--seed", "5")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	_, cs := journal(t, ws)
	if len(cs) != 1 || !strings.Contains(cs[0].Repro, `"hp_source":"llm"`) {
		t.Fatalf("candidates %+v: want one whose hyperparameters came from the llm recommender", cs)
	}
	if lr, _ := cs[0].Prm.Float("lr"); lr != 0.0123 {
		t.Errorf("lr %v, want the LLM's 0.0123", lr)
	}
	if reqs := srv.Requests(); len(reqs) != 2 || !strings.Contains(string(reqs[1].Body), "hyperparameters") {
		t.Errorf("%d requests; want the code prompt, then the HPGPT prompt", len(reqs))
	}
}

// TestRunResumesAfterSIGKILL kills the coordinator with SIGKILL at several
// points, resumes, and compares with an uninterrupted run: the same
// candidates, states and results; nothing that finished is trained again;
// no worker outlives its coordinator.
func TestRunResumesAfterSIGKILL(t *testing.T) {
	tinyLoop(t)
	if testing.Short() {
		t.Skip("-short: builds nngpt and runs the loop several times")
	}
	bin := filepath.Join(t.TempDir(), "nngpt")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nngpt/nngpt/cmd/nngpt").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	args := []string{"run", "--cycles", "2", "--candidates", "2", "--seed", "21", "--json"}
	ref := filepath.Join(t.TempDir(), "ref")
	if out, err := exec.Command(bin, append([]string{"-w", ref}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	_, want := journal(t, ref)

	// Kill after the n-th event matching each point.
	points := []struct {
		name  string
		match func(ev map[string]any) bool
	}{
		{"after generating", func(ev map[string]any) bool { return candState(ev) == store.StateGenerated }},
		{"while training", func(ev map[string]any) bool { return candState(ev) == store.StateRunning }},
		{"after a result", func(ev map[string]any) bool { return candState(ev) == store.StateDone }},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			ws := filepath.Join(t.TempDir(), "ws")
			cmd := exec.Command(bin, append([]string{"-w", ws}, args...)...)
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			killed := false
			for sc.Scan() {
				var ev map[string]any
				if json.Unmarshal(sc.Bytes(), &ev) == nil && p.match(ev) {
					kids := descendants(cmd.Process.Pid)
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
					cmd.Wait()
					waitGone(t, kids)
					break
				}
			}
			if !killed {
				cmd.Wait()
				t.Fatal("the run ended before the kill point")
			}
			_, before := journal(t, ws)
			finished := map[string]time.Time{}
			for _, c := range before {
				if store.Final(c.State) {
					finished[c.ID] = c.Updated
				}
			}
			if out, err := exec.Command(bin, append([]string{"-w", ws}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("resume: %v\n%s", err, out)
			}
			l, got := journal(t, ws)
			if l.Status != "done" {
				t.Fatalf("resumed loop status %s", l.Status)
			}
			for _, c := range got {
				if ts, ok := finished[c.ID]; ok && !c.Updated.Equal(ts) {
					t.Errorf("%s was final before the kill and changed after the resume", c.ID)
				}
			}
			if a, b := summary(want), summary(got); a != b {
				t.Fatalf("resumed run differs from the uninterrupted one:\n%s\n---\n%s", b, a)
			}
		})
	}
}

func candState(ev map[string]any) string {
	if ev["type"] != "candidate" {
		return ""
	}
	c, _ := ev["candidate"].(map[string]any)
	s, _ := c["state"].(string)
	return s
}

// summary is what must match between runs: which candidates, their final
// state, results and admission.
func summary(cs []store.CandidateRow) string {
	var lines []string
	for _, c := range cs {
		lines = append(lines, fmt.Sprintf("c%d/%d %s %s %s %v params=%d admitted=%v", c.Cycle, c.Index, c.Name, c.State, c.Reason, c.Epochs, c.Params, c.Admitted))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// descendants lists the process tree under pid.
func descendants(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(s); err == nil {
				out = append(out, c)
				out = append(out, descendants(c)...)
			}
		}
	}
	return out
}

// waitGone fails when any of pids is still alive after a few seconds.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil || strings.Contains(string(b), ") Z ") {
				break // gone (or a zombie waiting for its reaper)
			}
			if time.Now().After(deadline) {
				t.Errorf("process %d outlived the killed coordinator: %s", pid, b)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
