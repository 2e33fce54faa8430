// Package zoo is nngpt's seed zoo: a dozen small vision networks written for
// this project in the LEMUR model contract (supported_hyperparameters() and
// class Net with train_setup, learn and forward), from a tiny CNN up to
// small ResNet-, MobileNet-, DenseNet-, SqueezeNet-, Inception-, SE- and
// ViT-like nets. They are embedded in the binary so a fresh workspace has a
// corpus to generate from (evolve's parents, few-shot examples) with no
// LEMUR download. Every model adapts to the input's channels and size and
// to the number of classes, and trains above 1.2 x chance on the shapes
// dataset in one epoch.
package zoo

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

//go:embed models/*.py
var files embed.FS

// Model is one zoo model: Name is the file stem (LEMUR names have no '_').
type Model struct {
	Name string
	Code string
}

// ID is the LEMUR code id of the model.
func (m Model) ID() string { return lemur.CodeID(m.Code) }

var models = load()

func load() []Model {
	entries, err := fs.ReadDir(files, "models")
	if err != nil {
		panic(fmt.Sprintf("zoo: embedded models: %v", err))
	}
	var out []Model
	for _, e := range entries {
		data, err := files.ReadFile(path.Join("models", e.Name()))
		if err != nil {
			panic(fmt.Sprintf("zoo: embedded model %s: %v", e.Name(), err))
		}
		out = append(out, Model{Name: strings.TrimSuffix(e.Name(), ".py"), Code: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Models returns the zoo, sorted by name. The slice is a copy.
func Models() []Model { return append([]Model(nil), models...) }

// Get returns the zoo model with that name.
func Get(name string) (Model, bool) {
	for _, m := range models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// Seed stores every zoo model in the nn table of the corpus. Models already
// there with the same code are counted as present; it is safe to run again.
func Seed(ctx context.Context, c store.Corpus) (store.AddResult, error) {
	var total store.AddResult
	for _, m := range models {
		r, err := c.PutCode(ctx, store.Code{Kind: store.KindNN, Name: m.Name, Code: m.Code, ID: m.ID()})
		if err != nil {
			return total, fmt.Errorf("seed zoo model %s: %w", m.Name, err)
		}
		total.Added += r.Added
		total.Present += r.Present
	}
	return total, nil
}
