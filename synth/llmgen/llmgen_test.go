package llmgen_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
	"github.com/nngpt/nngpt/llm/llmtest"
	"github.com/nngpt/nngpt/prompt"
	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/store"
	"github.com/nngpt/nngpt/store/sqlite"
	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/synth/llmgen"
)

func client(t *testing.T, srv *llmtest.Server, ctxLen int) llm.Client {
	t.Helper()
	c, err := llm.New(llm.Config{BaseURL: srv.URL, Model: llmtest.Model, MaxTokens: 2048, ContextLength: ctxLen, MaxRetries: 1,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// parseCheck is the parse stage of the gate, through the real parser.
func parseCheck(_ context.Context, c *synth.Candidate) (synth.Verdict, error) {
	a := pyast.Analyze([]byte(c.Code))
	if len(a.Syntax) > 0 {
		return synth.Reject("parse", "syntax_error", a.Syntax[0].Error()), nil
	}
	return synth.Verdict{Status: synth.StatusAccepted, Stage: "parse"}, nil
}

func collect(t *testing.T, g synth.Generator, req synth.Request) ([]*synth.Candidate, error) {
	t.Helper()
	var out []*synth.Candidate
	for c, err := range g.Generate(context.Background(), req) {
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

func examples(n int) llmgen.Examples {
	return func(ctx context.Context, req synth.Request) ([]prompt.Model, error) {
		var ms []prompt.Model
		for i := range n {
			code := strings.ReplaceAll(llmtest.GoodCode, "64", fmt.Sprint(40+8*i))
			ms = append(ms, prompt.Model{Name: fmt.Sprintf("corpus%d", i), Code: code, Accuracy: 0.3 + float64(i)/20, Epoch: 1, Transform: "norm_32", HP: `{"lr": 0.01}`})
		}
		return ms, nil
	}
}

func TestZeroShot(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyGood.Text))
	g := &llmgen.Generator{Client: client(t, srv, 16384), Task: prompt.Task{MaxParams: 1_000_000, Epochs: 2}}
	cs, err := collect(t, g, synth.Request{N: 1, Dataset: "cifar-100", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if c.Code != llmtest.GoodCode || c.Name != "llm-"+lemur.CodeID(llmtest.GoodCode) || c.Generator != "llm" {
		t.Errorf("candidate %s (%s)", c.Name, c.Generator)
	}
	if c.Transform != "norm_32" || fmt.Sprint(c.HP) != fmt.Sprint(lemur.Dict{{Key: "dropout", Value: 0.2}, {Key: "lr", Value: 0.01}, {Key: "momentum", Value: 0.9}}) {
		t.Errorf("transform %q hp %v", c.Transform, c.HP)
	}
	if c.Verdict.Status != "" || c.Attempts != 1 || c.Tokens.Completion != llmtest.CountTokens(llmtest.ReplyGood.Text) || c.Tokens.Prompt == 0 {
		t.Errorf("verdict %v attempts %d tokens %+v", c.Verdict, c.Attempts, c.Tokens)
	}
	if c.Operators[0] != "zeroshot" || !strings.HasPrefix(c.Operators[1], "prompt:") || len(c.Parents) != 0 || c.Seed != 7 || c.Dataset != "cifar-100" {
		t.Errorf("operators %v parents %v seed %d dataset %s", c.Operators, c.Parents, c.Seed, c.Dataset)
	}
	if sd := srv.Requests()[0].Seed; sd == nil || *sd != 8 {
		t.Errorf("seed sent %v, want 7+0+1", sd)
	}
	sent := srv.Requests()[0].Messages[1].Content
	for _, want := range []string{"Design a new neural network", "cifar-100 dataset (100 classes", "1000000 trainable parameters", "after 2 training epoch(s)"} {
		if !strings.Contains(sent, want) {
			t.Errorf("prompt lacks %q", want)
		}
	}
	if !strings.Contains(c.Prompt, sent) || c.Reply != llmtest.ReplyGood.Text {
		t.Errorf("prompt or reply not recorded")
	}
}

func TestNShotUsesCorpusExamples(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyResidual.Text))
	g := &llmgen.Generator{Client: client(t, srv, 16384), Examples: examples(5), Selection: prompt.Best}
	cs, err := collect(t, g, synth.Request{N: 1, Shots: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if c.Operators[0] != "nshot:2" || strings.Join(c.Parents, ",") != "corpus4,corpus3,corpus2" {
		t.Errorf("operators %v parents %v", c.Operators, c.Parents)
	}
	sent := srv.Requests()[0].Messages[1].Content
	if !strings.Contains(sent, "Main model, corpus4: acc 0.5000") || !strings.Contains(sent, "Supporting model 2, corpus2") || strings.Contains(sent, "corpus1") {
		t.Errorf("n-shot prompt:\n%s", sent)
	}
}

func TestNShotFitsTheContext(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyGood.Text))
	// Room for the main model and about one supporting model (~600 tokens each).
	g := &llmgen.Generator{Client: client(t, srv, 2048+2700), Examples: examples(5)}
	cs, err := collect(t, g, synth.Request{N: 1, Shots: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(cs[0].Operators, cs[0].Parents)
	if op := cs[0].Operators[0]; op == "nshot:4" || !strings.HasPrefix(op, "nshot:") {
		t.Errorf("operator %s: supporting models should have been dropped to fit", op)
	}
	if n := len(cs[0].Parents); n < 1 || n > 3 {
		t.Errorf("parents %v", cs[0].Parents)
	}
}

func TestRepairFeedsTheFailingStageBack(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyBroken.Text), llmtest.Reply(llmtest.ReplyGood.Text))
	g := &llmgen.Generator{Client: client(t, srv, 16384), Check: parseCheck}
	cs, err := collect(t, g, synth.Request{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if c.Verdict.Status != synth.StatusAccepted || c.Attempts != 2 || c.Code != llmtest.GoodCode {
		t.Fatalf("verdict %v attempts %d", c.Verdict, c.Attempts)
	}
	if !strings.Contains(strings.Join(c.Operators, " "), "repair:parse:syntax_error") {
		t.Errorf("operators %v", c.Operators)
	}
	reqs := srv.Requests()
	repair := reqs[1].Messages[1].Content
	broken := strings.Split(llmtest.ReplyBroken.Text, "<nn>\n")[1]
	for _, want := range []string{`"parse" stage (syntax_error)`, "attempt 1 of 3", "line ", strings.TrimSpace(strings.Split(broken, "</nn>")[0])[:300]} {
		if !strings.Contains(repair, want) {
			t.Errorf("repair prompt lacks %q:\n%s", want, repair)
		}
	}
	if c.Tokens.Completion != llmtest.CountTokens(llmtest.ReplyBroken.Text)+llmtest.CountTokens(llmtest.ReplyGood.Text) {
		t.Errorf("tokens %+v are not summed over attempts", c.Tokens)
	}
	if !strings.Contains(c.Prompt, "attempt 1 of 3") {
		t.Errorf("candidate does not record the repair prompt that produced its code")
	}
}

func TestRepairsAndRetries(t *testing.T) {
	noTransform := strings.Replace(llmtest.ReplyGood.Text, "<tr>norm_32</tr>", "", 1)
	tests := []struct {
		name       string
		steps      []llmtest.Step
		maxRepairs int
		status     synth.Status
		stage      string
		reason     string
		attempts   int
		op         string
	}{
		{"no transform repaired", []llmtest.Step{llmtest.Reply(noTransform), llmtest.Reply(llmtest.ReplyGood.Text)}, 0, synth.StatusAccepted, "parse", "", 2, "repair:extract:no_transform"},
		{"no code: fresh sample", []llmtest.Step{llmtest.Reply(llmtest.ReplyRefusal.Text), llmtest.Reply(llmtest.ReplyChatty.Text)}, 0, synth.StatusAccepted, "parse", "", 2, "retry:no_code"},
		{"repairs exhausted", []llmtest.Step{llmtest.Forever(llmtest.Reply(llmtest.ReplyBroken.Text))}, 0, synth.StatusRejected, "parse", "syntax_error", 4, "repair:parse:syntax_error"},
		{"no repairs", []llmtest.Step{llmtest.Reply(llmtest.ReplyBroken.Text)}, -1, synth.StatusRejected, "parse", "syntax_error", 1, ""},
		{"truncated reply", []llmtest.Step{llmtest.Truncated(llmtest.ReplyTruncated.Text)}, -1, synth.StatusRejected, "extract", llmgen.ReasonTruncated, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tc.steps...)
			g := &llmgen.Generator{Client: client(t, srv, 16384), Check: parseCheck, MaxRepairs: tc.maxRepairs}
			cs, err := collect(t, g, synth.Request{N: 1})
			if err != nil {
				t.Fatal(err)
			}
			c := cs[0]
			if c.Verdict.Status != tc.status || c.Verdict.Stage != tc.stage || c.Verdict.Reason != tc.reason || c.Attempts != tc.attempts {
				t.Errorf("verdict %v attempts %d, want %s @%s %s after %d", c.Verdict, c.Attempts, tc.status, tc.stage, tc.reason, tc.attempts)
			}
			if ops := strings.Join(c.Operators, " "); tc.op != "" && !strings.Contains(ops, tc.op) {
				t.Errorf("operators %v lack %s", c.Operators, tc.op)
			}
			if len(srv.Requests()) != tc.attempts {
				t.Errorf("%d requests", len(srv.Requests()))
			}
		})
	}
}

func TestCannedRepliesBecomeCandidates(t *testing.T) {
	var steps []llmtest.Step
	for _, c := range llmtest.Replies() {
		steps = append(steps, llmtest.Reply(c.Text))
	}
	srv := llmtest.NewServer(t, steps...)
	g := &llmgen.Generator{Client: client(t, srv, 16384), MaxRepairs: -1}
	cs, err := collect(t, g, synth.Request{N: len(steps)})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range llmtest.Replies() {
		got := cs[i]
		if c.HasCode != (got.Verdict.Status == "") || (c.HasCode && got.Transform != c.Transform) {
			t.Errorf("%s: verdict %v transform %q", c.Name, got.Verdict, got.Transform)
		}
		if !c.HasCode && (got.ID == "" || got.Name != "") {
			t.Errorf("%s: a candidate without code has id %q name %q", c.Name, got.ID, got.Name)
		}
	}
}

func TestStreamingProgress(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Forever(llmtest.Reply(llmtest.ReplyGood.Text)))
	var calls, last = map[int]int{}, 0
	g := &llmgen.Generator{Client: client(t, srv, 16384), OnProgress: func(i int, p llm.Progress) { calls[i]++; last = p.Chars }}
	cs, err := collect(t, g, synth.Request{N: 2})
	if err != nil || len(cs) != 2 {
		t.Fatal(err, len(cs))
	}
	if calls[0] == 0 || calls[1] == 0 || last != len(llmtest.ReplyGood.Text) || !srv.Requests()[0].Stream {
		t.Errorf("progress calls %v last %d", calls, last)
	}
	srv = llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyGood.Text))
	g = &llmgen.Generator{Client: client(t, srv, 16384), NoStream: true}
	if _, err := collect(t, g, synth.Request{N: 1}); err != nil || srv.Requests()[0].Stream {
		t.Errorf("NoStream: err %v, streamed %v", err, srv.Requests()[0].Stream)
	}
}

