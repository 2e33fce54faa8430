package lemur

import (
	"fmt"
	"slices"
	"strings"
)

// AdmitFactor is LEMUR's validity rule: a classification model counts when
// its accuracy beats this multiple of chance.
const AdmitFactor = 1.2

// DefaultMaxParams is the parameter limit a model gets when nothing else is
// said (the prompt states it, the gate and the worker enforce it).
const DefaultMaxParams int64 = 5_000_000

// DatasetInfo is what nngpt knows of a dataset by its LEMUR name. It is the
// one table every package reads (the runner's preparation, the prompt's task
// line, the predictor's chance level, the CLI's validation).
type DatasetInfo struct {
	Name    string `json:"name"`
	Task    string `json:"task"`
	Classes int    `json:"classes"`
	Shape   [3]int `json:"shape"` // channels, height, width of nngpt's inputs (zero where it does not train on it)
	// Trainable: nngpt's worker can prepare it (shapes is generated, the
	// others are read from Files in a data folder); the rest are names
	// LEMUR's corpus uses, known so their records can be judged.
	Trainable bool   `json:"trainable"`
	Files     string `json:"files,omitempty"` // the standard files a data folder holds
}

// Chance is the accuracy of a uniform guess.
func (d DatasetInfo) Chance() float64 { return 1 / float64(max(1, d.Classes)) }

// Bar is the accuracy a model must beat to be admitted at admit x chance.
func (d DatasetInfo) Bar(admit float64) float64 { return admit * d.Chance() }

// datasets lists nngpt's datasets, trainable ones first in the order the
// CLI shows them.
var datasets = []DatasetInfo{
	{Name: "shapes", Task: "img-classification", Classes: 10, Shape: [3]int{3, 32, 32}, Trainable: true,
		Files: "generated (no files)"},
	{Name: "cifar-10", Task: "img-classification", Classes: 10, Shape: [3]int{3, 32, 32}, Trainable: true,
		Files: "cifar-10-batches-py/{data_batch_1..5,test_batch}"},
	{Name: "cifar-100", Task: "img-classification", Classes: 100, Shape: [3]int{3, 32, 32}, Trainable: true,
		Files: "cifar-100-python/{train,test}"},
	{Name: "mnist", Task: "img-classification", Classes: 10, Shape: [3]int{1, 28, 28}, Trainable: true,
		Files: "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"},
	{Name: "fashion-mnist", Task: "img-classification", Classes: 10, Shape: [3]int{1, 28, 28}, Trainable: true,
		Files: "FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"},
	{Name: "svhn", Task: "img-classification", Classes: 10, Shape: [3]int{3, 32, 32}, Trainable: true,
		Files: "train_32x32.mat, test_32x32.mat"},
	{Name: "imagenette", Task: "img-classification", Classes: 10, Shape: [3]int{3, 224, 224}},
	{Name: "celeba-gender", Task: "img-classification", Classes: 2},
	{Name: "places365", Task: "img-classification", Classes: 365},
}

// Dataset looks a dataset up by its LEMUR name.
func Dataset(name string) (DatasetInfo, bool) {
	i := slices.IndexFunc(datasets, func(d DatasetInfo) bool { return d.Name == name })
	if i < 0 {
		return DatasetInfo{}, false
	}
	return datasets[i], true
}

// Datasets lists every known dataset.
func Datasets() []DatasetInfo { return slices.Clone(datasets) }

// TrainableDatasets names the datasets nngpt can train on.
func TrainableDatasets() []string {
	var out []string
	for _, d := range datasets {
		if d.Trainable {
			out = append(out, d.Name)
		}
	}
	return out
}

// TrainableDataset returns the named dataset if nngpt can train on it, and
// otherwise an error that names the choices (and LEMUR's spelling when the
// name only differs in its dash).
func TrainableDataset(name string) (DatasetInfo, error) {
	d, ok := Dataset(name)
	if ok && d.Trainable {
		return d, nil
	}
	names := TrainableDatasets()
	if ok {
		return d, fmt.Errorf("dataset %q is in LEMUR's corpus but nngpt cannot train on it: want one of %s", name, strings.Join(names, ", "))
	}
	squash := func(s string) string { return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s)) }
	for _, n := range names {
		if squash(n) == squash(name) {
			return d, fmt.Errorf("dataset %q: LEMUR spells it %q", name, n)
		}
	}
	return d, fmt.Errorf("dataset %q: want one of %s", name, strings.Join(names, ", "))
}
