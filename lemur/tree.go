package lemur

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nngpt/nngpt/internal/text"
)

// Reasons a file of a LEMUR tree is skipped. They are stable keys: import
// reports count files per reason.
const (
	ReasonUnreadable   = "unreadable"
	ReasonNotUTF8      = "not_utf8"
	ReasonBadJSON      = "bad_json"
	ReasonNotArray     = "not_array"
	ReasonBadRecord    = "bad_record"
	ReasonNaN          = "nan"
	ReasonBadType      = "bad_type"
	ReasonBadFolder    = "bad_folder_name"
	ReasonNotEpochFile = "not_epoch_file"
)

// Problem is a file that could not be read, with why.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%s: %s: %s", p.Path, p.Reason, p.Detail) }

// Code tables of a LEMUR tree.
var codeDirs = map[string]bool{"nn": true, "transform": true, "metric": true}

// numericKeys are hyperparameters that must be numbers; a string there is
// a broken record, not an unknown key.
var numericKeys = map[string]bool{
	"lr": true, "momentum": true, "dropout": true, "batch": true, "epoch": true,
	"beta1": true, "beta2": true, "weight_decay": true,
}

// File is one parsed file of a LEMUR tree: a stat file (Records set) or a
// code file (CodeKind, Name and Code set).
type File struct {
	Path     string
	Pipeline Pipeline // stat files
	Epoch    int
	Records  []Record
	CodeKind string // "nn", "transform" or "metric" for code files
	Name     string
	Code     string
}

// IsCode reports whether f is a code file.
func (f *File) IsCode() bool { return f.CodeKind != "" }

// entry is a file found in a tree, not yet parsed.
type entry struct {
	path string // for messages
	rel  string // slash path used for classification
	read func() ([]byte, error)
	data []byte // tar entries are read while streaming
}

