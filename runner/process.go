package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nngpt/nngpt/internal/text"
)

// wireEvent is one line the worker writes on its event descriptor.
type wireEvent struct {
	T         string          `json:"t"`
	Seq       int             `json:"seq"`
	Nonce     string          `json:"nonce"`
	Stage     string          `json:"stage"`
	Kind      string          `json:"kind"`
	Message   string          `json:"message"`
	Traceback string          `json:"traceback"`
	Info      map[string]any  `json:"info"`
	Supported []string        `json:"supported"`
	Unused    []string        `json:"unused"`
	Prm       json.RawMessage `json:"prm"`
	InShape   []int           `json:"in_shape"`
	Output    json.RawMessage `json:"output"`
	Params    int64           `json:"params"`
	Trainable int64           `json:"trainable"`
	Tensors   int64           `json:"tensors"`
	// epoch
	Epoch         int      `json:"epoch"`
	TrainLoss     *float64 `json:"train_loss"`
	TrainSeconds  float64  `json:"train_seconds"`
	EvalSeconds   float64  `json:"eval_seconds"`
	Samples       int      `json:"samples"`
	SamplesPerSec float64  `json:"samples_per_sec"`
	Pred          string   `json:"pred"`
	// batch (progress within an epoch)
	Batch   int `json:"batch"`
	Batches int `json:"batches"`
	// done
	Stopped bool            `json:"stopped"`
	Meta    json.RawMessage `json:"meta"`
	// probe
	Level   int             `json:"level"`
	Modules []string        `json:"modules"`
	Forward bool            `json:"forward"`
	Input   []int           `json:"input"`
	Kwargs  json.RawMessage `json:"kwargs"`
	Reason  string          `json:"reason"`

	at time.Time
}

// Errors proc.next reports instead of an event.
var (
	errTimeout = errors.New("deadline passed")
	errFlood   = errors.New("output limit exceeded")
	errEOF     = errors.New("event stream ended")
	errDisk    = errors.New("scratch quota exceeded")
)

type tamperError struct{ msg string }

func (e *tamperError) Error() string { return e.msg }

// maxEventLine bounds one event line; the harness's are far shorter.
const maxEventLine = 1 << 20

// stream checks and delivers one worker's event lines: each must be JSON
// with the job's nonce and the next sequence number.
type stream struct {
	events  chan wireEvent
	evErr   error // why events closed (after it is closed)
	flood   chan struct{}
	disk    chan struct{} // closed when the scratch folder outgrew its quota (watchScratch); nil: not watched
	diskMsg string
	quit    chan struct{} // closed once the run is over: the reader stops
	quitOne sync.Once
	nonce   string
}

func newStream(nonce string) *stream {
	return &stream{events: make(chan wireEvent, 16), flood: make(chan struct{}), quit: make(chan struct{}), nonce: nonce}
}

// stop ends the reader.
func (s *stream) stop() { s.quitOne.Do(func() { close(s.quit) }) }

// proc is one running worker.
type proc struct {
	*stream
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	log     *capLog
	scratch string // host scratch folder (train jobs)
	started time.Time
	resumes map[int]time.Time // when the answer after each epoch was sent

	waitOnce sync.Once
	waitErr  error
	waitDone chan struct{}
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startProc starts cmd with the event pipe on fd 3 and writes spec (with a
// fresh nonce) on its stdin.
func startProc(cmd *exec.Cmd, spec map[string]any, outputLimit int64, keep int) (*proc, error) {
	evR, evW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("event pipe: %w", err)
	}
	p := &proc{
		stream:   newStream(newNonce()),
		cmd:      cmd,
		resumes:  map[int]time.Time{},
		waitDone: make(chan struct{}),
	}
	p.log = newCapLog(keep, outputLimit, func() { close(p.flood) })
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	extra := cmd.ExtraFiles // the sandbox's (seccomp filter), from fd 4 on
	cmd.ExtraFiles = append([]*os.File{evW}, extra...)
	defer closeFiles(extra) // the child holds its own copies once started
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		evR.Close()
		evW.Close()
		return nil, err
	}
	p.stdin = stdin
	spec["nonce"] = p.nonce
	line, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		evR.Close()
		evW.Close()
		return nil, fmt.Errorf("start worker %s: %w", cmd.Path, err)
	}
	evW.Close() // the child holds its own copy
	go func() {
		defer evR.Close()
		p.read(evR, false)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.waitDone)
	}()
	// A worker that dies at once closes stdin: the error shows up as its
	// exit status, not here.
	_, _ = stdin.Write(append(line, '\n'))
	return p, nil
}

