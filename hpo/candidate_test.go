package hpo

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

func TestCandidateHP(t *testing.T) {
	l, err := FitLearned(syntheticCorpus(rand.New(rand.NewPCG(3, 4))), LearnedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := LEMURSpace([]string{"lr", "momentum"}, []string{"norm", "echo"})
	q := Query{Task: "img-classification", Dataset: "cifar-10", Model: "Zeta", Epochs: 1}
	tests := []struct {
		name       string
		given      lemur.Dict
		wantSource string
		wantNote   string
	}{
		{"llm hp used", lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "momentum", Value: 0.9}}, "llm-hp", ""},
		{"llm hp out of range is clipped", lemur.Dict{{Key: "lr", Value: 7.0}, {Key: "momentum", Value: 0.9}, {Key: "batch", Value: int64(32)}, {Key: "transform", Value: "norm"}}, "llm-hp", ""},
		{"llm hp lacks a key", lemur.Dict{{Key: "lr", Value: 0.01}}, "learned", "lacks"},
		{"llm hp bad value", lemur.Dict{{Key: "lr", Value: "high"}, {Key: "momentum", Value: 0.9}}, "learned", "not a number"},
		{"no llm hp", nil, "learned", ""},
	}
	for _, tc := range tests {
		cfg, src, note, err := CandidateHP(context.Background(), []Recommender{l}, q, sp, tc.given)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if src != tc.wantSource || !strings.Contains(note, tc.wantNote) || len(cfg) == 0 {
			t.Errorf("%s: source %s note %q cfg %s", tc.name, src, note, lemur.Repr(cfg))
		}
		if lr, _ := cfg.Float("lr"); lr > 1 {
			t.Errorf("%s: lr %v not clipped", tc.name, lr)
		}
	}
	if _, _, _, err := CandidateHP(context.Background(), nil, q, sp, nil); err == nil {
		t.Error("no <hp> and no recommender should fail")
	}
	// A refusing first recommender hands over to the next, and says why.
	cfg, src, note, err := CandidateHP(context.Background(), []Recommender{refusing{}, l}, q, sp, nil)
	if err != nil || src != "learned" || !strings.Contains(note, "refusing recommender: no idea") || len(cfg) == 0 {
		t.Errorf("fallback: source %s note %q err %v", src, note, err)
	}
	if _, _, _, err := CandidateHP(context.Background(), []Recommender{refusing{}}, q, sp, nil); err == nil || !strings.Contains(err.Error(), "no idea") {
		t.Errorf("only a refusing recommender: %v", err)
	}
}

type refusing struct{}

func (refusing) Name() string { return "refusing" }
func (refusing) Recommend(context.Context, Query, *Space, int) ([]lemur.Dict, error) {
	return nil, errors.New("no idea")
}
