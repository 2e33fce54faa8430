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
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// Dir is the workspace folder that holds fitted predictors, one folder per
// fit: model.json.gz (the model) and runs.jsonl.gz (the runs it learned
// from, one JSON object per line).
const Dir = "predictors"

const (
	modelFile = "model.json.gz"
	runsFile  = "runs.jsonl.gz"
	metaFile  = "meta.json"
)

// Meta is what a predictor folder says about its model without loading
// it: which predictor fits a question is chosen from it.
type Meta struct {
	K          int       `json:"k"`
	Stages     []int     `json:"stages"`
	CodeGroups []string  `json:"code_groups"`
	TrainRuns  int       `json:"train_runs"`
	TrainedAt  time.Time `json:"trained_at"`
}

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
	meta, err := json.Marshal(Meta{K: m.Schema.K, Stages: m.StageEpochs()[1:], CodeGroups: m.Schema.CodeGroups(),
		TrainRuns: m.TrainRuns, TrainedAt: m.TrainedAt})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, metaFile), meta, 0o644); err != nil {
		return "", fmt.Errorf("save predictor: %w", err)
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
	dirs, err := predictorDirs(wsDir)
	if err != nil {
		return "", err
	}
	return dirs[0], nil
}

// predictorDirs lists the predictor folders under wsDir, newest first;
// ErrNoPredictor when there is none.
func predictorDirs(wsDir string) ([]string, error) {
	base := filepath.Join(wsDir, Dir)
	ents, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoPredictor
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, ErrNoPredictor
	}
	slices.Sort(names)
	slices.Reverse(names)
	for i, n := range names {
		names[i] = filepath.Join(base, n)
	}
	return names, nil
}

// ReadMeta reads what a predictor folder says about its model (loading the
// model for folders saved before meta.json existed).
func ReadMeta(dir string) (Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		m, err := Load(dir)
		if err != nil {
			return Meta{}, err
		}
		return Meta{K: m.Schema.K, Stages: m.StageEpochs()[1:], CodeGroups: m.Schema.CodeGroups(), TrainRuns: m.TrainRuns, TrainedAt: m.TrainedAt}, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("read predictor %s: %w", dir, err)
	}
	var meta Meta
	if err := json.Unmarshal(b, &meta); err != nil {
		return Meta{}, fmt.Errorf("read predictor %s: %s: %w", dir, metaFile, err)
	}
	return meta, nil
}

// LatestPruning returns the folder of the newest predictor that observes
// at least one epoch (what early stopping needs), or ErrNoPredictor.
func LatestPruning(wsDir string) (string, error) {
	return latestWhere(wsDir, func(m Meta) bool { return m.K >= 1 })
}

// LatestZeroShot returns the folder of the newest zero-shot predictor
// (K = 0: what screening needs), or ErrNoZeroShot.
func LatestZeroShot(wsDir string) (string, error) {
	d, err := latestWhere(wsDir, func(m Meta) bool { return m.K == 0 })
	if errors.Is(err, ErrNoPredictor) {
		return "", ErrNoZeroShot
	}
	return d, err
}

// ErrNoZeroShot means the workspace has no predictor fitted with K = 0.
var ErrNoZeroShot = errors.New("no zero-shot predictor in this workspace: fit one with 'nngpt predict train --k 0'")

func latestWhere(wsDir string, ok func(Meta) bool) (string, error) {
	dirs, err := predictorDirs(wsDir)
	if err != nil {
		return "", err
	}
	for _, d := range dirs {
		meta, err := ReadMeta(d)
		if err != nil {
			return "", err
		}
		if ok(meta) {
			return d, nil
		}
	}
	return "", ErrNoPredictor
}

// LatestFor returns the folder of the predictor for a run with seen
// epochs observed: the one with the most observed epochs K <= seen, the
// newest of those. A zero-shot predictor (K = 0) answers seen = 0; the
// error says which to fit when none fits.
func LatestFor(wsDir string, seen int) (string, error) {
	dirs, err := predictorDirs(wsDir)
	if err != nil {
		return "", err
	}
	best, bestK := "", -1
	var ks []int
	for _, d := range dirs {
		meta, err := ReadMeta(d)
		if err != nil {
			return "", err
		}
		ks = append(ks, meta.K)
		if meta.K <= seen && meta.K > bestK {
			best, bestK = d, meta.K
		}
	}
	if best == "" {
		slices.Sort(ks)
		return "", fmt.Errorf("no predictor in this workspace predicts from %d observed epochs (they need %v): fit one with 'nngpt predict train --k %d'", seen, slices.Compact(ks), seen)
	}
	return best, nil
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
