package reply_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/synth/reply"
)

func TestCannedReplies(t *testing.T) {
	byName := map[string]llmtest.Canned{}
	for _, c := range llmtest.Replies() {
		byName[c.Name] = c
	}
	for _, c := range llmtest.Replies() {
		t.Run(c.Name, func(t *testing.T) {
			r := reply.Extract(c.Text)
			wantVerdict := reply.OK
			if !c.HasCode {
				wantVerdict = reply.NoCode
			}
			if r.Verdict != wantVerdict {
				t.Fatalf("verdict %s (%s), want %s", r.Verdict, r.Reason, wantVerdict)
			}
			if !c.HasCode {
				return
			}
			if r.CodeUnclosed != (c.Name == "truncated") {
				t.Errorf("code unclosed %v", r.CodeUnclosed)
			}
			if !maps.Equal(r.HP, c.HP) {
				t.Errorf("hp %v, want %v", r.HP, c.HP)
			}
			if r.Transform != c.Transform {
				t.Errorf("transform %q, want %q", r.Transform, c.Transform)
			}
			if strings.Contains(r.Code, "```") || strings.Contains(r.Code, "<nn>") || strings.Contains(r.Code, "\r") {
				t.Errorf("code keeps markup:\n%s", r.Code)
			}
			if c.DuplicateOf != "" && c.Name != "renamed" {
				orig := reply.Extract(byName[c.DuplicateOf].Text)
				if lemur.CodeID(r.Code) != lemur.CodeID(orig.Code) {
					t.Errorf("code id differs from %s's: the duplicate would not be caught", c.DuplicateOf)
				}
			}
		})
	}
	if got := reply.Extract(llmtest.ReplyGood.Text).Code; got != llmtest.GoodCode {
		t.Errorf("good reply's code is not extracted verbatim:\n%s", got)
	}
}