// Read walks a LEMUR tree: a checkout (root with ab/nn/...), a stat folder
// (with pipeline folders or the newer train/ level), or a .tar.gz of either.
// Files are parsed on `workers` goroutines (0: one per CPU); fn receives each
// parsed file and onProblem each skipped one, both from one goroutine. An
// error from either callback stops the walk and is returned.
func Read(ctx context.Context, root string, workers int, fn func(*File) error, onProblem func(*Problem) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("LEMUR tree %s: %w", root, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	entries := make(chan entry, 256)
	type result struct {
		file *File
		prob *Problem
	}
	results := make(chan result, 256)

	var walkErr error
	go func() {
		defer close(entries)
		send := func(e entry) bool {
			select {
			case entries <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if info.IsDir() {
			walkErr = walkDir(ctx, root, send)
		} else {
			walkErr = walkTarGz(ctx, root, send)
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range entries {
				f, p := parseEntry(e)
				if f == nil && p == nil {
					continue
				}
				select {
				case results <- result{f, p}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var cbErr error
	for r := range results {
		if cbErr != nil {
			continue // drain
		}
		if r.prob != nil {
			cbErr = onProblem(r.prob)
		} else {
			cbErr = fn(r.file)
		}
		if cbErr != nil {
			cancel()
		}
	}
	if cbErr != nil {
		return cbErr
	}
	if walkErr != nil {
		return walkErr
	}
	return ctx.Err()
}

// walkDir finds the stat and code folders under root and sends their files.
func walkDir(ctx context.Context, root string, send func(entry) bool) error {
	base := root
	if st, err := os.Stat(filepath.Join(root, "ab", "nn")); err == nil && st.IsDir() {
		base = filepath.Join(root, "ab", "nn")
	}
	var dirs []string
	if st, err := os.Stat(filepath.Join(base, "stat")); err == nil && st.IsDir() {
		dirs = append(dirs, "stat")
		for d := range codeDirs {
			if st, err := os.Stat(filepath.Join(base, d)); err == nil && st.IsDir() {
				dirs = append(dirs, d)
			}
		}
	} else {
		dirs = append(dirs, ".") // root is the stat folder itself
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(base, d), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				if p == filepath.Join(base, d) {
					return err
				}
				// An unreadable folder: report it as a problem entry.
				rel, _ := filepath.Rel(base, p)
				if !send(entry{path: p, rel: filepath.ToSlash(rel), read: func() ([]byte, error) { return nil, err }}) {
					return ctx.Err()
				}
				return fs.SkipDir
			}
			if de.IsDir() {
				return ctx.Err()
			}
			rel, _ := filepath.Rel(base, p)
			if !send(entry{path: p, rel: filepath.ToSlash(rel), read: func() ([]byte, error) { return os.ReadFile(p) }}) {
				return ctx.Err()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("walk %s: %w", filepath.Join(base, d), err)
		}
	}
	return nil
}

// walkTarGz streams a .tar.gz and sends its regular files.
func walkTarGz(ctx context.Context, file string, send func(entry) bool) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: not a gzip archive (want a LEMUR folder or a .tar.gz): %w", file, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: broken tar archive: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if classify(name) == kindIgnore {
			continue
		}
		data, rerr := io.ReadAll(tr)
		e := entry{path: file + ":" + name, rel: name, data: data}
		if rerr != nil {
			e.read = func() ([]byte, error) { return nil, rerr }
		}
		if !send(e) {
			return ctx.Err()
		}
	}
}

type entryKind int

const (
	kindIgnore entryKind = iota
	kindStat
	kindCode
)

// classify decides from a slash path what a file of a tree is. Stat files
// are stat/<pipeline>/<epoch>.json or stat/train/<pipeline>/<epoch>.json
// (or the same without the stat/ prefix when the tree is the stat folder);
// code files are nn/, transform/ or metric/<name>.py beside stat.
func classify(rel string) entryKind {
	c := strings.Split(rel, "/")
	n := len(c)
	if n >= 2 && strings.HasSuffix(c[n-1], ".py") && codeDirs[c[n-2]] && c[n-1] != "__init__.py" {
		if n == 2 || (n >= 4 && c[n-3] == "nn" && c[n-4] == "ab") {
			return kindCode
		}
		return kindIgnore
	}
	if !strings.HasSuffix(c[n-1], ".json") {
		return kindIgnore
	}
	rest := c
	for i := n - 3; i >= 0; i-- {
		if c[i] == "stat" {
			rest = c[i+1:]
			break
		}
	}
	if len(rest) == 3 && rest[0] == "train" {
		rest = rest[1:]
	}
	if len(rest) != 2 {
		return kindIgnore
	}
	folder, file := rest[0], rest[1]
	if !strings.Contains(folder, "_") && !isEpochFile(file) {
		return kindIgnore // stat/nn/<model>.json and the like: not training statistics
	}
	return kindStat
}

func isEpochFile(name string) bool {
	stem, ok := strings.CutSuffix(name, ".json")
	if !ok || stem == "" {
		return false
	}
	_, err := strconv.Atoi(stem)
	return err == nil
}

func parseEntry(e entry) (*File, *Problem) {
	kind := classify(e.rel)
	if kind == kindIgnore {
		return nil, nil
	}
	data := e.data
	if e.read != nil {
		var err error
		if data, err = e.read(); err != nil {
			return nil, &Problem{e.path, ReasonUnreadable, err.Error()}
		}
	}
	if !utf8.Valid(data) {
		return nil, &Problem{e.path, ReasonNotUTF8, "file is not valid UTF-8 text"}
	}
	c := strings.Split(e.rel, "/")
	n := len(c)
	if kind == kindCode {
		return &File{Path: e.path, CodeKind: c[n-2], Name: strings.TrimSuffix(c[n-1], ".py"), Code: string(data)}, nil
	}
	p, err := ParsePipeline(c[n-2])
	if err != nil {
		return nil, &Problem{e.path, ReasonBadFolder, err.Error()}
	}
	stem := strings.TrimSuffix(c[n-1], ".json")
	epoch, err := strconv.Atoi(stem)
	if err != nil || epoch < 0 {
		return nil, &Problem{e.path, ReasonNotEpochFile, fmt.Sprintf("file name %q is not <epoch>.json", c[n-1])}
	}
	recs, prob := ParseStatFile(p, epoch, data)
	if prob != nil {
		prob.Path = e.path
		return nil, prob
	}
	return &File{Path: e.path, Pipeline: p, Epoch: epoch, Records: recs}, nil
}

// ParseStatFile parses one epoch file: a JSON array of trial records. Any
// broken record rejects the whole file, so a file lands whole or not at all.
func ParseStatFile(p Pipeline, epoch int, data []byte) ([]Record, *Problem) {
	v, err := DecodeJSON(data)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) && se.Msg == ErrNonFinite.Error() {
			return nil, &Problem{Reason: ReasonNaN, Detail: err.Error()}
		}
		return nil, &Problem{Reason: ReasonBadJSON, Detail: err.Error()}
	}
	arr, ok := v.([]Value)
	if !ok {
		return nil, &Problem{Reason: ReasonNotArray, Detail: fmt.Sprintf("top level is %s, want an array of records", typeName(v))}
	}
	recs := make([]Record, 0, len(arr))
	for i, el := range arr {
		d, ok := el.(Dict)
		if !ok {
			return nil, &Problem{Reason: ReasonBadRecord, Detail: fmt.Sprintf("record %d is %s, want an object", i, typeName(el))}
		}
		r, prob := recordFrom(p, epoch, d)
		if prob != nil {
			prob.Detail = fmt.Sprintf("record %d: %s", i, prob.Detail)
			return nil, prob
		}
		recs = append(recs, r)
	}
	return recs, nil
}

func recordFrom(p Pipeline, epoch int, d Dict) (Record, *Problem) {
	r := Record{Pipeline: p, Epoch: epoch, Prm: make(Dict, 0, len(d))}
	var accRaw, durRaw, transform Value
	haveAcc := false
	for _, it := range d {
		switch it.Key {
		case "accuracy":
			f, prob := number("accuracy", it.Value)
			if prob != nil {
				return r, prob
			}
			r.Accuracy, accRaw, haveAcc = f, it.Value, true
		case "duration":
			if it.Value == nil {
				continue
			}
			f, prob := number("duration", it.Value)
			if prob != nil {
				return r, prob
			}
			if f < 0 || f != math.Trunc(f) || f > math.MaxInt64 {
				return r, &Problem{Reason: ReasonBadType, Detail: fmt.Sprintf("duration %v is not a whole number of nanoseconds", it.Value)}
			}
			dur := int64(f)
			r.Duration, durRaw = &dur, it.Value
		case "uid":
			s, ok := it.Value.(string)
			if !ok {
				return r, &Problem{Reason: ReasonBadType, Detail: fmt.Sprintf("uid is %s, want a string", typeName(it.Value))}
			}
			r.UID = s
		default:
			switch x := it.Value.(type) {
			case float64:
				if math.IsInf(x, 0) {
					return r, &Problem{Reason: ReasonNaN, Detail: fmt.Sprintf("%s is infinite", it.Key)}
				}
			case string:
				if numericKeys[it.Key] {
					return r, &Problem{Reason: ReasonBadType, Detail: fmt.Sprintf("%s is the string %q, want a number", it.Key, x)}
				}
			case []Value, Dict:
				return r, &Problem{Reason: ReasonBadType, Detail: fmt.Sprintf("%s is %s, want a number or a string", it.Key, typeName(x))}
			}
			if it.Key == "transform" {
				if _, ok := it.Value.(string); !ok && it.Value != nil {
					return r, &Problem{Reason: ReasonBadType, Detail: fmt.Sprintf("transform is %s, want a string", typeName(it.Value))}
				}
				transform = it.Value
			}
			r.Prm = append(r.Prm, it)
		}
	}
	if !haveAcc {
		return r, &Problem{Reason: ReasonBadRecord, Detail: "no accuracy"}
	}
	if r.UID == "" {
		r.UID = UID(r.Prm)
	}
	r.ID = StatID(transform, r.UID, p, int64(epoch), durRaw, accRaw)
	return r, nil
}

func number(key string, v Value) (float64, *Problem) {
	switch x := v.(type) {
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return 0, &Problem{Reason: ReasonNaN, Detail: fmt.Sprintf("%s is not finite", key)}
		}
		return x, nil
	case int64:
		return float64(x), nil
	}
	return 0, &Problem{Reason: ReasonBadType, Detail: fmt.Sprintf("%s is %s, want a number", key, typeName(v))}
}

