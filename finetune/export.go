// Package finetune builds NNGPT's fine-tuning set from the corpus and runs
// the user's fine-tuning command between loop cycles.
//
// The set: pairs of a baseline model and a better model on the same task,
// dataset, metric and epoch, written as chat-format JSONL (one
// {"messages": [system, user, assistant]} object per line), the format HF
// TRL's SFTTrainer, Unsloth and axolotl (type: chat_template) read as they
// are. The user turn is an improvement prompt holding the baseline's code,
// hyperparameters, transform and accuracy; the assistant turn is the reply
// NNGPT's generator must learn to write: <hp>JSON</hp><tr>transform</tr>
// <nn>better code</nn>.
package finetune

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/store"
)

// Options select and shape the pairs. The zero value is usable: every task
// and dataset, margin DefaultMargin, DefaultPerGroup pairs per group, seed 0.
type Options struct {
	// Task, Dataset, Metric filter the corpus (empty: all).
	Task, Dataset, Metric string
	// Epoch restricts pairs to one epoch (0: every epoch).
	Epoch int
	// Margin is the least accuracy gain of the better model over the
	// baseline (absolute, e.g. 0.02 = two points). 0 means DefaultMargin;
	// use a negative value for "any strict gain".
	Margin float64
	// PerGroup caps the pairs per (task, dataset, metric, epoch); 0 means
	// DefaultPerGroup, negative means no cap.
	PerGroup int
	// Seed makes the choice of pairs reproducible.
	Seed int64
	// MaxCodeBytes skips models whose code is longer (0: DefaultMaxCodeBytes,
	// negative: no limit), so one pair never overflows a training context.
	MaxCodeBytes int
	// Prompts is the template set the user and system turns are rendered
	// with: the LLM generator's n-shot prompt, the baseline as its main
	// model, no supporting models. Pass prompt.LoadWorkspace(dir) so the
	// workspace's overrides apply as they do for the generator; nil uses
	// prompt.Builtin().
	Prompts *prompt.Set
	// Shots adds this many supporting models to each prompt, drawn at
	// random from the pair's group (never the baseline or the answer), as
	// the generator's n-shot prompt carries them (0: none).
	Shots int
	// MaxParams is the parameter limit the prompt states (0:
	// lemur.DefaultMaxParams); the loop passes its own.
	MaxParams int64
	// Template replaces the user turn with a text/template over Pair
	// (functions acc and code); the system turn stays the generator's
	// unless System is set.
	Template string
	// System replaces the system turn.
	System string
}

// Defaults of Options.
const (
	DefaultMargin       = 0.01
	DefaultPerGroup     = 50
	DefaultMaxCodeBytes = 24_000
)

// Stats says what an export did.
type Stats struct {
	Pairs      int `json:"pairs"`       // lines written
	Groups     int `json:"groups"`      // (task, dataset, metric, epoch) groups with at least two models
	Models     int `json:"models"`      // distinct models with stat rows and code
	NoCode     int `json:"no_code"`     // models with stat rows but no row in the nn table
	TooLong    int `json:"too_long"`    // models skipped for MaxCodeBytes
	StatRows   int `json:"stat_rows"`   // best-per-model stat rows read
	NoImprover int `json:"no_improver"` // baselines no model beat by the margin
	// UnknownDataset counts stat rows left out because the prompt cannot
	// describe their dataset (classes and input shape unknown).
	UnknownDataset int `json:"unknown_dataset,omitempty"`
}

// Model is one side of a pair: a model's best run at one epoch.
type Model struct {
	Name      string
	Code      string
	Accuracy  float64
	Transform string
	// HP are the run's numeric hyperparameters (transform and epoch
	// excluded), in the record's order.
	HP lemur.Dict
}

