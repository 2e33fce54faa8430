// Package llmpred is the paper's LLM accuracy predictor: one prompt holding
// the model's code, its hyperparameters, the dataset and the accuracies of
// the first epochs, answered with a `best_accuracy:` and a `best_epoch:`
// line. It talks to any server behind llm.Client; nngpt's own predictor
// (package predict) needs no LLM and is what early stopping uses.
package llmpred

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/predict"
)

// Predictor asks an LLM.
type Predictor struct {
	Client llm.Client
	// MaxTokens bounds the reply (default 64: two short lines).
	MaxTokens int
}

// Prediction is the LLM's answer.
type Prediction struct {
	BestAccuracy float64 `json:"best_accuracy"`
	BestEpoch    int     `json:"best_epoch"`
	Reply        string  `json:"reply"`
}

const system = `You predict how a PyTorch image model will train. Given its code, hyperparameters, dataset, the number of epochs it will train and its accuracy after the first epochs, answer with exactly two lines and nothing else:
best_accuracy: <the highest accuracy it will reach over all epochs, a number in [0, 1]>
best_epoch: <the epoch (1-based) where it reaches it>`

// Prompt is the user message for one run; code may be empty.
func Prompt(in predict.Input, code string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "task: %s\ndataset: %s\nmetric: %s\n", in.Task, in.Dataset, in.Metric)
	fmt.Fprintf(&b, "hyperparameters: %s\n", lemur.Repr(in.Prm))
	if t, ok := in.Prm.String("transform"); ok {
		fmt.Fprintf(&b, "transform: %s\n", t)
	}
	fmt.Fprintf(&b, "max_epoch: %d\n", in.MaxEpoch)
	for i, a := range in.Acc {
		fmt.Fprintf(&b, "accuracy after epoch %d: %.4f\n", i+1, a)
	}
	if code != "" {
		fmt.Fprintf(&b, "code:\n```python\n%s\n```\n", strings.TrimRight(code, "\n"))
	} else {
		b.WriteString("code: not available\n")
	}
	return b.String()
}

var (
	accLine   = regexp.MustCompile(`(?im)^\s*\**best_accuracy\**\s*[:=]\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)`)
	epochLine = regexp.MustCompile(`(?im)^\s*\**best_epoch\**\s*[:=]\s*([0-9]+)`)
)

// ErrNoAnswer means the reply had no parsable best_accuracy line.
var ErrNoAnswer = errors.New("the reply has no 'best_accuracy: <number>' line")

// ParseReply reads the two lines. A percentage (or a number above 1
// followed by %) is turned into a share; the epoch is clamped to
// 1..maxEpoch and defaults to maxEpoch when missing.
func ParseReply(reply string, maxEpoch int) (acc float64, epoch int, err error) {
	m := accLine.FindStringSubmatch(reply)
	if m == nil {
		return 0, 0, ErrNoAnswer
	}
	acc, err = strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, 0, fmt.Errorf("best_accuracy %q: %w", m[1], err)
	}
	if m[2] == "%" || (acc > 1 && acc <= 100) {
		acc /= 100
	}
	if acc < 0 || acc > 1 {
		return 0, 0, fmt.Errorf("best_accuracy %v is not in [0, 1]", acc)
	}
	epoch = maxEpoch
	if e := epochLine.FindStringSubmatch(reply); e != nil {
		if n, err := strconv.Atoi(e[1]); err == nil {
			epoch = n
		}
	}
	epoch = min(max(epoch, 1), max(maxEpoch, 1))
	return acc, epoch, nil
}

// Predict asks the LLM about one run. The answer never goes below the best
// accuracy already seen (the best over all epochs cannot).
func (p *Predictor) Predict(ctx context.Context, in predict.Input, code string) (Prediction, error) {
	if p.Client == nil {
		return Prediction{}, errors.New("llm predictor: no LLM client configured")
	}
	maxTok := p.MaxTokens
	if maxTok == 0 {
		maxTok = 64
	}
	temp := 0.0
	resp, err := p.Client.Chat(ctx, llm.Request{
		Messages:    []llm.Message{{Role: llm.System, Content: system}, {Role: llm.User, Content: Prompt(in, code)}},
		MaxTokens:   maxTok,
		Temperature: &temp,
	})
	if err != nil {
		return Prediction{}, fmt.Errorf("llm predictor: %w", err)
	}
	acc, epoch, err := ParseReply(resp.Content, in.MaxEpoch)
	if err != nil {
		return Prediction{Reply: resp.Content}, fmt.Errorf("llm predictor: %w", err)
	}
	for i, a := range in.Acc {
		if a > acc {
			acc, epoch = a, i+1
		}
	}
	return Prediction{BestAccuracy: acc, BestEpoch: epoch, Reply: resp.Content}, nil
}