func typeName(v Value) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return fmt.Sprintf("the string %q", text.Head(x, 30))
	case float64, int64:
		return "a number"
	case []Value:
		return "an array"
	case Dict:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Tree is a whole LEMUR tree in memory.
type Tree struct {
	Records  []Record
	Codes    map[string]map[string]string // kind -> name -> code
	Problems []Problem
}

// Load reads a whole tree into memory (see Read for the layouts). Records
// come in a stable order: pipeline, epoch, descending accuracy, uid.
func Load(ctx context.Context, root string) (*Tree, error) {
	t := &Tree{Codes: map[string]map[string]string{}}
	err := Read(ctx, root, 0, func(f *File) error {
		if f.IsCode() {
			if t.Codes[f.CodeKind] == nil {
				t.Codes[f.CodeKind] = map[string]string{}
			}
			t.Codes[f.CodeKind][f.Name] = f.Code
			return nil
		}
		t.Records = append(t.Records, f.Records...)
		return nil
	}, func(p *Problem) error {
		t.Problems = append(t.Problems, *p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	SortRecords(t.Records)
	sort.Slice(t.Problems, func(i, j int) bool { return t.Problems[i].Path < t.Problems[j].Path })
	return t, nil
}

// SortRecords orders records by pipeline, epoch, descending accuracy, uid.
func SortRecords(rs []Record) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := &rs[i], &rs[j]
		if a.Pipeline != b.Pipeline {
			return a.Pipeline.String() < b.Pipeline.String()
		}
		if a.Epoch != b.Epoch {
			return a.Epoch < b.Epoch
		}
		if a.Accuracy != b.Accuracy {
			return a.Accuracy > b.Accuracy
		}
		return a.ID < b.ID
	})
}
