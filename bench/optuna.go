package bench

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nngpt/nngpt/hpo"
	"github.com/nngpt/nngpt/lemur"
)

//go:embed optuna_driver.py
var optunaDriver string

// FindOptuna returns a python3 that can import optuna: path when given
// (an error if it cannot), else the first of python3 on PATH and
// /usr/bin/python3 that can, with its Optuna version.
func FindOptuna(ctx context.Context, path string) (python, version string, err error) {
	cands := []string{path}
	if path == "" {
		cands = nil
		if p, err := exec.LookPath("python3"); err == nil {
			cands = append(cands, p)
		}
		cands = append(cands, "/usr/bin/python3")
	}
	var tried []string
	for _, c := range cands {
		out, err := exec.CommandContext(ctx, c, "-c", "import optuna; print(optuna.__version__)").Output()
		if err == nil {
			return c, strings.TrimSpace(string(out)), nil
		}
		tried = append(tried, c)
	}
	return "", "", fmt.Errorf("no python3 that can import optuna (tried %s): install it with `apt-get install python3-optuna` or `pip install optuna`, or name one with --python", strings.Join(tried, ", "))
}

// optunaDriverProc is one python process running optuna_driver.py.
type optunaDriverProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

type optunaPool struct {
	version string
	dir     string
	free    chan *optunaDriverProc
	all     []*optunaDriverProc
}

func newOptunaPool(ctx context.Context, python string, n int) (*optunaPool, error) {
	dir, err := os.MkdirTemp("", "nngpt-optuna-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "optuna_driver.py")
	if err := os.WriteFile(script, []byte(optunaDriver), 0o644); err != nil {
		return nil, err
	}
	p := &optunaPool{dir: dir, free: make(chan *optunaDriverProc, n)}
	for range n {
		cmd := exec.CommandContext(ctx, python, script)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			p.close()
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			p.close()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			p.close()
			return nil, fmt.Errorf("start %s: %w", python, err)
		}
		d := &optunaDriverProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
		d.out.Buffer(make([]byte, 1<<20), 1<<20)
		p.all = append(p.all, d)
		var hello struct {
			Ready string `json:"ready"`
		}
		if err := d.read(&hello); err != nil {
			p.close()
			return nil, fmt.Errorf("the Optuna driver did not start: %w", err)
		}
		p.version = hello.Ready
		p.free <- d
	}
	return p, nil
}

func (p *optunaPool) close() {
	for _, d := range p.all {
		d.in.Close()
		_ = d.cmd.Wait()
	}
	os.RemoveAll(p.dir)
}

func (d *optunaDriverProc) read(v any) error {
	if !d.out.Scan() {
		if err := d.out.Err(); err != nil {
			return err
		}
		return errors.New("the Optuna driver exited (its error is above)")
	}
	return json.Unmarshal(d.out.Bytes(), v)
}

func (d *optunaDriverProc) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = d.in.Write(append(b, '\n'))
	return err
}

// optunaParam is a parameter as the driver declares it to Optuna: a pow2
// becomes an int over its exponent (as a user would write it).
type optunaParam struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Low     float64  `json:"low"`
	High    float64  `json:"high"`
	Log     bool     `json:"log,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

func optunaSpace(sp *hpo.Space) []optunaParam {
	out := make([]optunaParam, len(sp.Params))
	for i, p := range sp.Params {
		q := optunaParam{Name: p.Name, Kind: string(p.Kind), Low: p.Low, High: p.High, Log: p.Log, Choices: p.Choices}
		if p.Kind == hpo.Pow2 {
			lo, hi := p.Bounds()
			q.Kind, q.Low, q.High, q.Log = string(hpo.Int), lo, hi, false
		}
		out[i] = q
	}
	return out
}

// fromOptuna maps Optuna's params back to internal coordinates.
func fromOptuna(sp *hpo.Space, params map[string]any) ([]float64, error) {
	x := make([]float64, len(sp.Params))
	for i := range sp.Params {
		p := &sp.Params[i]
		v, ok := params[p.Name]
		if !ok {
			return nil, fmt.Errorf("optuna proposed no %s", p.Name)
		}
		if p.Kind == hpo.Pow2 {
			f, _ := v.(float64)
			x[i] = f
			continue
		}
		var lv lemur.Value = v
		if p.Kind == hpo.Int {
			f, _ := v.(float64)
			lv = int64(math.Round(f))
		}
		f, ok := p.Internal(lv)
		if !ok {
			return nil, fmt.Errorf("optuna proposed %s=%v, outside the space", p.Name, v)
		}
		x[i] = f
	}
	return x, nil
}

// run minimises prob with Optuna's TPE and returns every trial's value
// and the time of each ask in milliseconds.
func (p *optunaPool) run(ctx context.Context, prob *TPEProblem, multivariate bool, seed, n int) (vals, askMS []float64, err error) {
	var d *optunaDriverProc
	select {
	case d = <-p.free:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { p.free <- d }()
	spec := map[string]any{"study": map[string]any{"space": optunaSpace(prob.Space), "multivariate": multivariate, "seed": seed, "trials": n}}
	if err := d.write(spec); err != nil {
		return nil, nil, fmt.Errorf("optuna driver: %w", err)
	}
	for range n {
		var msg struct {
			Params map[string]any `json:"params"`
			AskMS  float64        `json:"ask_ms"`
		}
		if err := d.read(&msg); err != nil {
			return nil, nil, fmt.Errorf("optuna driver: %w", err)
		}
		x, err := fromOptuna(prob.Space, msg.Params)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", prob.Name, err)
		}
		y := prob.F(prob.Space.Encode(prob.Space.Decode(x)))
		vals, askMS = append(vals, y), append(askMS, msg.AskMS)
		if err := d.write(map[string]float64{"value": y}); err != nil {
			return nil, nil, fmt.Errorf("optuna driver: %w", err)
		}
	}
	var end struct {
		Done bool `json:"done"`
	}
	if err := d.read(&end); err != nil || !end.Done {
		return nil, nil, fmt.Errorf("optuna driver did not finish the study: %v", err)
	}
	return vals, askMS, nil
}
