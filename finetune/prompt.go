package finetune

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/prompt"
)

// prompter renders the system and user turns of a pair. By default they
// are exactly what the LLM generator sends for an n-shot improvement with
// the baseline as the main model and no supporting models (package
// prompt, workspace overrides included when the caller passes that set),
// so the fine-tuned model is trained on the prompts it will be asked.
type prompter struct {
	set       *prompt.Set
	custom    *template.Template // Options.Template, over Pair
	system    string             // Options.System
	maxParams int64
}

var funcs = template.FuncMap{
	// acc prints an accuracy with four decimals, as LEMUR's files read.
	"acc": func(f float64) string { return fmt.Sprintf("%.4f", f) },
	// code trims the trailing blank lines of a file for a fenced block.
	"code": func(s string) string { return strings.TrimRight(s, "\n") },
}

func newPrompter(opt Options) (*prompter, error) {
	p := &prompter{set: opt.Prompts, system: opt.System, maxParams: opt.MaxParams}
	if p.maxParams <= 0 {
		p.maxParams = lemur.DefaultMaxParams
	}
	if opt.Template != "" {
		t, err := template.New("custom template").Funcs(funcs).Option("missingkey=error").Parse(opt.Template)
		if err != nil {
			return nil, fmt.Errorf("finetune: prompt template: %w", err)
		}
		p.custom = t
	}
	if p.set == nil {
		p.set = prompt.Builtin()
	}
	// Render a sample now so a template naming a field Pair lacks fails
	// before any file is written.
	if _, _, err := p.messages(samplePair); err != nil {
		return nil, err
	}
	return p, nil
}

var samplePair = Pair{Task: "img-classification", Dataset: "cifar-10", Metric: "acc", Epoch: 1,
	Baseline: Model{Name: "a", Code: "x = 1\n", Accuracy: 0.4, Transform: "norm"},
	Better:   Model{Name: "b", Code: "x = 2\n", Accuracy: 0.5, Transform: "norm"}}

// known reports whether the prompt can describe a dataset (its classes and
// input shape); a custom template needs nothing.
func (p *prompter) known(dataset string) bool {
	if p.custom != nil {
		return true
	}
	d, ok := lemur.Dataset(dataset)
	return ok && d.Shape != [3]int{}
}

func (p *prompter) messages(pr Pair) (system, user string, err error) {
	if p.custom != nil {
		var b strings.Builder
		if err := p.custom.Execute(&b, pr); err != nil {
			return "", "", fmt.Errorf("finetune: prompt template: %w", err)
		}
		system = p.system
		if system == "" {
			system, _, err = p.nshot(samplePair)
		}
		return system, strings.TrimSpace(b.String()), err
	}
	system, user, err = p.nshot(pr)
	if p.system != "" {
		system = p.system
	}
	return system, user, err
}

// nshot renders the generator's n-shot prompt for the pair's baseline.
func (p *prompter) nshot(pr Pair) (system, user string, err error) {
	k, ok := lemur.Dataset(pr.Dataset)
	if !ok || k.Shape == [3]int{} {
		return "", "", fmt.Errorf("finetune: dataset %q: its classes and input shape are unknown to the prompt", pr.Dataset)
	}
	task := prompt.Task{Task: pr.Task, Dataset: pr.Dataset, Metric: pr.Metric, Classes: k.Classes,
		InShape: [4]int{64, k.Shape[0], k.Shape[1], k.Shape[2]}, Epochs: max(pr.Epoch, 1), MaxParams: p.maxParams}
	b := pr.Baseline
	pm := func(m Model) prompt.Model {
		return prompt.Model{Name: m.Name, Code: m.Code, Accuracy: m.Accuracy, Epoch: max(pr.Epoch, 1), Transform: m.Transform, HP: m.HPJSON()}
	}
	main := pm(b)
	d := prompt.Data{Task: task, Main: &main}
	for _, m := range pr.Supporting {
		d.Supporting = append(d.Supporting, pm(m))
	}
	out, err := p.set.Render(prompt.NShot, d)
	if err != nil {
		return "", "", fmt.Errorf("finetune: %w", err)
	}
	return strings.TrimSpace(out.Messages[0].Content), strings.TrimSpace(out.Messages[1].Content), nil
}
