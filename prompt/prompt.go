// Package prompt renders NNGPT's prompts: zero-shot synthesis, n-shot
// improvement (one main model and n supporting models with their code and
// accuracy), repair (the previous code and its truncated error) and rag (a
// Net built around a block from the block library). The
// templates (text/template) are embedded in the binary and any of them can
// be replaced by a file of the same name in the workspace's prompts/
// folder. Every prompt asks for <hp>, <tr> and <nn> in one reply, states
// the LEMUR contract, the parameter limit and the torch 1.13 constraint.
// Prompts are fitted to the model's context by dropping supporting
// examples, never by cutting text, and carry a hash for reproducibility.
package prompt

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
)

//go:embed templates/*.tmpl
var builtin embed.FS

// Kind names a prompt.
type Kind string

const (
	ZeroShot Kind = "zeroshot"
	NShot    Kind = "nshot"
	Repair   Kind = "repair"
	// RAG asks for a Net built around a block from the block library.
	RAG Kind = "rag"
)

// Template files: system.tmpl is the system message of every prompt,
// common.tmpl holds the shared blocks (task, contract, format, example),
// <kind>.tmpl is the user message.
const (
	fileSystem = "system.tmpl"
	fileCommon = "common.tmpl"
)

// Dir is the workspace folder whose .tmpl files override the built-in ones.
const Dir = "prompts"

// MaxRepairTries is how many repair prompts a candidate gets.
const MaxRepairTries = 3

// MaxErrorChars bounds the error text a repair prompt carries.
const MaxErrorChars = 2000

// Task describes what the model is for.
type Task struct {
	Task, Dataset, Metric string
	Classes               int
	InShape               [4]int // (B, C, H, W) the model is built with
	Epochs                int
	MaxParams             int64
}

// Model is a corpus model shown in a prompt.
type Model struct {
	Name      string
	Code      string
	Accuracy  float64
	Epoch     int
	Transform string
	HP        string // the hyperparameters as JSON, "" when unknown
	Metric    string // filled from Task when rendering
}

// Previous is the failed attempt a repair prompt feeds back.
type Previous struct {
	Code      string
	HP        string // JSON
	Transform string
	Stage     string // the failing stage: extract, parse, contract, build, forward, train, ...
	Reason    string // its typed reason, e.g. syntax_error
	Error     string // the error text; truncated to MaxErrorChars when rendered
	Try       int    // 1-based
	MaxTries  int
}

// Block is a library block (see package rag) a RAG prompt builds on.
type Block struct {
	Name  string // module.Class
	Code  string // the self-contained file holding the class
	Input string // how validation built it and what forward ran on, "" when unknown
}

// Data is what a template renders.
type Data struct {
	Task       Task
	Main       *Model    // nshot
	Supporting []Model   // nshot, most useful first: dropped from the end to fit
	Previous   *Previous // repair
	Block      *Block    // rag
}

// Prompt is a rendered prompt.
type Prompt struct {
	Kind     Kind          `json:"kind"`
	Messages []llm.Message `json:"messages"`
	// Hash identifies the exact text sent (sha256 over roles and contents).
	Hash string `json:"hash"`
	// TemplateHash identifies the template set used (built-in or overridden).
	TemplateHash string `json:"template_hash"`
	Shots        int    `json:"shots"`             // supporting models included
	Dropped      int    `json:"dropped,omitempty"` // supporting models dropped to fit the context
	Block        string `json:"block,omitempty"`   // rag: the library block's name
	Tokens       int    `json:"tokens,omitempty"`  // prompt tokens as counted by Fit
}

// Text is the prompt as one string (system and user messages), for the
// candidate's record.
func (p *Prompt) Text() string {
	var b strings.Builder
	for i, m := range p.Messages {
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "### %s\n%s", m.Role, strings.TrimRight(m.Content, "\n"))
	}
	b.WriteString("\n")
	return b.String()
}

// Set is a loaded template set.
type Set struct {
	tmpl       *template.Template
	hash       string
	Overridden []string // template files taken from the override folder
}