func TestRunEndingErrors(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Status(401, "", "Incorrect API key"))
	g := &llmgen.Generator{Client: client(t, srv, 16384)}
	_, err := collect(t, g, synth.Request{N: 3})
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindAuth {
		t.Errorf("error %v, want the auth error", err)
	}
	tiny := &llmgen.Generator{Client: client(t, llmtest.NewServer(t), 2048+200)}
	_, err = collect(t, tiny, synth.Request{N: 1})
	var tl *llm.TooLongError
	if !errors.As(err, &tl) || !strings.Contains(err.Error(), "zeroshot prompt") {
		t.Errorf("error %v, want a too-long zero-shot prompt", err)
	}
	unknown := &llmgen.Generator{Client: client(t, llmtest.NewServer(t), 16384)}
	if _, err := collect(t, unknown, synth.Request{N: 1, Dataset: "mystery"}); err == nil || !strings.Contains(err.Error(), "mystery") {
		t.Errorf("unknown dataset: %v", err)
	}
}

func TestForWorkspace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ws, err := openStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	p := lemur.Pipeline{Task: "img-classification", Dataset: "shapes", Metric: "acc", NN: "tinycnn"}
	if _, err := ws.PutCode(ctx, store.Code{Kind: store.KindNN, Name: "tinycnn", Code: llmtest.GoodCode}); err != nil {
		t.Fatal(err)
	}
	prm := lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "transform", Value: "norm_32"}}
	if _, err := ws.AddStats(ctx, []lemur.Record{lemur.NewRecord(p, 1, 0.42, nil, prm)}); err != nil {
		t.Fatal(err)
	}
	srv := llmtest.NewServer(t, llmtest.Reply(llmtest.ReplyResidual.Text))
	g, err := llmgen.ForWorkspace(llm.Config{BaseURL: srv.URL, Model: llmtest.Model}, dir, ws, llmgen.Options{Selection: "diverse"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := collect(t, g, synth.Request{N: 1, Shots: 3, Task: "img-classification", Dataset: "shapes", Metric: "acc"})
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Operators[0] != "nshot:0" || strings.Join(cs[0].Parents, ",") != "tinycnn" {
		t.Errorf("operators %v parents %v", cs[0].Operators, cs[0].Parents)
	}
	if !strings.Contains(srv.Requests()[0].Messages[1].Content, "Main model, tinycnn: acc 0.4200") {
		t.Errorf("prompt lacks the corpus model")
	}
	if _, err := llmgen.ForWorkspace(llm.Config{BaseURL: srv.URL, Model: "m"}, dir, ws, llmgen.Options{Selection: "worst"}); err == nil {
		t.Errorf("unknown selection accepted")
	}
}

func openStore(t *testing.T, dir string) (*sqlite.DB, error) {
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "nngpt.db"))
	if err == nil {
		t.Cleanup(func() { db.Close() })
	}
	return db, err
}
