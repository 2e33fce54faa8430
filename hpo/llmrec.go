package hpo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/llm"
)

// LLMRecommender is NNGPT's HPGPT path: the model's code, the dataset, the
// transform, a target accuracy and the epochs go to an LLM, which answers
// the hyperparameter values in one shot. The reply is parsed, clipped to
// the space and rejected with a reason when unusable (RejectError).
type LLMRecommender struct {
	Client llm.Client
	// Attempts is how many replies are asked for before giving up (2).
	Attempts int
}

// Name implements Recommender.
func (r *LLMRecommender) Name() string { return "llm" }

// RejectError says why an LLM reply could not be used.
type RejectError struct {
	Reason string
	Reply  string
}

func (e *RejectError) Error() string { return "LLM proposal rejected: " + e.Reason }

// HPPrompt is the HPGPT prompt for q over sp (the paper's wording, asking
// for JSON between <hp> tags so the reply parses without guesswork).
func HPPrompt(q Query, sp *Space) string {
	var b strings.Builder
	names := sp.Names()
	fmt.Fprintf(&b, "Generate only the values (do not provide any explanation) of the hyperparameters (%s) of a given model: %s for the task: %s on dataset: %s",
		strings.Join(names, ", "), orUnknown(q.Model), orUnknown(q.Task), orUnknown(q.Dataset))
	if ti := sp.Index("transform"); ti >= 0 && len(sp.Params[ti].Choices) == 1 {
		fmt.Fprintf(&b, ", with transformation: %s", sp.Params[ti].Choices[0])
	}
	if q.TargetAccuracy > 0 {
		fmt.Fprintf(&b, ", so that the model achieves accuracy = %.4f", q.TargetAccuracy)
	} else {
		b.WriteString(", so that the model achieves the highest accuracy")
	}
	epochs := q.Epochs
	if epochs <= 0 {
		epochs = 1
	}
	fmt.Fprintf(&b, " with number of training epochs = %d.\n\nAllowed values:\n", epochs)
	for i := range sp.Params {
		p := &sp.Params[i]
		switch p.Kind {
		case Categorical:
			fmt.Fprintf(&b, "- %s: one of %s\n", p.Name, strings.Join(p.Choices, ", "))
		case Pow2:
			fmt.Fprintf(&b, "- %s: a power of two from %g to %g\n", p.Name, p.Low, p.High)
		case Int:
			fmt.Fprintf(&b, "- %s: an integer from %g to %g\n", p.Name, p.Low, p.High)
		default:
			scale := ""
			if p.Log {
				scale = " (log scale)"
			}
			fmt.Fprintf(&b, "- %s: a number from %g to %g%s\n", p.Name, p.Low, p.High, scale)
		}
	}
	b.WriteString("\nAnswer with one JSON object between <hp> and </hp>, for example <hp>{")
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: ...", n)
	}
	b.WriteString("}</hp>.\n")
	if q.Code != "" {
		b.WriteString("\nCode of that model:\n```python\n")
		b.WriteString(q.Code)
		if !strings.HasSuffix(q.Code, "\n") {
			b.WriteByte('\n')
		}
		b.WriteString("```\n")
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

var (
	hpTag     = regexp.MustCompile(`(?s)<hp>(.*?)</hp>`)
	jsonObj   = regexp.MustCompile(`(?s)\{.*?\}`)
	kvLine    = regexp.MustCompile(`(?m)^\s*[-*]?\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?\s*[:=]\s*["']?([^"',\n]+?)["']?\s*,?\s*$`)
	codeFence = regexp.MustCompile("(?s)```[a-z]*\\n?(.*?)```")
)

// ParseHPReply extracts the configuration from an LLM reply: the JSON
// object between <hp> tags, else in a code fence, else the first JSON
// object, else "key: value" lines. It is then fitted to sp: keys outside
// the space are dropped (noted), numbers clipped to their range, and a
// reply lacking a parameter or holding a value of the wrong type is
// rejected.
func ParseHPReply(reply string, sp *Space) (cfg lemur.Dict, notes []string, err error) {
	body := reply
	if m := hpTag.FindStringSubmatch(reply); m != nil {
		body = m[1]
	} else if m := codeFence.FindStringSubmatch(reply); m != nil {
		body = m[1]
	}
	var d lemur.Dict
	if m := jsonObj.FindString(body); m != "" {
		v, jerr := lemur.DecodeJSON([]byte(m))
		if jerr == nil {
			d, _ = v.(lemur.Dict)
		}
	}
	if d == nil {
		for _, m := range kvLine.FindAllStringSubmatch(body, -1) {
			d = append(d, lemur.Item{Key: m[1], Value: parseScalar(strings.TrimSpace(m[2]))})
		}
	}
	if len(d) == 0 {
		return nil, nil, &RejectError{Reason: "the reply holds no JSON object or key: value lines", Reply: reply}
	}
	var kept lemur.Dict
	for _, it := range d {
		if sp.Index(it.Key) < 0 {
			notes = append(notes, fmt.Sprintf("dropped %s (not in the search space)", it.Key))
			continue
		}
		kept = append(kept, it)
	}
	// Numbers written as strings ("0.01") are common; accept them.
	for i, it := range kept {
		p := &sp.Params[sp.Index(it.Key)]
		if s, ok := it.Value.(string); ok && p.Kind != Categorical {
			kept[i].Value = parseScalar(s)
		}
	}
	clipped, missing, cerr := sp.Clip(kept)
	if cerr != nil {
		return nil, notes, &RejectError{Reason: cerr.Error(), Reply: reply}
	}
	if len(missing) > 0 {
		return nil, notes, &RejectError{Reason: "the reply lacks " + strings.Join(missing, ", "), Reply: reply}
	}
	for i := range clipped {
		orig, _ := kept.Get(clipped[i].Key)
		if lemur.Repr(orig) != lemur.Repr(clipped[i].Value) {
			notes = append(notes, fmt.Sprintf("%s %s -> %s (fitted to the space)", clipped[i].Key, lemur.Repr(orig), lemur.Repr(clipped[i].Value)))
		}
	}
	return clipped, notes, nil
}

func parseScalar(s string) lemur.Value {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

// Recommend implements Recommender: it asks for one configuration (k
// beyond 1 repeats the request with the earlier answers to avoid listed).
func (r *LLMRecommender) Recommend(ctx context.Context, q Query, sp *Space, k int) ([]lemur.Dict, error) {
	if r.Client == nil {
		return nil, errors.New("LLM recommender: no LLM configured (set --llm URL and --model)")
	}
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = 2
	}
	prompt := HPPrompt(q, sp)
	var out []lemur.Dict
	var lastErr error
	for len(out) < k && attempts > 0 {
		msgs := []llm.Message{{Role: llm.User, Content: prompt}}
		if len(out) > 0 {
			var prev []string
			for _, c := range out {
				j, _ := lemur.EncodeJSON(c, 0, false)
				prev = append(prev, string(j))
			}
			msgs[0].Content += "\nPropose a configuration different from these: " + strings.Join(prev, "; ") + "\n"
		}
		if _, err := r.Client.Budget().Check(ctx, msgs); err != nil {
			return out, fmt.Errorf("HPGPT prompt: %w", err)
		}
		resp, err := r.Client.Chat(ctx, llm.Request{Messages: msgs})
		if err != nil {
			return out, fmt.Errorf("HPGPT request: %w", err)
		}
		cfg, _, err := ParseHPReply(resp.Content, sp)
		if err != nil {
			lastErr = err
			attempts--
			continue
		}
		out = append(out, cfg)
	}
	if len(out) == 0 && lastErr != nil {
		return nil, lastErr
	}
	return out, nil
}