var funcs = template.FuncMap{
	"inc":    func(i int) int { return i + 1 },
	"trimnl": func(s string) string { return strings.Trim(s, "\n") },
	"shape": func(s [4]int) string {
		return fmt.Sprintf("(%d, %d, %d, %d)", s[0], s[1], s[2], s[3])
	},
}

// Builtin returns the embedded templates.
func Builtin() *Set {
	s, err := Load(nil)
	if err != nil {
		panic(fmt.Sprintf("prompt: built-in templates: %v", err))
	}
	return s
}

// Load parses the built-in templates, replacing each by the file of the
// same name in override when there is one (override may be nil). A .tmpl
// file in override that is not a known template is an error, so a typo
// in a file name is not silently ignored.
func Load(override fs.FS) (*Set, error) {
	names, err := fs.Glob(builtin, "templates/*.tmpl")
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for i, n := range names {
		names[i] = path.Base(n)
		known[names[i]] = true
	}
	sort.Strings(names)
	s := &Set{}
	if override != nil {
		extra, err := fs.Glob(override, "*.tmpl")
		if err != nil {
			return nil, fmt.Errorf("prompt overrides: %w", err)
		}
		for _, n := range extra {
			if !known[n] {
				return nil, fmt.Errorf("prompt override %s is not a known template (known: %s)", n, strings.Join(names, ", "))
			}
		}
	}
	root := template.New("").Funcs(funcs).Option("missingkey=error")
	h := sha256.New()
	for _, n := range names {
		src, err := fs.ReadFile(builtin, "templates/"+n)
		if err != nil {
			return nil, err
		}
		if override != nil {
			if o, err := fs.ReadFile(override, n); err == nil {
				src = o
				s.Overridden = append(s.Overridden, n)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("prompt override %s: %w", n, err)
			}
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(src))
		h.Write(src)
		if _, err := root.New(n).Parse(string(src)); err != nil {
			return nil, fmt.Errorf("prompt template %s: %w", n, err)
		}
	}
	s.tmpl = root
	s.hash = hex.EncodeToString(h.Sum(nil))
	// Render each kind once with sample data so a broken override fails
	// at load time, not in the middle of a run.
	for _, k := range []Kind{ZeroShot, NShot, Repair, RAG} {
		if _, err := s.Render(k, sampleData()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// LoadWorkspace loads the templates with the overrides of the workspace
// folder dir (its prompts/ subfolder, when it exists).
func LoadWorkspace(dir string) (*Set, error) {
	p := filepath.Join(dir, Dir)
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Load(nil)
	case err != nil:
		return nil, fmt.Errorf("prompt overrides: %w", err)
	case !st.IsDir():
		return nil, fmt.Errorf("prompt overrides: %s is not a folder", p)
	}
	return Load(os.DirFS(p))
}

// Hash identifies the template set.
func (s *Set) Hash() string { return s.hash }

// Names lists the template files.
func Names() ([]string, error) {
	names, err := fs.Glob(builtin, "templates/*.tmpl")
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		names[i] = path.Base(n)
	}
	sort.Strings(names)
	return names, nil
}

// Source returns the text of one template file (built-in or override),
// for `nngpt` to show or copy into a workspace.
func Source(name string) (string, error) {
	b, err := fs.ReadFile(builtin, "templates/"+name)
	if err != nil {
		return "", fmt.Errorf("no built-in prompt template %q", name)
	}
	return string(b), nil
}

// Render renders one prompt.
func (s *Set) Render(kind Kind, d Data) (*Prompt, error) {
	if err := d.check(kind); err != nil {
		return nil, err
	}
	d = d.withMetric()
	if d.Previous != nil {
		p := *d.Previous
		p.Error = TruncateError(p.Error, MaxErrorChars)
		if p.MaxTries == 0 {
			p.MaxTries = MaxRepairTries
		}
		d.Previous = &p
	}
	sys, err := s.exec(fileSystem, d)
	if err != nil {
		return nil, err
	}
	user, err := s.exec(string(kind)+".tmpl", d)
	if err != nil {
		return nil, err
	}
	p := &Prompt{
		Kind:         kind,
		Messages:     []llm.Message{{Role: llm.System, Content: sys}, {Role: llm.User, Content: user}},
		TemplateHash: s.hash,
		Shots:        len(d.Supporting),
	}
	if kind == RAG {
		p.Block = d.Block.Name
	}
	p.Hash = HashMessages(p.Messages)
	return p, nil
}

func (s *Set) exec(name string, d Data) (string, error) {
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		return "", fmt.Errorf("render prompt %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()) + "\n", nil
}

func (d Data) check(kind Kind) error {
	switch kind {
	case ZeroShot:
	case NShot:
		if d.Main == nil {
			return errors.New("n-shot prompt without a main model")
		}
	case Repair:
		if d.Previous == nil {
			return errors.New("repair prompt without the previous attempt")
		}
	case RAG:
		if d.Block == nil || strings.TrimSpace(d.Block.Code) == "" || d.Block.Name == "" {
			return errors.New("rag prompt without a block (name and code)")
		}
	default:
		return fmt.Errorf("unknown prompt kind %q (want zeroshot, nshot, repair or rag)", kind)
	}
	if d.Task.Classes < 1 || d.Task.Epochs < 1 || d.Task.MaxParams < 1 {
		return fmt.Errorf("prompt task needs classes, epochs and a parameter limit above 0 (got %d, %d, %d)", d.Task.Classes, d.Task.Epochs, d.Task.MaxParams)
	}
	return nil
}

func (d Data) withMetric() Data {
	if d.Main != nil {
		m := *d.Main
		m.Metric = d.Task.Metric
		d.Main = &m
	}
	sup := make([]Model, len(d.Supporting))
	for i, m := range d.Supporting {
		m.Metric = d.Task.Metric
		sup[i] = m
	}
	d.Supporting = sup
	return d
}

// HashMessages is the sha256 (hex) of the roles and contents.
func HashMessages(msgs []llm.Message) string {
	h := sha256.New()
	for _, m := range msgs {
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00", m.Role, len(m.Content), m.Content)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TruncateError keeps an error within max bytes: its first lines (the
// stage's own message) and its tail (a traceback ends with the cause),
// with a marker saying how much was left out.
func TruncateError(s string, max int) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if len(s) <= max {
		return s
	}
	head := max / 5
	tail := max - head
	for head > 0 && !isRuneStart(s[head]) {
		head--
	}
	start := len(s) - tail
	for start < len(s) && !isRuneStart(s[start]) {
		start++
	}
	return s[:head] + fmt.Sprintf("\n[... %d characters left out ...]\n", start-head) + s[start:]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ModelFrom builds a prompt Model from a name, code, accuracy and LEMUR
// hyperparameters (transform taken out of them).
func ModelFrom(name, code string, accuracy float64, epoch int, prm lemur.Dict) Model {
	m := Model{Name: name, Code: code, Accuracy: accuracy, Epoch: epoch}
	if prm != nil {
		m.Transform, _ = prm.String("transform")
		if b, err := lemur.EncodeJSON(prm.Without("transform", "uid", "epoch", "accuracy", "duration"), 0, false); err == nil {
			m.HP = string(b)
		}
	}
	return m
}

func sampleData() Data {
	m := Model{Name: "example", Code: "import torch\n", Accuracy: 0.5, Epoch: 1, Transform: "norm", HP: `{"lr": 0.01}`}
	return Data{
		Task:       Task{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", Classes: 10, InShape: [4]int{64, 3, 32, 32}, Epochs: 1, MaxParams: 1},
		Main:       &m,
		Supporting: []Model{m},
		Previous:   &Previous{Code: "x", Stage: "parse", Error: "e", Try: 1, MaxTries: MaxRepairTries},
		Block:      &Block{Name: "m.Block", Code: "import torch\n", Input: "Block() on 2x3x32x32 tensor"},
	}
}
