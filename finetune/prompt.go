package finetune

import (
	_ "embed"
	"fmt"
	"strings"
	"text/template"
)

// DefaultSystem is the system turn of every example.
const DefaultSystem = "You are an expert in designing PyTorch neural networks for computer vision. " +
	"You improve models written in the LEMUR format and always answer with the hyperparameters as JSON " +
	"between <hp> and </hp>, the data transform name between <tr> and </tr>, and the complete Python " +
	"file of the model between <nn> and </nn>."

// DefaultTemplate is the user turn: NNGPT's improvement prompt with one
// main model (the baseline) and no supporting models, so a fine-tuned
// generator sees at training time what it sees when the loop asks it to
// improve a corpus model. It is a text/template over Pair; see
// prompt.tmpl.
//
//go:embed prompt.tmpl
var DefaultTemplate string

// prompter renders the user turn of a pair.
type prompter struct {
	tmpl   *template.Template
	system string
}

var funcs = template.FuncMap{
	// acc prints an accuracy with four decimals, as LEMUR's files read.
	"acc": func(f float64) string { return fmt.Sprintf("%.4f", f) },
	// code trims the trailing blank lines of a file for a fenced block.
	"code": func(s string) string { return strings.TrimRight(s, "\n") },
	"default": func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	},
}

func newPrompter(opt Options) (*prompter, error) {
	src, name := opt.Template, "custom template"
	if src == "" {
		src, name = DefaultTemplate, "prompt.tmpl"
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("finetune: prompt template: %w", err)
	}
	p := &prompter{tmpl: t, system: opt.System}
	if p.system == "" {
		p.system = DefaultSystem
	}
	// Render a sample now so a template naming a field Pair lacks fails
	// before any file is written.
	if _, err := p.user(samplePair); err != nil {
		return nil, err
	}
	return p, nil
}

var samplePair = Pair{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", Epoch: 1,
	Baseline: Model{Name: "a", Code: "x = 1\n", Accuracy: 0.4, Transform: "norm"},
	Better:   Model{Name: "b", Code: "x = 2\n", Accuracy: 0.5, Transform: "norm"}}

func (p *prompter) user(pr Pair) (string, error) {
	var b strings.Builder
	if err := p.tmpl.Execute(&b, pr); err != nil {
		return "", fmt.Errorf("finetune: prompt template: %w", err)
	}
	return strings.TrimSpace(b.String()), nil
}
