package finetune

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		tmpl string
		v    Vars
		want string
		err  string
	}{
		{"ft --data {{.Data}} --base {{.Model}} --cycle {{.Cycle}}", Vars{Data: "/w/ft.jsonl", Model: "org/m-1.5b", Cycle: 3},
			"ft --data /w/ft.jsonl --base org/m-1.5b --cycle 3", ""},
		{"ft {{.Data}}", Vars{Data: "/my work/it's.jsonl"}, `ft '/my work/it'"'"'s.jsonl'`, ""},
		{"ft {{.Model}}", Vars{Model: ""}, "ft ''", ""},
		{"ft {{.Nope}}", Vars{}, "", "can't evaluate field Nope"},
		{"ft {{.Data", Vars{}, "", "fields: {{.Data}}"},
		{"  ", Vars{}, "", "command is empty"},
	}
	for _, tc := range tests {
		got, err := Command(tc.tmpl, tc.v)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Command(%q) error %v, want %q", tc.tmpl, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Command(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func TestRunHook(t *testing.T) {
	dir := t.TempDir()
	spaced := filepath.Join(dir, "a dir", "data.jsonl")
	os.MkdirAll(filepath.Dir(spaced), 0o755)
	os.WriteFile(spaced, []byte("line1\nline2\n"), 0o644)
	tests := []struct {
		name    string
		tmpl    string
		v       Vars
		want    string
		err     string // substring of the error
		exit    int    // HookError.ExitCode when err is set and > 0
		inLog   []string
		noModel bool
	}{
		{name: "last stdout line names the model", tmpl: `echo "training on {{.Data}}"; echo "model-{{.Cycle}}"`, v: Vars{Data: "x.jsonl", Cycle: 3},
			want: "model-3", inLog: []string{"training on x.jsonl", "$ echo"}},
		{name: "stderr after it does not count", tmpl: `echo picked; echo "loss 0.1" >&2`, want: "picked", inLog: []string{"loss 0.1"}},
		{name: "blank lines and spaces trimmed", tmpl: `printf 'a\n  final-model  \n\n\n'`, want: "final-model"},
		{name: "carriage returns end lines", tmpl: `printf 'step 1\rstep 2\rdone-model'`, want: "done-model"},
		{name: "quoted path with spaces", tmpl: `wc -l < {{.Data}} | tr -d ' '`, v: Vars{Data: spaced}, want: "2"},
		{name: "raw values in the environment", tmpl: `echo "$NNGPT_FT_MODEL:$NNGPT_FT_CYCLE:$NNGPT_FT_PAIRS"`, v: Vars{Model: "m 1", Cycle: 2, Pairs: 9}, want: "m 1:2:9"},
		{name: "failure reports exit status and output", tmpl: `echo "CUDA out of memory" >&2; exit 3`, err: "exit status 3", exit: 3, inLog: []string{"CUDA out of memory"}},
		{name: "missing program", tmpl: `no-such-trainer-xyz --data {{.Data}}`, err: "exit status 127", exit: 127},
		{name: "silence is an error", tmpl: `true`, noModel: true},
		{name: "bad template", tmpl: `{{.Model`, err: "fine-tune command template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			got, err := RunHook(context.Background(), tc.tmpl, tc.v, &log)
			switch {
			case tc.noModel:
				if !errors.Is(err, ErrNoModel) {
					t.Fatalf("error %v, want ErrNoModel", err)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				var he *HookError
				if tc.exit > 0 && (!errors.As(err, &he) || he.ExitCode != tc.exit) {
					t.Fatalf("error %#v, want a HookError with exit %d", err, tc.exit)
				}
				if tc.exit == 3 && !strings.Contains(err.Error(), "CUDA out of memory") {
					t.Errorf("error does not show the command's last output: %v", err)
				}
			default:
				if err != nil || got != tc.want {
					t.Fatalf("RunHook = %q, %v; want %q", got, err, tc.want)
				}
			}
			for _, s := range tc.inLog {
				if !strings.Contains(log.String(), s) {
					t.Errorf("log misses %q:\n%s", s, log.String())
				}
			}
		})
	}
}

// alive reports whether a process exists (and is not a zombie we reaped).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || !strings.Contains(string(b), ") Z ")
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	for range 100 {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never written", path)
	return 0
}

func TestRunHookCancelKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The trainer is a grandchild: only a group kill reaches it.
		_, err := RunHook(ctx, `sleep 30 & echo $! > `+pidFile+`; wait; echo never`, Vars{}, nil)
		done <- err
	}()
	pid := readPid(t, pidFile)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	case <-time.After(HookGrace + 5*time.Second):
		t.Fatal("RunHook did not return after cancel")
	}
	for range 50 {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the hook's child %d survived the cancel", pid)
}

