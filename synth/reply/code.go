package reply

import (
	"regexp"
	"strings"

	"github.com/nngpt/nngpt/internal/text"
)

// block is the body of one tag pair or fence.
type block struct {
	body   string
	lang   string // fences only
	closed bool
}

var tagNames = []string{"hp", "tr", "nn"}

var (
	openTag  = map[string]*regexp.Regexp{}
	closeTag = map[string]*regexp.Regexp{}
	anyOpen  = regexp.MustCompile(`(?i)<\s*(hp|tr|nn)\s*>`)
)

func init() {
	for _, n := range tagNames {
		openTag[n] = regexp.MustCompile(`(?i)<\s*` + n + `\s*>`)
		closeTag[n] = regexp.MustCompile(`(?i)<\s*/\s*` + n + `\s*>`)
	}
}

// tagBlocks finds the <name>...</name> blocks of s. An opening tag
// followed by another opening of the same name before any closing one is
// a stray and skipped; an opening tag never closed runs to the next
// opening of any of the three tags, or to the end.
func tagBlocks(s, name string) []block {
	opens := openTag[name].FindAllStringIndex(s, -1)
	closes := closeTag[name].FindAllStringIndex(s, -1)
	var out []block
	ci := 0
	for i, o := range opens {
		for ci < len(closes) && closes[ci][0] < o[1] {
			ci++
		}
		nextOpen := len(s)
		if i+1 < len(opens) {
			nextOpen = opens[i+1][0]
		}
		if ci < len(closes) && closes[ci][0] <= nextOpen {
			out = append(out, block{body: s[o[1]:closes[ci][0]], closed: true})
			continue
		}
		if i+1 < len(opens) {
			continue // stray opening tag
		}
		end := len(s)
		if loc := anyOpen.FindStringIndex(s[o[1]:]); loc != nil {
			end = o[1] + loc[0]
		}
		out = append(out, block{body: s[o[1]:end], closed: false})
	}
	return out
}

var fenceOpen = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+.-]*)")

// fences finds the markdown code fences of s; an unclosed fence runs to
// the end.
func fences(s string) []block {
	lines := strings.SplitAfter(s, "\n")
	var out []block
	for i := 0; i < len(lines); i++ {
		m := fenceOpen.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		marker, lang := m[1], strings.ToLower(m[2])
		var body strings.Builder
		closed := false
		j := i + 1
		for ; j < len(lines); j++ {
			t := strings.TrimSpace(lines[j])
			if strings.HasPrefix(t, marker[:3]) && strings.Trim(t, marker[:1]) == "" && len(t) >= len(marker) {
				closed = true
				break
			}
			body.WriteString(lines[j])
		}
		out = append(out, block{body: body.String(), lang: lang, closed: closed})
		i = j
	}
	return out
}

var (
	defNet   = regexp.MustCompile(`(?m)^class[ \t]+Net\b`)
	defSupHP = regexp.MustCompile(`(?m)^def[ \t]+supported_hyperparameters\b`)
	hasDef   = regexp.MustCompile(`(?m)^[ \t]*(class|def)[ \t]+\w+|^(import|from)[ \t]+\w`)
	codeLine = regexp.MustCompile(`^([ \t]|$|(import|from|class|def|async|if|elif|else|for|while|try|except|finally|with|return|raise|assert|pass|global|nonlocal|del)\b|[@#)\]}]|[A-Za-z_][\w.]*\(|[A-Za-z_][\w.,\t ]*(\[[^\]]*\])?[ \t]*([-+*/]?=[^=])|['"]{3})`)
)

// score ranks code candidates: defining Net matters most.
func score(code string) int {
	s := 0
	if defNet.MatchString(code) {
		s += 4
	}
	if defSupHP.MatchString(code) {
		s += 2
	}
	if hasDef.MatchString(code) {
		s++
	}
	return s
}

// best returns the index of the highest-scoring code; ties go to the last
// (a model that revises its answer writes the final one last).
func best(codes []string) int {
	bi, bs := -1, -1
	for i, c := range codes {
		if strings.TrimSpace(c) == "" {
			continue
		}
		if s := score(c); s >= bs {
			bi, bs = i, s
		}
	}
	return bi
}

