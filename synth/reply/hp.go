package reply

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nngpt/nngpt/internal/text"
)

func extractHP(text string, r *Result) {
	type cand struct {
		raw string
		src Source
	}
	var cands []cand
	for _, b := range tagBlocks(text, "hp") {
		if strings.TrimSpace(b.body) != "" {
			cands = append(cands, cand{b.body, FromTag})
		}
	}
	if len(cands) == 0 {
		for _, f := range fences(text) {
			if (f.lang == "json" || f.lang == "" || f.lang == "json5" || f.lang == "python" || f.lang == "py") && strings.Contains(f.body, "{") && lrKey.MatchString(f.body) && !hasDef.MatchString(f.body) {
				cands = append(cands, cand{f.body, FromFence})
			}
		}
	}
	if len(cands) == 0 {
		for _, o := range bareObjects(text) {
			cands = append(cands, cand{o, FromBare})
		}
	}
	if len(cands) == 0 {
		return
	}
	// The last candidate that parses wins (a model that corrects itself
	// writes the correction last); otherwise the last one's error stands.
	var lastErr error
	for i := len(cands) - 1; i >= 0; i-- {
		c := cands[i]
		obj, repaired, err := parseObject(c.raw)
		if err != nil {
			if lastErr == nil {
				lastErr = err
				r.HPRaw, r.HPSource = strings.TrimSpace(c.raw), c.src
			}
			continue
		}
		hp, tr, dropped, err := hpValues(obj)
		if err != nil {
			if lastErr == nil {
				lastErr = err
				r.HPRaw, r.HPSource = strings.TrimSpace(c.raw), c.src
			}
			continue
		}
		r.HP, r.HPRaw, r.HPSource, r.HPRepaired = hp, strings.TrimSpace(c.raw), c.src, repaired
		for _, d := range dropped {
			r.note("hyperparameter dropped: %s", d)
		}
		if repaired {
			r.note("hyperparameter JSON repaired (quotes, trailing commas or Python literals)")
		}
		if c.src != FromTag {
			r.note("no <hp> tag: hyperparameters taken from a %s", map[Source]string{FromFence: "fenced block", FromBare: "bare object in the prose"}[c.src])
		}
		if tr != "" {
			r.TransformRaw = tr // extractTransform decides whether to use it
		}
		r.Reason = ""
		return
	}
	r.Reason = "hyperparameters: " + lastErr.Error()
}

var lrKey = regexp.MustCompile(`["'\x{201c}\x{2018}]lr["'\x{201d}\x{2019}]\s*:`)

// bareObjects finds {...} spans with an "lr" key in prose. Braces are
// matched with a stack in one pass (quotes ignored: prose apostrophes would
// confuse a string-aware scan); spans are bounded so hostile input stays
// linear.
func bareObjects(s string) []string {
	const maxSpan, maxObjs = 4096, 32
	keys := lrKey.FindAllStringIndex(s, -1)
	if len(keys) == 0 {
		return nil
	}
	var out []string
	var stack []int
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if len(stack) < 64 {
				stack = append(stack, i)
			}
		case '}':
			if len(stack) == 0 {
				continue
			}
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			// Is there an "lr" key inside [o, i]? keys are sorted.
			k := sort.Search(len(keys), func(j int) bool { return keys[j][0] > o })
			if i-o <= maxSpan && k < len(keys) && keys[k][1] <= i {
				out = append(out, s[o:i+1])
				if len(out) >= maxObjs {
					return out
				}
			}
		}
	}
	return out
}

// kvLine is one "key: value" or "key = value" item, possibly several per
// line separated by commas (the value part then holds the rest).
var kvLine = regexp.MustCompile(`^\s*[-*]?\s*["'\x{201c}\x{2018}]?([A-Za-z_]\w*)["'\x{201d}\x{2019}]?\s*[:=]\s*(.+?)\s*,?\s*$`)