func TestExtract(t *testing.T) {
	net := "import torch\n\nclass Net(torch.nn.Module):\n    pass\n"
	tests := []struct {
		name      string
		reply     string
		verdict   reply.Verdict
		code      string // "" : not checked
		codeSrc   reply.Source
		hp        map[string]float64
		transform string
		reason    string // substring of Reason
	}{
		{name: "blank", reply: " \n\t ", verdict: reply.Empty},
		{name: "fence inside tag", reply: "<hp>{\"lr\":0.1}</hp><tr>norm</tr><nn>\n```python\n" + net + "```\n</nn>", verdict: reply.OK, code: net, codeSrc: reply.FromTag},
		{name: "indented tag body is dedented", reply: "<hp>{\"lr\":0.1}</hp><tr>norm</tr><nn>\n    import torch\n\n    class Net(torch.nn.Module):\n        pass\n</nn>", verdict: reply.OK, code: net},
		{name: "prose line inside tag dropped", reply: "<hp>{\"lr\":0.1}</hp><tr>norm</tr><nn>Here is the code:\n" + net + "</nn>", verdict: reply.OK, code: net},
		{name: "several tags: Net wins", reply: "<hp>{\"lr\":0.1}</hp><tr>norm</tr><nn>" + net + "</nn> usage: <nn>x = Net()</nn>", verdict: reply.OK, code: net},
		{name: "unclosed nn stops at next tag", reply: "<tr>norm</tr><nn>" + net + "<hp>{\"lr\":0.1}</hp>", verdict: reply.OK, code: net},
		{name: "fences: the one defining Net", reply: "```python\nimport torch\nx = 1\n```\n<hp>{\"lr\":0.1}</hp><tr>norm</tr>\n```python\n" + net + "```\n```python\nprint(Net)\n```", verdict: reply.OK, code: net, codeSrc: reply.FromFence},
		{name: "fences: last of two Nets", reply: "<hp>{\"lr\":0.1}</hp><tr>norm</tr>\n```python\nclass Net:\n    a = 1\n```\nbetter:\n```python\nclass Net:\n    a = 2\n```", verdict: reply.OK, code: "class Net:\n    a = 2\n"},
		{name: "unclosed fence", reply: "<hp>{\"lr\":0.1}</hp><tr>norm</tr>\n```python\n" + net, verdict: reply.OK, code: net, codeSrc: reply.FromFence},
		{name: "bare code between prose", reply: "Here you go.\n\n" + net + "\nThis net is small.\n<hp>{\"lr\":0.1}</hp><tr>norm</tr>", verdict: reply.OK, code: net, codeSrc: reply.FromBare},
		{name: "no code", reply: "<hp>{\"lr\":0.1}</hp><tr>norm</tr> I cannot.", verdict: reply.NoCode},
		{name: "json fence not taken as code", reply: "```json\n{\"lr\": 0.1}\n```\n<tr>norm</tr>", verdict: reply.NoCode},
		{name: "closing think only", reply: "draft <nn>class Net: pass</nn></think><hp>{\"lr\":0.1}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, code: net},
		{name: "CRLF", reply: strings.ReplaceAll("<hp>{\"lr\":0.1}</hp>\n<tr>norm</tr>\n<nn>\n"+net+"</nn>", "\n", "\r\n"), verdict: reply.OK, code: net},
		{name: "invalid utf8", reply: "<hp>{\"lr\":0.1}</hp><tr>norm</tr><nn>" + net + "# \xff\xfe\n</nn>", verdict: reply.OK},

		{name: "hp single quotes and trailing comma", reply: "<hp>{'lr': 0.1, 'momentum': 0.9,}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.1, "momentum": 0.9}},
		{name: "hp unquoted keys, comments, .5", reply: "<hp>{lr: .01, # learning rate\n momentum: 0.9 // m\n}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.01, "momentum": 0.9}},
		{name: "hp as assignments", reply: "<hp>\nlr = 0.01\nmomentum = 0.9\n</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.01, "momentum": 0.9}},
		{name: "hp as a list", reply: "<hp>\n- lr: 0.01\n- dropout: 0.3\n</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.01, "dropout": 0.3}},
		{name: "everything fenced", reply: "```\n<hp>{\"lr\": 0.01}</hp>\n<tr>norm</tr>\n<nn>\n" + net + "</nn>\n```", verdict: reply.OK, code: net, hp: map[string]float64{"lr": 0.01}},
		{name: "fences inside every tag", reply: "<hp>\n```json\n{\"lr\": 0.01}\n```\n</hp>\n<tr>\n```\nnorm_32\n```\n</tr>\n<nn>\n```python\n" + net + "```\nThis is a small net.\n</nn>", verdict: reply.OK, code: net, transform: "norm_32"},
		{name: "hp without braces", reply: "<hp>\"lr\": 0.1, \"dropout\": 0.5</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.1, "dropout": 0.5}},
		{name: "hp numeric strings, batch, prose around", reply: "<hp>Use {\"lr\": \"0.001\", \"batch\": 64} please</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.001, "batch": 64}},
		{name: "hp transform key", reply: "<hp>{\"lr\": 0.1, \"transform\": \"complex_64\"}</hp><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.1}, transform: "complex_64"},
		{name: "hp bare object in prose", reply: "I suggest {\"lr\": 0.05, \"momentum\": 0.8} with `norm_32`.\n<nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.05, "momentum": 0.8}, transform: "norm_32"},
		{name: "hp last tag that parses", reply: "<hp>{\"lr\": 0.1}</hp> oops <hp>{\"lr\": 0.2}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.2}},
		{name: "hp out of range", reply: "<hp>{\"lr\": 3}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.BadHP, reason: "outside [0, 1]"},
		{name: "hp batch not power of two", reply: "<hp>{\"lr\": 0.1, \"batch\": 48}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.BadHP, reason: "power of two"},
		{name: "hp non-numeric extras dropped", reply: "<hp>{\"lr\": 0.1, \"nesterov\": True, \"optimizer\": \"SGD\"}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.1}},
		{name: "hp non-numeric core key", reply: "<hp>{\"lr\": \"high\", \"momentum\": 0.9}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.BadHP, reason: "lr"},
		{name: "hp only non-numeric", reply: "<hp>{\"optimizer\": \"adam\"}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.BadHP, reason: "no numeric"},
		{name: "hp batch_size and epochs", reply: "<hp>{\"lr\": 0.1, \"batch_size\": 128, \"epochs\": 2}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.OK, hp: map[string]float64{"lr": 0.1, "batch": 128, "epoch": 2}},
		{name: "hp lr zero", reply: "<hp>{\"lr\": 0}</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.BadHP, reason: "lr"},
		{name: "hp garbage", reply: "<hp>fast please</hp><tr>norm</tr><nn>" + net + "</nn>", verdict: reply.BadHP},
		{name: "no hp", reply: "<tr>norm</tr><nn>" + net + "</nn>", verdict: reply.NoHP},

		{name: "tr quoted, upper case", reply: "<hp>{\"lr\":0.1}</hp><tr>\"Norm_32\"</tr><nn>" + net + "</nn>", verdict: reply.OK, transform: "norm_32"},
		{name: "tr with prefix", reply: "<hp>{\"lr\":0.1}</hp><tr>transform: complex_64_flip</tr><nn>" + net + "</nn>", verdict: reply.OK, transform: "complex_64_flip"},
		{name: "tr in a sentence", reply: "<hp>{\"lr\":0.1}</hp><tr>I would use echo_128 here</tr><nn>" + net + "</nn>", verdict: reply.OK, transform: "echo_128"},
		{name: "tr code", reply: "<hp>{\"lr\":0.1}</hp><tr>transforms.Compose([transforms.ToTensor()])</tr><nn>" + net + "</nn>", verdict: reply.BadTransform},
		{name: "tr loose spelling", reply: "<hp>{\"lr\":0.1}</hp><tr>Norm-32-Flip</tr><nn>" + net + "</nn>", verdict: reply.OK, transform: "norm_32_flip"},
		{name: "tr no underscore", reply: "<hp>{\"lr\":0.1}</hp><tr>complex64</tr><nn>" + net + "</nn>", verdict: reply.OK, transform: "complex_64"},
		{name: "tr bad size", reply: "<hp>{\"lr\":0.1}</hp><tr>norm_33</tr><nn>" + net + "</nn>", verdict: reply.BadTransform, reason: "norm_33"},
		{name: "no transform", reply: "<hp>{\"lr\":0.1}</hp><nn>" + net + "</nn> we normalise the inputs", verdict: reply.NoTransform},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := reply.Extract(tc.reply)
			if r.Verdict != tc.verdict {
				t.Fatalf("verdict %s (%s), want %s; notes %v", r.Verdict, r.Reason, tc.verdict, r.Notes)
			}
			if tc.code != "" && r.Code != tc.code {
				t.Errorf("code\n%q\nwant\n%q", r.Code, tc.code)
			}
			if tc.codeSrc != "" && r.CodeSource != tc.codeSrc {
				t.Errorf("code source %s, want %s", r.CodeSource, tc.codeSrc)
			}
			if tc.hp != nil && !maps.Equal(r.HP, tc.hp) {
				t.Errorf("hp %v, want %v", r.HP, tc.hp)
			}
			if tc.transform != "" && r.Transform != tc.transform {
				t.Errorf("transform %q, want %q", r.Transform, tc.transform)
			}
			if !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", r.Reason, tc.reason)
			}
			if (r.Verdict == reply.OK) != (r.Reason == "") {
				t.Errorf("verdict %s with reason %q", r.Verdict, r.Reason)
			}
		})
	}
}