// read delivers the lines of r until its end. stamped: each line starts
// with the Unix time it was written, in seconds as bash's $EPOCHREALTIME
// gives it, and a space (a cluster job's relay stamps them on the node).
func (p *stream) read(r io.Reader, stamped bool) {
	defer close(p.events)
	br := bufio.NewReaderSize(r, 64<<10)
	seq := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Too long for one slice: gather up to the cap.
			buf := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(buf) <= maxEventLine {
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			if len(buf) > maxEventLine {
				p.evErr = &tamperError{fmt.Sprintf("an event line longer than %d bytes", maxEventLine)}
				return
			}
			line = buf
		}
		if len(line) > 0 && err == nil {
			var ev wireEvent
			at := time.Now()
			if stamped {
				ts, rest, ok := bytes.Cut(line, []byte(" "))
				sec, perr := strconv.ParseFloat(string(ts), 64)
				if !ok || perr != nil {
					p.evErr = fmt.Errorf("event line without its time stamp: %q", text.Head(string(line), 200))
					return
				}
				at, line = time.Unix(0, int64(sec*1e9)), rest
			}
			if jerr := json.Unmarshal(bytes.TrimSpace(line), &ev); jerr != nil {
				p.evErr = &tamperError{fmt.Sprintf("an event line that is not JSON: %q", text.Head(string(line), 200))}
				return
			}
			if ev.Nonce != p.nonce {
				p.evErr = &tamperError{fmt.Sprintf("an event without this job's nonce: %q", text.Head(string(line), 200))}
				return
			}
			seq++
			if ev.Seq != seq {
				p.evErr = &tamperError{fmt.Sprintf("event sequence %d where %d was due (events from another process?)", ev.Seq, seq)}
				return
			}
			ev.at = at
			select {
			case p.events <- ev:
			case <-p.quit:
				return
			}
			continue
		}
		if err != nil {
			if len(bytes.TrimSpace(line)) > 0 {
				p.evErr = &tamperError{fmt.Sprintf("an unterminated event line: %q", text.Head(string(line), 200))}
			} else {
				p.evErr = errEOF
			}
			return
		}
	}
}

// next waits for the next event until timeout (0: none) or ctx ends.
func (p *stream) next(ctx context.Context, timeout time.Duration) (wireEvent, error) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case ev, ok := <-p.events:
		if !ok {
			return wireEvent{}, p.evErr
		}
		return ev, nil
	case <-p.flood:
		return wireEvent{}, errFlood
	case <-p.disk:
		return wireEvent{}, errDisk
	case <-tc:
		return wireEvent{}, errTimeout
	case <-ctx.Done():
		return wireEvent{}, ctx.Err()
	}
}

// send writes one control word; errors mean the worker is gone, which the
// event stream reports.
func (p *proc) send(word string) {
	_, _ = io.WriteString(p.stdin, word+"\n")
}

// decide answers the worker after epoch n (conn).
func (p *proc) decide(n int, word string) string {
	p.send(word)
	p.resumes[n] = time.Now()
	return word
}

func (p *proc) resumed(n int) (time.Time, bool) {
	t, ok := p.resumes[n]
	return t, ok
}

func (p *proc) startedAt() time.Time { return p.started }
func (p *proc) pid() int             { return p.cmd.Process.Pid }
func (p *proc) diskMessage() string  { return p.diskMsg }
func (p *proc) scratchDir() string   { return p.scratch }
func (p *proc) keepPreds() bool      { return false }

// kill ends the worker and everything it started: its process group, and
// with bubblewrap its PID namespace (which dies with the sandbox's init).
func (p *proc) kill() {
	if p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
}