var smartQuotes = strings.NewReplacer("\u201c", `"`, "\u201d", `"`, "\u201e", `"`, "\u2033", `"`, "\u2018", "'", "\u2019", "'", "\u2032", "'")

// parseObject parses a JSON object out of s, repairing what LLMs get wrong:
// Python quoting and literals, trailing commas, comments, unquoted keys,
// numbers like .5. repaired says whether strict JSON failed.
func parseObject(s string) (obj map[string]any, repaired bool, err error) {
	s = stripFenceLines(s)
	start, end := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}')
	switch {
	case start < 0 && end < 0:
		// key: value or key = value lines without braces.
		var items []string
		for _, l := range strings.Split(s, "\n") {
			if m := kvLine.FindStringSubmatch(l); m != nil {
				items = append(items, strconv.Quote(m[1])+": "+strings.TrimSpace(m[2]))
			}
		}
		if len(items) == 0 {
			return nil, false, fmt.Errorf("no JSON object in %q", text.Head(strings.TrimSpace(s), 60))
		}
		s, repaired = "{"+strings.Join(items, ", ")+"}", true
	case start < 0 || end < start:
		return nil, false, fmt.Errorf("unbalanced braces in %q", text.Head(strings.TrimSpace(s), 60))
	default:
		s = s[start : end+1]
	}
	if obj, err := decodeObject(s); err == nil {
		return obj, repaired, nil
	}
	fixed := repairJSON(smartQuotes.Replace(s))
	obj, err = decodeObject(fixed)
	if err != nil {
		return nil, true, fmt.Errorf("not a JSON object even after repair: %v (in %q)", err, text.Head(s, 80))
	}
	return obj, true, nil
}

func decodeObject(s string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("text after the object")
	}
	if obj == nil {
		return nil, fmt.Errorf("null, not an object")
	}
	return obj, nil
}

func stripFenceLines(s string) string {
	if !strings.Contains(s, "```") && !strings.Contains(s, "~~~") {
		return s
	}
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if fenceOpen.MatchString(l) {
			continue
		}
		b.WriteString(l)
		b.WriteString("\n")
	}
	return b.String()
}