func TestRunHookBackgroundChild(t *testing.T) {
	// A hook may leave a server running that holds its stdout; the hook's
	// answer must not wait for it.
	old := HookGrace
	HookGrace = 300 * time.Millisecond
	t.Cleanup(func() { HookGrace = old })
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	got, err := RunHook(context.Background(), `sleep 30 & echo $! > `+pidFile+`; echo served-model`, Vars{}, nil)
	pid := readPid(t, pidFile)
	syscall.Kill(pid, syscall.SIGKILL)
	if err != nil || got != "served-model" {
		t.Fatalf("RunHook = %q, %v; want served-model", got, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("RunHook waited %s for the background child", d)
	}
}

func TestStep(t *testing.T) {
	st := corpus(t, codes, runs)
	ctx := context.Background()
	tests := []struct {
		name      string
		cfg       Config
		wantModel string
		ran       bool
		err       string
	}{
		{"export only", Config{}, "base", false, ""},
		{"command names the next model", Config{Command: `echo "pairs $(wc -l < {{.Data}})" >&2; echo "ft-{{.Cycle}}-{{.Pairs}}"`}, "ft-2-", true, ""},
		{"too few pairs", Config{Command: `echo x`, MinPairs: 1000}, "base", false, ""},
		{"failing command", Config{Command: `exit 4`}, "base", false, "exit status 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Dir = filepath.Join(t.TempDir(), "ft")
			res, err := Step(ctx, st, cfg, 2, "base")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "cycle-002.log") {
					t.Fatalf("error %v, want %q naming the log", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Ran != tc.ran || !strings.HasPrefix(res.Model, tc.wantModel) {
				t.Fatalf("result %+v, want model %q ran %v", res, tc.wantModel, tc.ran)
			}
			b, err := os.ReadFile(res.Data)
			if err != nil || bytes.Count(b, []byte("\n")) != res.Stats.Pairs || res.Stats.Pairs == 0 {
				t.Fatalf("data %s: %d lines, %d pairs, %v", res.Data, bytes.Count(b, []byte("\n")), res.Stats.Pairs, err)
			}
			if tc.ran {
				if res.Model != "ft-2-"+strconv.Itoa(res.Stats.Pairs) {
					t.Errorf("model %q, want ft-2-%d", res.Model, res.Stats.Pairs)
				}
				lg, _ := os.ReadFile(res.Log)
				if !strings.Contains(string(lg), "pairs "+strconv.Itoa(res.Stats.Pairs)) {
					t.Errorf("log %s misses the command's stderr:\n%s", res.Log, lg)
				}
			}
		})
	}
	// A resumed loop finds the model of the newest finished step.
	ldir := t.TempDir()
	if _, ok, err := Latest(ldir); ok || err != nil {
		t.Fatalf("Latest of an empty folder: %v %v", ok, err)
	}
	for cyc, cmd := range map[int]string{1: "echo m-1", 2: "echo m-2", 3: "exit 1"} {
		Step(ctx, st, Config{Dir: ldir, Command: cmd}, cyc, "base")
	}
	if _, err := Step(ctx, st, Config{Dir: ldir, Command: "echo m-1000"}, 1000, "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := Step(ctx, st, Config{Dir: ldir, Command: "echo m-101"}, 101, "base"); err != nil {
		t.Fatal(err)
	}
	if res, ok, err := Latest(ldir); !ok || err != nil || res.Model != "m-1000" || res.Cycle != 1000 || !res.Ran {
		t.Fatalf("Latest = %+v %v %v, want cycle 1000's m-1000", res, ok, err)
	}
	os.Remove(filepath.Join(ldir, "cycle-1000.json"))
	os.Remove(filepath.Join(ldir, "cycle-101.json"))
	if res, ok, _ := Latest(ldir); !ok || res.Model != "m-2" {
		t.Fatalf("Latest = %+v, want m-2 (cycle 3's command failed)", res)
	}

	// Each cycle draws its own pairs (the seed is mixed with the cycle).
	cfg := Config{Dir: t.TempDir(), Export: Options{PerGroup: 3}}
	r1, err1 := Step(ctx, st, cfg, 1, "m")
	r2, err2 := Step(ctx, st, cfg, 2, "m")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	a, _ := os.ReadFile(r1.Data)
	b, _ := os.ReadFile(r2.Data)
	if bytes.Equal(a, b) {
		t.Error("cycles 1 and 2 exported the same pairs")
	}
}