// wait reaps the worker, killing it if it has not exited within grace.
func (p *proc) wait(grace time.Duration) *os.ProcessState {
	select {
	case <-p.waitDone:
	case <-time.After(grace):
		p.kill()
		<-p.waitDone
	}
	// Whatever it forked into its process group goes too (limits-only mode).
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = p.stdin.Close()
	p.stop()
	return p.cmd.ProcessState
}

// exitFailure turns how a worker ended into a failure, for a worker that
// stopped sending events before its last one. inBwrap: bubblewrap reports
// a child killed by signal N as exit status 128+N.
func exitFailure(st *os.ProcessState, inBwrap bool, stage Stage) *Failure {
	if st == nil {
		return &Failure{Stage: stage, Kind: FailCrashed, Message: "the worker vanished"}
	}
	sig := syscall.Signal(0)
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig = ws.Signal()
	}
	return ExitFailure(st.ExitCode(), sig, inBwrap, stage)
}

// ExitFailure turns a worker's exit status (or the signal that killed it)
// into a failure. shell: the status came through bubblewrap or a shell,
// which report a child killed by signal N as 128+N.
func ExitFailure(code int, sig syscall.Signal, shell bool, stage Stage) *Failure {
	f := &Failure{Stage: stage}
	if sig == 0 && shell && code > 128 && code < 128+65 {
		sig = syscall.Signal(code - 128)
	}
	switch {
	case sig == syscall.SIGXCPU:
		f.Kind, f.Message = FailTimeout, "CPU time limit reached (SIGXCPU)"
	case sig == syscall.SIGXFSZ:
		f.Kind, f.Message = FailForbidden, "file size limit reached (SIGXFSZ)"
	case sig != 0:
		f.Kind, f.Message = FailCrashed, fmt.Sprintf("killed by signal %d (%v)", int(sig), sig)
	case code == 0:
		f.Kind, f.Message = FailExited, "the worker exited with status 0 before finishing"
	default:
		f.Kind, f.Message = FailCrashed, fmt.Sprintf("the worker exited with status %d before finishing", code)
	}
	return f
}

// capLog keeps the head and the tail of a worker's output and counts the
// rest; past limit it calls onFlood once. Writes never fail, so the
// worker's pipe keeps draining until it is killed.
type capLog struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte // ring
	tailPos int
	full    bool
	keep    int
	total   int64
	limit   int64
	onFlood func()
	flooded bool
}

func newCapLog(keep int, limit int64, onFlood func()) *capLog {
	if keep <= 0 {
		keep = 64 << 10
	}
	return &capLog{keep: keep, limit: limit, onFlood: onFlood, tail: make([]byte, 0, keep*3/4)}
}

func (c *capLog) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(b)
	c.total += int64(n)
	if room := c.keep/4 - len(c.head); room > 0 {
		k := min(room, len(b))
		c.head = append(c.head, b[:k]...)
		b = b[k:]
	}
	tcap := cap(c.tail)
	for len(b) > 0 {
		if !c.full {
			k := min(tcap-len(c.tail), len(b))
			c.tail = append(c.tail, b[:k]...)
			b = b[k:]
			if len(c.tail) == tcap {
				c.full = true
				c.tailPos = 0
			}
			continue
		}
		k := copy(c.tail[c.tailPos:], b)
		c.tailPos = (c.tailPos + k) % tcap
		b = b[k:]
	}
	if c.limit > 0 && c.total > c.limit && !c.flooded {
		c.flooded = true
		if c.onFlood != nil {
			c.onFlood()
		}
	}
	return n, nil
}

// String is the kept output: the head, a marker for what was dropped, the
// tail.
func (c *capLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	b.Write(c.head)
	var tail []byte
	if c.full {
		tail = append(append([]byte{}, c.tail[c.tailPos:]...), c.tail[:c.tailPos]...)
	} else {
		tail = c.tail
	}
	if dropped := c.total - int64(len(c.head)) - int64(len(tail)); dropped > 0 {
		fmt.Fprintf(&b, "\n[... %d bytes of output dropped ...]\n", dropped)
	}
	b.Write(tail)
	return strings.ToValidUTF8(b.String(), "?")
}

// Total is the number of bytes written.
func (c *capLog) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
