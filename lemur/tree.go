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
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	ReasonNotRegular   = "not_regular"  // a symlink, FIFO, device or socket: never followed or opened
	ReasonTooBig       = "too_big"      // larger than ReadOptions.MaxEntry
	ReasonOutOfRange   = "out_of_range" // accuracy outside [0, 1], an absurd epoch or duration
	ReasonBadName      = "bad_name"     // a code file whose name is not a safe LEMUR name
)

// ReadOptions bound what Read takes from an untrusted tree.
type ReadOptions struct {
	// Workers parse files in parallel (0: one per CPU).
	Workers int
	// MaxEntry is the largest file (or archive entry) read; larger ones
	// are skipped as too_big without being read (0: 16 MiB; LEMUR's
	// files are kilobytes).
	MaxEntry int64
	// MaxTotal bounds the bytes of a whole tree: the files' sizes, or an
	// archive's unpacked stream; past it the read stops with an error
	// (0: 16 GiB).
	MaxTotal int64
	// MaxKeys bounds the keys of one record (0: 1000).
	MaxKeys int
}

func (o ReadOptions) withDefaults() ReadOptions {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxEntry <= 0 {
		o.MaxEntry = 16 << 20
	}
	if o.MaxTotal <= 0 {
		o.MaxTotal = 16 << 30
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1000
	}
	return o
}

// Ranges a stat record must lie in.
const (
	MaxEpoch    = 100_000
	maxDuration = 10 * 365 * 24 * 3600 * 1e9 // ten years in ns
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
	data []byte   // tar entries are read while streaming
	prob *Problem // refused before reading (not regular, too big)
}

// Read walks a LEMUR tree: a checkout (root with ab/nn/...), a stat folder
// (with pipeline folders or the newer train/ level), or a .tar.gz of either.
// Files are parsed on `workers` goroutines (0: one per CPU); fn receives each
// parsed file and onProblem each skipped one, both from one goroutine. An
// error from either callback stops the walk and is returned.
func Read(ctx context.Context, root string, workers int, fn func(*File) error, onProblem func(*Problem) error) error {
	return ReadTree(ctx, root, ReadOptions{Workers: workers}, fn, onProblem)
}

