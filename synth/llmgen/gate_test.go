package llmgen_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/gate"
	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/llmgen"
)

// gateCheck is the wiring the CLI uses: the gate's static checks, without
// dedup (the downstream gate dedups; checking here must not register the
// candidate as known).
func gateCheck(t *testing.T) llmgen.Check {
	cfg := gate.DefaultConfig()
	cfg.NoDedup = true
	g, err := gate.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, c *synth.Candidate) (synth.Verdict, error) {
		v := g.Static(gate.Candidate{Name: c.Name, Code: c.Code})
		if v.Accepted() {
			return synth.Verdict{Status: synth.StatusPending, Stage: "static"}, nil
		}
		return synth.Reject(v.Reason.Stage(), v.Reason.String(), v.Detail+"\n"+strings.Join(v.Problems, "\n")), nil
	}
}

// TestRepairWithTheGate runs the broken canned replies through the real
// static gate: each is rejected for its own reason, and the repair prompt
// carries that reason back.
func TestRepairWithTheGate(t *testing.T) {
	tests := []struct {
		bad        llmtest.Canned
		stage, why string
		promptSays string
	}{
		{llmtest.ReplyBroken, "parse", "syntax", "syntax"},
		{llmtest.ReplyNoContract, "contract", "contract", "supported_hyperparameters"},
		{llmtest.ReplyTorch2, "api", "torch2_api", "scaled_dot_product_attention"},
		{llmtest.ReplyUnusedHP, "hyperparameters", "unused_hyperparameter", "dropout"},
	}
	for _, tc := range tests {
		t.Run(tc.bad.Name, func(t *testing.T) {
			srv := llmtest.NewServer(t, llmtest.Reply(tc.bad.Text), llmtest.Reply(llmtest.ReplyGood.Text))
			g := &llmgen.Generator{Client: client(t, srv, 16384), Check: gateCheck(t)}
			cs, err := collect(t, g, synth.Request{N: 1})
			if err != nil {
				t.Fatal(err)
			}
			if c := cs[0]; c.Verdict.Status != synth.StatusPending || c.Attempts != 2 || c.Code != llmtest.GoodCode {
				t.Fatalf("verdict %v attempts %d", c.Verdict, c.Attempts)
			}
			repair := srv.Requests()[1].Messages[1].Content
			head := `"` + tc.stage + `" stage (` + tc.why + `)`
			if !strings.Contains(repair, head) || !strings.Contains(repair, tc.promptSays) {
				t.Errorf("repair prompt lacks %q or %q:\n%s", head, tc.promptSays, repair[:min(len(repair), 1500)])
			}
		})
	}
}
