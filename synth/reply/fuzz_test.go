package reply_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/synth/reply"
)

// FuzzExtract: whatever the reply, Extract returns (no panic) a known
// verdict consistent with what it extracted. The seeds run in every
// `go test`; `go test -fuzz=FuzzExtract ./synth/reply` explores further.
func FuzzExtract(f *testing.F) {
	for _, c := range llmtest.Replies() {
		f.Add(c.Text)
		f.Add(c.Text[:len(c.Text)/2])
	}
	for _, s := range []string{
		"", "<nn>", "</nn>", "<nn></nn>", "<hp>{</hp>", "<hp>}{</hp>", "<hp>{'lr': .}</hp>", "<tr></tr>",
		"```", "```python\n```", "~~~\n~~~~", "<think>", "</think>", "<think><nn>class Net: pass",
		"{\"lr\": 0.1}", "{{{{{{{{{{'lr':", "<hp>{\"lr\": 1e999}</hp>", "<hp>{\"batch\": -0}</hp>",
		"class Net:\n", "<NN >class Net: pass</ nn>", "\xff\xfe<nn>\x00</nn>", "<hp>lr: 'a\\'</hp>",
		"<hp>{\"lr\": 0.1, \"transform\": 5}</hp>", "<tr>`norm_flip`</tr>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := reply.Extract(s)
		if !slices.Contains(reply.Verdicts, r.Verdict) {
			t.Fatalf("unknown verdict %q", r.Verdict)
		}
		if (r.Verdict == reply.OK) != (r.Reason == "") {
			t.Fatalf("verdict %s with reason %q", r.Verdict, r.Reason)
		}
		if r.Verdict == reply.OK {
			if strings.TrimSpace(r.Code) == "" || r.CodeSource == reply.None {
				t.Fatalf("ok without code")
			}
			if len(r.HP) == 0 {
				t.Fatalf("ok without hyperparameters")
			}
			if !reply.ValidTransform(r.Transform) {
				t.Fatalf("ok with transform %q", r.Transform)
			}
		}
		if r.Verdict != reply.Empty && r.Verdict != reply.NoCode && r.Code == "" {
			t.Fatalf("verdict %s but no code", r.Verdict)
		}
		if !utf8.ValidString(r.Code) || strings.Contains(r.Code, "\r") {
			t.Fatalf("code is not clean UTF-8 with LF line ends")
		}
		for k := range r.HP {
			if k == "" {
				t.Fatalf("empty hp key")
			}
		}
		if again := reply.Extract(s); again.Verdict != r.Verdict || again.Code != r.Code {
			t.Fatalf("not deterministic")
		}
	})
}
