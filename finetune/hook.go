package finetune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
)

// Vars are what a hook command template sees.
type Vars struct {
	Data  string // the exported JSONL
	Cycle int    // the cycle that just finished
	Model string // the model the loop generates with now
	Pairs int    // lines in Data
}

// HookGrace is how long a cancelled hook (and whatever it started in its
// process group) has after SIGTERM before it is killed, and how long a
// finished hook's background children may keep its output open.
var HookGrace = 5 * time.Second

// HookError is a hook command that failed; Tail holds its last output lines.
type HookError struct {
	Command  string
	ExitCode int // -1 when it was killed by a signal
	Tail     []string
	Err      error
}

func (e *HookError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fine-tune command failed (")
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, "exit status %d", e.ExitCode)
	} else {
		fmt.Fprintf(&b, "%v", e.Err)
	}
	fmt.Fprintf(&b, "): %s", e.Command)
	if len(e.Tail) > 0 {
		b.WriteString("\nits last output:\n  " + strings.Join(e.Tail, "\n  "))
	}
	return b.String()
}

func (e *HookError) Unwrap() error { return e.Err }

// ErrNoModel is returned when a hook succeeds but prints no model name.
var ErrNoModel = errors.New("the fine-tune command printed nothing on stdout: its last non-empty line must name the model to use next")

// Command renders the hook template. {{.Data}}, {{.Model}} are inserted
// shell-quoted when they hold anything but letters, digits and @%+=:,./_-
// (as Python's shlex.quote does), so a path with spaces stays one word;
// write them bare, not inside quotes. {{.Cycle}} and {{.Pairs}} are numbers.
func Command(tmpl string, v Vars) (string, error) {
	if strings.TrimSpace(tmpl) == "" {
		return "", errors.New("fine-tune command is empty: give a shell command such as 'python ft.py --data {{.Data}} --base {{.Model}}'")
	}
	t, err := template.New("fine-tune command").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("fine-tune command template %q: %w (fields: {{.Data}} {{.Cycle}} {{.Model}} {{.Pairs}})", tmpl, err)
	}
	q := struct {
		Data, Model  string
		Cycle, Pairs int
	}{shellQuote(v.Data), shellQuote(v.Model), v.Cycle, v.Pairs}
	var b strings.Builder
	if err := t.Execute(&b, q); err != nil {
		return "", fmt.Errorf("fine-tune command template %q: %w (fields: {{.Data}} {{.Cycle}} {{.Model}} {{.Pairs}})", tmpl, err)
	}
	return b.String(), nil
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// RunHook renders tmpl with v and runs it through `sh -c`, its stdout and
// stderr streamed to logw. The environment also carries the values raw as
// NNGPT_FT_DATA, NNGPT_FT_CYCLE, NNGPT_FT_MODEL and NNGPT_FT_PAIRS. The last
// non-empty line the command prints on stdout is the model to use next
// (stderr is for progress and logs). Cancelling ctx sends SIGTERM to the
// command's whole process group, then SIGKILL after HookGrace.
func RunHook(ctx context.Context, tmpl string, v Vars, logw io.Writer) (string, error) {
	line, err := Command(tmpl, v)
	if err != nil {
		return "", err
	}
	if logw == nil {
		logw = io.Discard
	}
	lw := &lockedWriter{w: logw}
	out, errs := &lineTracker{}, &lineTracker{}
	tail := &tailLines{max: 12}
	out.tail, errs.tail = tail, tail
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Env = append(os.Environ(),
		"NNGPT_FT_DATA="+v.Data, "NNGPT_FT_CYCLE="+strconv.Itoa(v.Cycle),
		"NNGPT_FT_MODEL="+v.Model, "NNGPT_FT_PAIRS="+strconv.Itoa(v.Pairs))
	cmd.Stdout = io.MultiWriter(lw, out)
	cmd.Stderr = io.MultiWriter(lw, errs)
	cmd.WaitDelay = HookGrace
	ownGroup(cmd)
	fmt.Fprintf(lw, "$ %s\n", line)
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		killGroup(cmd) // nothing the hook started outlives a cancelled loop
	}
	out.flush()
	errs.flush()
	fmt.Fprintf(lw, "# exit after %s: %v\n", time.Since(start).Round(time.Millisecond), orOK(err))
	if errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil && cmd.ProcessState.Success() {
		// A background child (a model server, say) kept the output open;
		// the command itself finished fine.
		fmt.Fprintln(lw, "# a background process of the command still holds its output; it is no longer logged")
		err = nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("fine-tune command stopped: %w", ctx.Err())
		}
		he := &HookError{Command: line, ExitCode: -1, Tail: tail.lines(), Err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			he.ExitCode = ee.ExitCode()
		}
		return "", he
	}
	if out.last == "" {
		return "", ErrNoModel
	}
	return out.last, nil
}

func orOK(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}

// lockedWriter serialises the stdout and stderr copiers onto one log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failing log must not fail the hook: its output still counts.
	l.w.Write(p)
	return len(p), nil
}

// lineTracker remembers the last non-empty line written to it. Carriage
// returns end lines too, so a progress bar's last state counts as a line.
type lineTracker struct {
	partial []byte
	last    string
	tail    *tailLines
}

func (t *lineTracker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			t.partial = append(t.partial, p...)
			break
		}
		t.partial = append(t.partial, p[:i]...)
		t.line()
		p = p[i+1:]
	}
	return n, nil
}

func (t *lineTracker) line() {
	s := strings.TrimSpace(string(t.partial))
	t.partial = t.partial[:0]
	if s != "" {
		t.last = s
		t.tail.add(s)
	}
}

func (t *lineTracker) flush() {
	if len(t.partial) > 0 {
		t.line()
	}
}

// tailLines keeps the last max lines of both streams for error messages.
type tailLines struct {
	mu  sync.Mutex
	max int
	buf []string
}

func (t *tailLines) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	t.buf = append(t.buf, s)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
}

func (t *tailLines) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}