// ReadTree is Read with bounds on what it takes (see ReadOptions). Only
// regular files are read, each opened without following a symlink and
// without blocking (a FIFO is refused, not waited on).
func ReadTree(ctx context.Context, root string, o ReadOptions, fn func(*File) error, onProblem func(*Problem) error) error {
	o = o.withDefaults()
	workers := o.Workers
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
			walkErr = walkDir(ctx, root, o, send)
		} else {
			walkErr = walkTarGz(ctx, root, o, send)
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range entries {
				f, p := parseEntry(e, o)
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

// isDir: a real folder, not a symlink to one.
func isDir(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.IsDir()
}

// walkDir finds the stat and code folders under root and sends their
// files. Nothing but folders and regular files is read: symlinks (to files
// or folders), FIFOs, devices and sockets are reported, never followed.
func walkDir(ctx context.Context, root string, o ReadOptions, send func(entry) bool) error {
	base := root
	if isDir(filepath.Join(root, "ab")) && isDir(filepath.Join(root, "ab", "nn")) {
		base = filepath.Join(root, "ab", "nn")
	}
	var dirs []string
	var total int64
	if isDir(filepath.Join(base, "stat")) {
		dirs = append(dirs, "stat")
		for d := range codeDirs {
			if isDir(filepath.Join(base, d)) {
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
			e := entry{path: p, rel: filepath.ToSlash(rel), read: func() ([]byte, error) { return readRegular(p, o.MaxEntry) }}
			if !de.Type().IsRegular() {
				e.prob = &Problem{p, ReasonNotRegular, fmt.Sprintf("a %s, not a regular file: not followed or read", modeName(de.Type()))}
			} else if fi, err := de.Info(); err == nil {
				if fi.Size() > o.MaxEntry {
					e.prob = &Problem{p, ReasonTooBig, fmt.Sprintf("%d bytes, more than the %d a LEMUR file may have", fi.Size(), o.MaxEntry)}
				} else if classify(e.rel) != kindIgnore {
					if total += fi.Size(); total > o.MaxTotal {
						return fmt.Errorf("the tree holds more than %d bytes of LEMUR files: refusing to read on", o.MaxTotal)
					}
				}
			}
			if !send(e) {
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

// modeName names a file type for messages.
func modeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// readRegular reads a regular file of at most max bytes. It opens without
// following a symlink and without blocking, then judges what it opened
// (not what the name pointed to a moment earlier).
func readRegular(p string, max int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("a %s, not a regular file", modeName(st.Mode().Type()))
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%d bytes, more than %d", st.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("grew past %d bytes while read", max)
	}
	return b, err
}

// countingReader counts the bytes an archive unpacks to.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// walkTarGz streams a .tar.gz and sends its regular files. Entries are
// judged by their header before a byte of them is read: links and devices
// are refused, entries over MaxEntry skipped unread, and the whole
// unpacked stream may not exceed MaxTotal (a small archive can unpack to
// terabytes).
func walkTarGz(ctx context.Context, file string, o ReadOptions, send func(entry) bool) error {
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (want a LEMUR folder or a .tar.gz)", file)
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: not a gzip archive (want a LEMUR folder or a .tar.gz): %w", file, err)
	}
	defer gz.Close()
	cr := &countingReader{r: gz}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if cr.n > o.MaxTotal {
			return fmt.Errorf("%s unpacks to more than %d bytes: refusing to read on", file, o.MaxTotal)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: broken tar archive: %w", file, err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if h.Typeflag == tar.TypeDir || classify(name) == kindIgnore {
			continue
		}
		e := entry{path: file + ":" + name, rel: name}
		switch {
		case h.Typeflag != tar.TypeReg:
			e.prob = &Problem{e.path, ReasonNotRegular, fmt.Sprintf("a tar entry of type %q, not a regular file: not followed or read", h.Typeflag)}
		case h.Size > o.MaxEntry:
			e.prob = &Problem{e.path, ReasonTooBig, fmt.Sprintf("%d bytes, more than the %d a LEMUR file may have", h.Size, o.MaxEntry)}
		default:
			data, rerr := io.ReadAll(io.LimitReader(tr, o.MaxEntry+1))
			e.data = data
			if rerr != nil {
				e.read = func() ([]byte, error) { return nil, rerr }
			}
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

// reName: a code file's name is a file stem on export and a key in the
// store: letters, digits, '.', '-', '_', not starting with a dot.
var reName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$`)

func parseEntry(e entry, o ReadOptions) (*File, *Problem) {
	if e.prob != nil {
		return nil, e.prob
	}
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
		name := strings.TrimSuffix(c[n-1], ".py")
		if !reName.MatchString(name) {
			return nil, &Problem{e.path, ReasonBadName, fmt.Sprintf("code name %q: want letters, digits, '.', '-', '_'", text.Head(name, 40))}
		}
		return &File{Path: e.path, CodeKind: c[n-2], Name: name, Code: string(data)}, nil
	}
	p, err := ParsePipeline(c[n-2])
	if err != nil {
		return nil, &Problem{e.path, ReasonBadFolder, err.Error()}
	}
	stem := strings.TrimSuffix(c[n-1], ".json")
	epoch, err := strconv.Atoi(stem)
	if err != nil || epoch < 0 {
		if err != nil && errors.Is(err, strconv.ErrRange) || epoch > MaxEpoch {
			return nil, &Problem{e.path, ReasonOutOfRange, fmt.Sprintf("epoch %s: want 0..%d", text.Head(stem, 30), MaxEpoch)}
		}
		return nil, &Problem{e.path, ReasonNotEpochFile, fmt.Sprintf("file name %q is not <epoch>.json", c[n-1])}
	}
	if epoch > MaxEpoch {
		return nil, &Problem{e.path, ReasonOutOfRange, fmt.Sprintf("epoch %d: want 0..%d", epoch, MaxEpoch)}
	}
	recs, prob := parseStatFile(p, epoch, data, o.MaxKeys)
	if prob != nil {
		prob.Path = e.path
		return nil, prob
	}
	return &File{Path: e.path, Pipeline: p, Epoch: epoch, Records: recs}, nil
}

// ParseStatFile parses one epoch file: a JSON array of trial records. Any
// broken record rejects the whole file, so a file lands whole or not at all.
func ParseStatFile(p Pipeline, epoch int, data []byte) ([]Record, *Problem) {
	return parseStatFile(p, epoch, data, ReadOptions{}.withDefaults().MaxKeys)
}

func parseStatFile(p Pipeline, epoch int, data []byte, maxKeys int) ([]Record, *Problem) {
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
		if len(d) > maxKeys {
			return nil, &Problem{Reason: ReasonBadRecord, Detail: fmt.Sprintf("record %d has %d keys, more than %d", i, len(d), maxKeys)}
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
			if f < 0 || f > 1 {
				return r, &Problem{Reason: ReasonOutOfRange, Detail: fmt.Sprintf("accuracy %v: want a value in [0, 1]", f)}
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
			if f > maxDuration {
				return r, &Problem{Reason: ReasonOutOfRange, Detail: fmt.Sprintf("duration %v ns is more than ten years", it.Value)}
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