// repairJSON rewrites Python-ish object syntax into JSON, token by token,
// outside strings only.
func repairJSON(s string) string {
	var b bytes.Buffer
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		switch {
		case c == '"' || c == '\'':
			// A string in either quote style becomes a JSON string.
			j := i + 1
			var lit strings.Builder
			for j < n && s[j] != c {
				if s[j] == '\\' && j+1 < n {
					if s[j+1] == c {
						lit.WriteByte(c)
					} else {
						lit.WriteByte(s[j])
						lit.WriteByte(s[j+1])
					}
					j += 2
					continue
				}
				if s[j] == '"' {
					lit.WriteString(`\"`)
				} else {
					lit.WriteByte(s[j])
				}
				j++
			}
			b.WriteByte('"')
			b.WriteString(lit.String())
			b.WriteByte('"')
			i = j + 1
		case c == '#' || (c == '/' && i+1 < n && s[i+1] == '/'):
			for i < n && s[i] != '\n' {
				i++
			}
		case c == ',':
			j := i + 1
			for j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n') {
				j++
			}
			if j < n && (s[j] == '}' || s[j] == ']') {
				i = j // trailing comma
				continue
			}
			b.WriteByte(c)
			i++
		case c == '.' || c == '+' || (c >= '0' && c <= '9') || c == '-':
			j := i
			for j < n && strings.IndexByte("0123456789.eE+-", s[j]) >= 0 {
				j++
			}
			b.WriteString(fixNumber(s[i:j]))
			if j == i {
				j++
			}
			i = j
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < n && (s[j] == '_' || s[j] == '.' || (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			word := s[i:j]
			k := j
			for k < n && (s[k] == ' ' || s[k] == '\t') {
				k++
			}
			switch {
			case k < n && s[k] == ':':
				b.WriteString(strconv.Quote(word)) // unquoted key
			case word == "True" || word == "true":
				b.WriteString("true")
			case word == "False" || word == "false":
				b.WriteString("false")
			case word == "None" || word == "null":
				b.WriteString("null")
			default:
				b.WriteString(strconv.Quote(word)) // a bare word value: let validation name it
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// fixNumber turns Python number spellings JSON rejects into JSON ones.
func fixNumber(t string) string {
	if t == "" {
		return t
	}
	t = strings.TrimPrefix(t, "+")
	neg := strings.HasPrefix(t, "-")
	if neg {
		t = t[1:]
	}
	if strings.HasPrefix(t, ".") {
		t = "0" + t
	}
	if strings.HasSuffix(t, ".") {
		t += "0"
	}
	t = strings.Replace(t, ".e", ".0e", 1)
	t = strings.Replace(t, ".E", ".0E", 1)
	if neg {
		return "-" + t
	}
	return t
}

// coreHP are the keys whose value must be a number: a model cannot train
// without them. Other keys with a non-numeric value (an "optimizer":
// "SGD" the model does not read from prm) are dropped with a note.
var coreHP = map[string]bool{"lr": true, "momentum": true, "dropout": true, "batch": true, "batch_size": true, "epoch": true, "epochs": true}

// hpValues checks the object's values: numbers (numeric strings accepted),
// "batch" and "epoch" integers, every other key a float in [0, 1] as LEMUR
// samples them, lr above zero. A "transform" string is returned apart;
// dropped lists the non-numeric extra keys left out.
func hpValues(obj map[string]any) (hp map[string]float64, tr string, dropped []string, err error) {
	hp = make(map[string]float64, len(obj))
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := obj[k]
		key := strings.TrimSpace(k)
		if key == "transform" {
			if s, ok := v.(string); ok {
				tr = s
				continue
			}
			return nil, "", nil, fmt.Errorf("\"transform\" is %v, want a transform name", v)
		}
		var f float64
		var nerr error
		switch x := v.(type) {
		case json.Number:
			if f, nerr = x.Float64(); nerr != nil {
				nerr = fmt.Errorf("%q = %s is not a number", key, x)
			}
		case string:
			if f, nerr = strconv.ParseFloat(strings.TrimSpace(x), 64); nerr != nil {
				nerr = fmt.Errorf("%q = %q is not a number", key, text.Head(x, 40))
			}
		default:
			nerr = fmt.Errorf("%q = %v is not a number", key, text.Head(fmt.Sprint(v), 40))
		}
		if nerr != nil {
			if coreHP[key] || key == "" {
				return nil, "", nil, nerr
			}
			dropped = append(dropped, nerr.Error())
			continue
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, "", nil, fmt.Errorf("%q = %v is not finite", key, f)
		}
		switch key {
		case "":
			return nil, "", nil, fmt.Errorf("empty key")
		case "batch", "batch_size":
			if f < 1 || f > 65536 || f != math.Trunc(f) || int64(f)&(int64(f)-1) != 0 {
				return nil, "", nil, fmt.Errorf("%q = %v: want a power of two", key, f)
			}
			key = "batch"
		case "epoch", "epochs":
			if f < 1 || f != math.Trunc(f) {
				return nil, "", nil, fmt.Errorf("%q = %v: want a positive integer", key, f)
			}
			key = "epoch"
		default:
			if f < 0 || f > 1 {
				return nil, "", nil, fmt.Errorf("%q = %v is outside [0, 1], LEMUR's range for hyperparameters", key, f)
			}
			if key == "lr" && f == 0 {
				return nil, "", nil, fmt.Errorf("\"lr\" = 0: the model would not learn")
			}
		}
		hp[key] = f
	}
	if len(hp) == 0 {
		return nil, "", nil, fmt.Errorf("the object has no numeric hyperparameters")
	}
	return hp, tr, dropped, nil
}