// HPJSON is the hyperparameters as one JSON object, the <hp> body.
func (m Model) HPJSON() string {
	b, err := lemur.EncodeJSON(m.HP, 0, false)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// Pair is one training example: the prompt's data and the answer.
type Pair struct {
	Task, Dataset, Metric string
	Epoch                 int
	Baseline, Better      Model
	Supporting            []Model // Options.Shots models of the same group
}

// Gain is the better model's accuracy minus the baseline's.
func (p Pair) Gain() float64 { return p.Better.Accuracy - p.Baseline.Accuracy }

// Answer is the assistant turn: the better model as NNGPT's generator must
// reply.
func (p Pair) Answer() string {
	return "<hp>" + p.Better.HPJSON() + "</hp>\n<tr>" + p.Better.Transform + "</tr>\n<nn>\n" +
		strings.TrimRight(p.Better.Code, "\n") + "\n</nn>"
}

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Example is one JSONL line.
type Example struct {
	Messages []Message `json:"messages"`
}

// Export writes the fine-tuning set from the corpus to w, one JSON object
// per line, deterministic for equal corpus, options and seed.
func Export(ctx context.Context, c store.Corpus, w io.Writer, opt Options) (Stats, error) {
	pr, err := newPrompter(opt)
	if err != nil {
		return Stats{}, err
	}
	pairs, st, err := selectPairs(ctx, c, opt, pr.known)
	if err != nil {
		return st, err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // keep < > & readable: the tags are the point
	for _, p := range pairs {
		system, user, err := pr.messages(p)
		if err != nil {
			return st, err
		}
		ex := Example{Messages: []Message{
			{Role: "system", Content: system},
			{Role: "user", Content: user},
			{Role: "assistant", Content: p.Answer()},
		}}
		if err := enc.Encode(ex); err != nil {
			return st, fmt.Errorf("finetune: write pair: %w", err)
		}
		st.Pairs++
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("finetune: write pairs: %w", err)
	}
	return st, nil
}

// ExportFile writes the set to path through a temporary file, so a
// fine-tuning command never reads half a file. It returns the pair count.
func ExportFile(ctx context.Context, c store.Corpus, path string, opt Options) (Stats, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Stats{}, fmt.Errorf("finetune: create %s: %w", dir, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return Stats{}, fmt.Errorf("finetune: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file private; the set is meant to be shared with
	// a trainer, maybe under another user.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return Stats{}, fmt.Errorf("finetune: %w", err)
	}
	st, err := Export(ctx, c, tmp, opt)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("finetune: write %s: %w", path, cerr)
	}
	if err != nil {
		return st, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return st, fmt.Errorf("finetune: write %s: %w", path, err)
	}
	return st, nil
}

// groupKey is one (task, dataset, metric, epoch).
type groupKey struct {
	task, dataset, metric string
	epoch                 int
}

// SelectPairs chooses the pairs. For each (task, dataset, metric, epoch):
//  1. every model contributes its best stat row at that epoch (ties: the
//     first in store order), if the nn table holds its code;
//  2. the models are visited as baselines in a seeded random order; each
//     baseline is paired with one model drawn at random among those whose
//     accuracy is at least the baseline's plus Margin and whose code differs;
//  3. this repeats over the baselines that still have an unused better
//     model until PerGroup pairs are chosen or none is left.
//
// So the pairs spread over many baselines before any baseline repeats, and
// the result depends only on the corpus, the options and the seed (each
// group has its own random stream, so filtering one group out does not
// change another's pairs).
func SelectPairs(ctx context.Context, c store.Corpus, opt Options) ([]Pair, Stats, error) {
	return selectPairs(ctx, c, opt, nil)
}

// selectPairs is SelectPairs keeping only datasets known(dataset) accepts
// (nil: all).
func selectPairs(ctx context.Context, c store.Corpus, opt Options, known func(string) bool) ([]Pair, Stats, error) {
	var st Stats
	if opt.Margin == 0 {
		opt.Margin = DefaultMargin
	}
	if opt.PerGroup == 0 {
		opt.PerGroup = DefaultPerGroup
	}
	if opt.MaxCodeBytes == 0 {
		opt.MaxCodeBytes = DefaultMaxCodeBytes
	}
	if opt.Shots < 0 {
		return nil, st, fmt.Errorf("finetune: shots %d: want 0 or more supporting models", opt.Shots)
	}
	if opt.Epoch < 0 {
		return nil, st, fmt.Errorf("finetune: epoch %d: want 0 (every epoch) or a positive epoch", opt.Epoch)
	}
	f := store.Filter{Task: opt.Task, Dataset: opt.Dataset, Metric: opt.Metric, BestOnly: true}
	if opt.Epoch > 0 {
		f.Epoch, f.EpochSet = opt.Epoch, true
	}
	groups := map[groupKey][]Model{}
	seen := map[string]bool{} // group + nn: keep the first (best) row only
	codes := map[string]*string{}
	for rec, err := range c.Stats(ctx, f) {
		if err != nil {
			return nil, st, fmt.Errorf("finetune: read stats: %w", err)
		}
		if known != nil && !known(rec.Dataset) {
			st.UnknownDataset++
			continue
		}
		k := groupKey{rec.Task, rec.Dataset, rec.Metric, rec.Epoch}
		id := fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%s", k.task, k.dataset, k.metric, k.epoch, rec.NN)
		if seen[id] {
			continue
		}
		seen[id] = true
		st.StatRows++
		code, ok := codes[rec.NN]
		if !ok {
			row, found, err := c.Code(ctx, store.KindNN, rec.NN)
			if err != nil {
				return nil, st, fmt.Errorf("finetune: read code of %s: %w", rec.NN, err)
			}
			switch {
			case !found:
				st.NoCode++
			case opt.MaxCodeBytes > 0 && len(row.Code) > opt.MaxCodeBytes:
				st.TooLong++
			default:
				code = &row.Code
				st.Models++
			}
			codes[rec.NN] = code
		}
		if code == nil {
			continue
		}
		groups[k] = append(groups[k], model(rec, *code))
	}
	keys := make([]groupKey, 0, len(groups))
	for k, ms := range groups {
		if len(ms) >= 2 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.task, b.task), cmp.Compare(a.dataset, b.dataset), cmp.Compare(a.metric, b.metric), cmp.Compare(a.epoch, b.epoch))
	})
	st.Groups = len(keys)
	var out []Pair
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		out = append(out, pairGroup(k, groups[k], opt, &st)...)
	}
	return out, st, nil
}

