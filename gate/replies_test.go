package gate_test

import (
	"context"
	"testing"

	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/synth/reply"
)

// TestCannedReplies runs the gate on the code extracted from realistic LLM
// replies, in order, as one batch: valid models pass, broken ones are
// rejected, and copies are caught as duplicates of the reply they repeat.
func TestCannedReplies(t *testing.T) {
	g, err := gate.New(gate.DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	counts := gate.Counts{}
	for _, c := range llmtest.Replies() {
		res := reply.Extract(c.Text)
		if !c.HasCode || res.Code == "" {
			continue
		}
		v, err := g.Check(ctx, gate.Candidate{Name: c.Name, Code: res.Code})
		if err != nil {
			t.Fatal(err)
		}
		counts.Add(v)
		switch {
		case c.DuplicateOf != "":
			if !v.Reason.Duplicate() || v.Duplicate.Name != c.DuplicateOf {
				t.Errorf("%s: %v, want a duplicate of %s", c.Name, v, c.DuplicateOf)
			}
		case c.Valid && v.Reason.Duplicate():
			// Some replies repeat an earlier reply's model unannounced.
		case c.Valid && !v.Accepted():
			t.Errorf("%s (%s): rejected: %v", c.Name, c.Why, v)
		case !c.Valid && v.Accepted():
			t.Errorf("%s (%s): accepted", c.Name, c.Why)
		}
		t.Logf("%-10s %v", c.Name, v)
	}
	if counts.TrainingsSaved() < 2 {
		t.Errorf("counts %s: want at least the two copies caught", counts)
	}
}
