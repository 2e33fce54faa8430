package hpo

import (
	"regexp"
	"strings"
	"unicode"
)

var (
	uuidSuffix = regexp.MustCompile(`-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	md5Suffix  = regexp.MustCompile(`-[0-9a-fA-F]{32}$`)
)

// NameTokens splits a LEMUR model name into lowercase family words:
// generated variants carry a uuid or md5 suffix and numbered ones a number
// ("AirNext-1c889567-...", "ast-activation-AlexNet-0ab3...", "BayesianNet-3"),
// which say nothing about the architecture and are dropped.
func NameTokens(name string) []string {
	name = uuidSuffix.ReplaceAllString(name, "")
	name = md5Suffix.ReplaceAllString(name, "")
	var out []string
	for _, t := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		if strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
			continue
		}
		out = append(out, strings.ToLower(t))
	}
	return out
}

// camelParts splits words at case changes: "ResNetTransformer" -> res,
// net, transformer.
func camelParts(orig string) []string {
	var out []string
	orig = uuidSuffix.ReplaceAllString(orig, "")
	orig = md5Suffix.ReplaceAllString(orig, "")
	var cur []rune
	flush := func() {
		if len(cur) > 1 || (len(cur) == 1 && unicode.IsLetter(cur[0])) {
			out = append(out, strings.ToLower(string(cur)))
		}
		cur = cur[:0]
	}
	rs := []rune(orig)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))):
			flush()
		case unicode.IsDigit(r) && i > 0 && !unicode.IsDigit(rs[i-1]):
			flush()
		}
		cur = append(cur, r)
	}
	flush()
	// Drop pure numbers: variant counters.
	k := 0
	for _, p := range out {
		if strings.IndexFunc(p, func(r rune) bool { return !unicode.IsDigit(r) }) >= 0 {
			out[k] = p
			k++
		}
	}
	return out[:k]
}

func jaccard(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	set := map[string]int{}
	for _, x := range a {
		set[x] |= 1
	}
	for _, x := range b {
		set[x] |= 2
	}
	inter := 0
	for _, v := range set {
		if v == 3 {
			inter++
		}
	}
	return float64(inter) / float64(len(set))
}

// NameSimilarity is in [0, 1]: 1 for the same family (names equal once
// variant suffixes are dropped), partial credit for shared words and
// CamelCase parts ("ResNet" and "ResNetTransformer").
func NameSimilarity(a, b string) float64 {
	ta, tb := NameTokens(a), NameTokens(b)
	s := jaccard(ta, tb)
	if c := 0.6 * jaccard(camelParts(a), camelParts(b)); c > s {
		s = c
	}
	return s
}