func isPythonLang(lang string) bool {
	switch lang {
	case "", "python", "py", "python3", "py3", "pytorch", "torch":
		return true
	}
	return false
}

func extractCode(text string, r *Result) {
	// 1. <nn> tags.
	if blocks := tagBlocks(text, "nn"); len(blocks) > 0 {
		codes := make([]string, len(blocks))
		for i, b := range blocks {
			codes[i] = cleanCode(b.body, r)
		}
		if i := best(codes); i >= 0 {
			r.Code, r.CodeSource = codes[i], FromTag
			if len(blocks) > 1 {
				r.note("%d <nn> blocks: took the one defining Net (the last on a tie)", len(blocks))
			}
			if !blocks[i].closed {
				r.CodeUnclosed = true
				r.note("unclosed <nn> tag: code taken to the end of the reply")
			}
			return
		}
	}
	// 2. Fenced python blocks.
	var codes []string
	var fb []block
	for _, b := range fences(text) {
		if isPythonLang(b.lang) && hasDef.MatchString(b.body) {
			codes = append(codes, finishCode(b.body))
			fb = append(fb, b)
		}
	}
	if i := best(codes); i >= 0 {
		r.Code, r.CodeSource = codes[i], FromFence
		r.note("no <nn> tag: code taken from a fenced block (%d python blocks)", len(codes))
		if !fb[i].closed {
			r.CodeUnclosed = true
			r.note("unclosed code fence")
		}
		return
	}
	// 3. Bare code defining Net.
	if c := bareCode(text); c != "" {
		r.Code, r.CodeSource = c, FromBare
		r.note("no <nn> tag and no fence: bare code taken from the prose")
	}
}

// cleanCode turns the body of an <nn> tag into code: a fence inside it
// is unwrapped (the best one when there are several), leading prose
// dropped, the block dedented.
func cleanCode(body string, r *Result) string {
	if fs := fences(body); len(fs) > 0 {
		codes := make([]string, len(fs))
		for i, f := range fs {
			codes[i] = f.body
		}
		if i := best(codes); i >= 0 && score(codes[i]) > 0 {
			return finishCode(codes[i])
		}
	}
	lines := strings.Split(body, "\n")
	dropped := 0
	for len(lines) > 0 && strings.TrimSpace(lines[0]) != "" && !codeLine.MatchString(lines[0]) {
		if dropped == 0 {
			r.note("prose before the code in <nn> dropped: %q", text.Head(lines[0], 60))
		}
		dropped++
		lines = lines[1:]
	}
	return finishCode(strings.Join(lines, "\n"))
}

// finishCode dedents, trims blank lines at both ends and ends the code
// with one newline; "" when nothing is left.
func finishCode(s string) string {
	lines := strings.Split(s, "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	// A stray fence line left at an end (the LLM closed a fence it never
	// opened, or the other way round).
	if fenceOpen.MatchString(lines[len(lines)-1]) && strings.Trim(strings.TrimSpace(lines[len(lines)-1]), "`~") == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > 0 && fenceOpen.MatchString(lines[0]) {
		lines = lines[1:]
	}
	prefix := ""
	first := true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ind := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			prefix, first = ind, false
			continue
		}
		for !strings.HasPrefix(l, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(strings.TrimPrefix(l, prefix), " \t"))
		b.WriteString("\n")
	}
	out := b.String()
	if strings.TrimSpace(out) == "" {
		return ""
	}
	return out
}

// bareCode finds unfenced code defining Net: from the first line that
// starts Python at the top level to the first prose line after it.
func bareCode(text string) string {
	if !defNet.MatchString(text) {
		return ""
	}
	lines := strings.Split(text, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "import ") || strings.HasPrefix(l, "from ") || strings.HasPrefix(l, "class ") || strings.HasPrefix(l, "def ") {
			start = i
			break
		}
	}
	if start < 0 {
		return ""
	}
	end := len(lines)
	for i := start; i < len(lines); i++ {
		if !codeLine.MatchString(lines[i]) {
			end = i
			break
		}
	}
	code := finishCode(strings.Join(lines[start:end], "\n"))
	if !defNet.MatchString(code) {
		return ""
	}
	return code
}
