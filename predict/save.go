package predict

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nngpt/nngpt/lemur"
)

// Dir is the workspace folder that holds fitted predictors, one folder per
// fit: model.json.gz (the model) and runs.jsonl.gz (the runs it learned
// from, one JSON object per line).
const Dir = "predictors"

const (
	modelFile = "model.json.gz"
	runsFile  = "runs.jsonl.gz"
)

// Save writes the model and its training runs into a new folder under
// wsDir/predictors and returns that folder. The folder name is the fit's
// UTC time, so the newest sorts last.
func Save(wsDir string, m *Model, runs []Run) (string, error) {
	base := filepath.Join(wsDir, Dir)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", base, err)
	}
	name := m.TrainedAt.UTC().Format("20060102T150405.000Z")
	name = strings.Replace(name, ".", "", 1)
	dir := filepath.Join(base, name)
	tmp, err := os.MkdirTemp(base, ".tmp-"+name)
	if err != nil {
		return "", fmt.Errorf("save predictor: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeGzip(filepath.Join(tmp, modelFile), func(w io.Writer) error {
		return json.NewEncoder(w).Encode(m)
	}); err != nil {
		return "", err
	}
	if err := writeGzip(filepath.Join(tmp, runsFile), func(w io.Writer) error { return WriteRuns(w, runs) }); err != nil {
		return "", err
	}
	// Rename last so a half-written predictor is never picked up.
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("save predictor: %w", err)
	}
	return dir, nil
}

func writeGzip(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	bw := bufio.NewWriter(zw)
	err = write(bw)
	err = errors.Join(err, bw.Flush(), zw.Close(), f.Close())
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// runLine is a run as one JSON line. Durations use null for unknown.
type runLine struct {
	Task    string          `json:"task"`
	Dataset string          `json:"dataset"`
	Metric  string          `json:"metric"`
	NN      string          `json:"nn"`
	UID     string          `json:"uid"`
	Prm     json.RawMessage `json:"prm"`
	Acc     []float64       `json:"acc"`
	Dur     []*float64      `json:"dur"`
}

// WriteRuns writes runs as JSON lines; hyperparameters keep their Python
// types (1 stays an int, 1.0 a float).
func WriteRuns(w io.Writer, runs []Run) error {
	enc := json.NewEncoder(w)
	for i := range runs {
		r := &runs[i]
		prm, err := lemur.EncodeJSON(r.Prm, 0, false)
		if err != nil {
			return fmt.Errorf("run %s %s: %w", r.Pipeline, r.UID, err)
		}
		l := runLine{Task: r.Task, Dataset: r.Dataset, Metric: r.Metric, NN: r.NN, UID: r.UID, Prm: prm, Acc: r.Acc}
		for _, d := range r.Dur {
			if math.IsNaN(d) {
				l.Dur = append(l.Dur, nil)
			} else {
				l.Dur = append(l.Dur, &d)
			}
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// ReadRuns reads what WriteRuns wrote.
func ReadRuns(r io.Reader) ([]Run, error) {
	var out []Run
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var l runLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("runs line %d: %w", line, err)
		}
		v, err := lemur.DecodeJSON(l.Prm)
		if err != nil {
			return nil, fmt.Errorf("runs line %d: prm: %w", line, err)
		}
		prm, ok := v.(lemur.Dict)
		if !ok {
			return nil, fmt.Errorf("runs line %d: prm is not an object", line)
		}
		run := Run{Pipeline: lemur.Pipeline{Task: l.Task, Dataset: l.Dataset, Metric: l.Metric, NN: l.NN},
			UID: l.UID, Prm: prm, Acc: l.Acc}
		for _, d := range l.Dur {
			if d == nil {
				run.Dur = append(run.Dur, math.NaN())
			} else {
				run.Dur = append(run.Dur, *d)
			}
		}
		out = append(out, run)
	}
	return out, sc.Err()
}

// ErrNoPredictor means the workspace has no fitted predictor yet.
var ErrNoPredictor = errors.New("no predictor in this workspace: fit one with 'nngpt predict train'")

// Latest returns the folder of the newest predictor under wsDir.
func Latest(wsDir string) (string, error) {
	base := filepath.Join(wsDir, Dir)
	ents, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoPredictor
	}
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", ErrNoPredictor
	}
	slices.Sort(names)
	return filepath.Join(base, names[len(names)-1]), nil
}

// Load reads a predictor folder written by Save (or its model.json.gz).
func Load(path string) (*Model, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, modelFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open predictor: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read predictor %s: %w", path, err)
	}
	var m Model
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		return nil, fmt.Errorf("read predictor %s: %w", path, err)
	}
	if m.Format != modelFormat {
		return nil, fmt.Errorf("predictor %s has format %d, this nngpt reads %d: fit it again with 'nngpt predict train'", path, m.Format, modelFormat)
	}
	for _, s := range append([]*Model{&m}, m.Stages...) {
		if s == nil || s.Gain == nil || s.GainLo == nil || s.GainHi == nil || s.Epoch == nil || s.FinalGain == nil {
			return nil, fmt.Errorf("predictor %s is incomplete: fit it again with 'nngpt predict train'", path)
		}
	}
	return &m, nil
}

// LoadRuns reads the training runs saved beside a predictor.
func LoadRuns(dir string) ([]Run, error) {
	f, err := os.Open(filepath.Join(dir, runsFile))
	if err != nil {
		return nil, fmt.Errorf("open training runs: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read training runs: %w", err)
	}
	return ReadRuns(zr)
}