func model(rec lemur.Record, code string) Model {
	m := Model{Name: rec.NN, Code: code, Accuracy: rec.Accuracy, Transform: rec.Transform()}
	for _, it := range rec.Prm {
		switch it.Key {
		case "transform", "epoch", "uid", "accuracy", "duration":
			continue
		}
		// <hp> holds numbers only (the reply parser rejects anything else).
		switch it.Value.(type) {
		case int64, float64:
			m.HP = append(m.HP, it)
		}
	}
	return m
}

func pairGroup(k groupKey, ms []Model, opt Options, st *Stats) []Pair {
	// Ascending accuracy, names breaking ties, so "better than x by the
	// margin" is a suffix of the slice.
	slices.SortStableFunc(ms, func(a, b Model) int {
		return cmp.Or(cmp.Compare(a.Accuracy, b.Accuracy), cmp.Compare(a.Name, b.Name))
	})
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d", k.task, k.dataset, k.metric, k.epoch)
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), h.Sum64()))
	// Supporting models draw from their own stream, so asking for shots
	// leaves the choice of pairs as it is.
	shots := rand.New(rand.NewPCG(uint64(opt.Seed)^0x5eed, h.Sum64()))
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = lemur.CodeID(m.Code)
	}
	// from[i]: the first model that beats ms[i] by the margin.
	from := make([]int, len(ms))
	for i := range ms {
		from[i] = sort.Search(len(ms), func(j int) bool {
			d := ms[j].Accuracy - ms[i].Accuracy
			if opt.Margin < 0 {
				return d > 0
			}
			return d >= opt.Margin-1e-12
		})
		if from[i] == len(ms) {
			st.NoImprover++
		}
	}
	// better[i] holds the improvers of ms[i] not used yet, shuffled, built
	// when ms[i] is first drawn: with a cap only a few lists are ever built,
	// which keeps a group of thousands of models cheap.
	better := make([][]int, len(ms))
	built := make([]bool, len(ms))
	order := rng.Perm(len(ms))
	var out []Pair
	for {
		added := false
		for _, i := range order {
			if opt.PerGroup > 0 && len(out) >= opt.PerGroup {
				return out
			}
			if !built[i] {
				built[i] = true
				for j := from[i]; j < len(ms); j++ {
					if ids[j] != ids[i] { // the same code under another name teaches nothing
						better[i] = append(better[i], j)
					}
				}
				rng.Shuffle(len(better[i]), func(a, b int) { better[i][a], better[i][b] = better[i][b], better[i][a] })
			}
			if len(better[i]) == 0 {
				continue
			}
			j := better[i][len(better[i])-1]
			better[i] = better[i][:len(better[i])-1]
			pr := Pair{Task: k.task, Dataset: k.dataset, Metric: k.metric, Epoch: k.epoch, Baseline: ms[i], Better: ms[j]}
			if opt.Shots > 0 {
				for _, x := range shots.Perm(len(ms)) {
					if len(pr.Supporting) == opt.Shots {
						break
					}
					if ids[x] != ids[i] && ids[x] != ids[j] {
						pr.Supporting = append(pr.Supporting, ms[x])
					}
				}
			}
			out = append(out, pr)
			added = true
		}
		if !added {
			return out
		}
	}
}

// ErrNoPairs is wrapped by callers that need at least one pair.
var ErrNoPairs = errors.New("no baseline/better pairs in the corpus")
