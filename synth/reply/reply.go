// Package reply extracts a candidate from an LLM's reply: hyperparameters
// (JSON between <hp> tags), a transform name (<tr>) and model code (<nn>).
// Real models do not always follow the format, so it falls back: fenced
// code blocks (the one defining Net wins), bare code, JSON fences or any
// object with "lr", JSON with Python quoting or trailing commas repaired, a
// transform named in the hyperparameters or the prose. Reasoning (<think>)
// is ignored, CRLF, typographic quotes and invisible characters are
// normalised. Extract never panics and always returns a verdict.
package reply

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/nngpt/nngpt/internal/text"
)

// Verdict is the outcome of an extraction.
type Verdict string

const (
	OK           Verdict = "ok"            // code, hyperparameters and transform found and valid
	Empty        Verdict = "empty"         // the reply is blank
	NoCode       Verdict = "no_code"       // no model code found
	NoHP         Verdict = "no_hp"         // no hyperparameter object found
	BadHP        Verdict = "bad_hp"        // hyperparameters found but unusable
	NoTransform  Verdict = "no_transform"  // no transform name found
	BadTransform Verdict = "bad_transform" // a transform was given but is not a valid name
)

// Verdicts lists every verdict, most severe first.
var Verdicts = []Verdict{Empty, NoCode, NoHP, BadHP, BadTransform, NoTransform, OK}

// Source says where a part was found.
type Source string

const (
	FromTag   Source = "tag"   // its own tag
	FromFence Source = "fence" // a markdown code fence
	FromBare  Source = "bare"  // unfenced code or a bare JSON object in the prose
	FromHP    Source = "hp"    // the transform, given as a key of the hyperparameters
	FromProse Source = "prose" // the transform, named in the prose
	None      Source = ""
)

// Result is what was extracted.
type Result struct {
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason,omitempty"` // why the verdict is not ok

	Code       string `json:"code,omitempty"`
	CodeSource Source `json:"code_source,omitempty"`
	// CodeUnclosed: the code's tag or fence was never closed, as when the
	// reply was cut by the token limit; the code may be incomplete.
	CodeUnclosed bool `json:"code_unclosed,omitempty"`

	HP         map[string]float64 `json:"hp,omitempty"`
	HPRaw      string             `json:"hp_raw,omitempty"` // the JSON as written
	HPSource   Source             `json:"hp_source,omitempty"`
	HPRepaired bool               `json:"hp_repaired,omitempty"` // the JSON needed repair

	Transform       string `json:"transform,omitempty"`
	TransformRaw    string `json:"transform_raw,omitempty"`
	TransformSource Source `json:"transform_source,omitempty"`

	// Notes list the fallbacks and repairs used, for the candidate's record.
	Notes []string `json:"notes,omitempty"`
}

func (r *Result) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

// TransformPattern matches LEMUR's transform names.
var TransformPattern = regexp.MustCompile(`^(echo|norm|complex)(_(32|64|128|256|299|512))?(_flip)?$`)

// ValidTransform reports whether name is a LEMUR transform name.
func ValidTransform(name string) bool { return TransformPattern.MatchString(name) }

// MaxReply is the longest reply examined; the rest is ignored (with a
// note), which bounds the work a hostile or runaway reply can cause.
const MaxReply = 256 << 10

// Extract extracts a candidate from reply.
func Extract(reply string) (res Result) {
	text := normalize(reply)
	if len(text) > MaxReply {
		text = text[:MaxReply]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
		res.note("reply longer than %d bytes: the rest was ignored", MaxReply)
	}
	text = stripThinking(text, &res)
	if strings.TrimSpace(text) == "" {
		res.Verdict, res.Reason = Empty, "the reply is blank"
		return res
	}
	extractCode(text, &res)
	extractHP(text, &res)
	extractTransform(text, &res)
	res.judge()
	return res
}

// judge sets the verdict from the parts, most severe problem first.
func (r *Result) judge() {
	switch {
	case r.Code == "":
		r.Verdict, r.Reason = NoCode, "no model code: no <nn> tag, no fenced python block and no bare code defining class Net"
	case r.HP == nil && r.Reason == "":
		r.Verdict, r.Reason = NoHP, "no hyperparameters: no <hp> tag, no json block and no object with \"lr\""
	case r.HP == nil:
		r.Verdict = BadHP
	case r.Transform == "" && r.TransformRaw != "":
		r.Verdict = BadTransform
		r.Reason = fmt.Sprintf("transform %q is not a LEMUR transform name (echo|norm|complex, optional _32|_64|_128|_256|_299|_512, optional _flip)", text.Head(r.TransformRaw, 80))
	case r.Transform == "":
		r.Verdict, r.Reason = NoTransform, "no transform: no <tr> tag, no \"transform\" key and no transform name in the reply"
	default:
		r.Verdict, r.Reason = OK, ""
	}
}

var invisible = strings.NewReplacer(
	"\r\n", "\n", "\r", "\n",
	"\u00a0", " ", "\u202f", " ", "\u2007", " ", "\u3000", " ",
	"\u200b", "", "\u200c", "", "\u200d", "", "\u2060", "", "\ufeff", "",
)

// normalize makes the text valid UTF-8 with LF line ends and without
// invisible or non-breaking spaces (which would break Python and JSON).
func normalize(s string) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	return invisible.Replace(s)
}

var (
	thinkBlock = regexp.MustCompile(`(?is)<\s*think(ing)?\s*>.*?<\s*/\s*think(ing)?\s*>`)
	thinkOpen  = regexp.MustCompile(`(?is)<\s*think(ing)?\s*>`)
	thinkClose = regexp.MustCompile(`(?is)<\s*/\s*think(ing)?\s*>`)
)

// stripThinking drops reasoning blocks: drafts inside them must not win
// over the answer. A closing tag without an opening one (servers that
// strip the opening tag) drops everything before it.
func stripThinking(s string, r *Result) string {
	if thinkBlock.MatchString(s) {
		s = thinkBlock.ReplaceAllString(s, "")
		r.note("reasoning block ignored")
	}
	if loc := thinkClose.FindAllStringIndex(s, -1); len(loc) > 0 {
		s = s[loc[len(loc)-1][1]:]
		r.note("text before a closing </think> ignored")
	}
	if loc := thinkOpen.FindStringIndex(s); loc != nil {
		// Unclosed: the reasoning never ended (often a cut reply); keep
		// the text, the tags inside may be all there is.
		s = s[:loc[0]] + s[loc[1]:]
		r.note("unclosed <think> tag")
	}
	return s
}
