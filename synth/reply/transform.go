package reply

import (
	"regexp"
	"strings"
)

var (
	// trName finds a transform name inside other text.
	trName = regexp.MustCompile(`(?i)\b(echo|norm|complex)(_(32|64|128|256|299|512))?(_flip)?\b`)
	// trQuoted finds a name in prose: quoted, backticked, or with a suffix
	// (a bare "norm" in prose is usually just a word).
	trQuoted   = regexp.MustCompile("(?i)[`'\"](echo|norm|complex)(_(32|64|128|256|299|512))?(_flip)?[`'\"]|\\b(echo|norm|complex)(_(32|64|128|256|299|512))(_flip)?\\b|\\b(echo|norm|complex)_flip\\b")
	trCodeHint = regexp.MustCompile(`transforms\.|Compose|ToTensor|def\s+\w+\s*\(|lambda`)
)

func extractTransform(text string, r *Result) {
	fromHP := r.TransformRaw // set by extractHP when the object had "transform"
	r.TransformRaw = ""
	blocks := tagBlocks(text, "tr")
	for i := len(blocks) - 1; i >= 0; i-- {
		raw := strings.TrimSpace(blocks[i].body)
		if raw == "" {
			continue
		}
		if name := cleanName(raw); ValidTransform(name) {
			r.Transform, r.TransformRaw, r.TransformSource = name, raw, FromTag
			return
		}
		if trCodeHint.MatchString(raw) {
			r.TransformRaw = raw
			r.Reason = ""
			r.note("<tr> holds transform code; nngpt needs a transform name")
			break
		}
		if all := trName.FindAllString(raw, -1); len(all) > 0 {
			r.Transform, r.TransformRaw, r.TransformSource = strings.ToLower(all[len(all)-1]), raw, FromTag
			r.note("transform name taken from the text of <tr>")
			return
		}
		r.TransformRaw = raw
		break
	}
	if fromHP != "" {
		if name := cleanName(fromHP); ValidTransform(name) {
			r.Transform, r.TransformRaw, r.TransformSource = name, fromHP, FromHP
			r.note("transform taken from the hyperparameters' \"transform\" key")
			return
		}
		if r.TransformRaw == "" {
			r.TransformRaw = fromHP
		}
	}
	if r.TransformRaw != "" {
		return // given but invalid: the verdict says so
	}
	prose := text
	if r.Code != "" {
		prose = strings.Replace(prose, strings.TrimSpace(r.Code), "", 1)
	}
	if all := trQuoted.FindAllString(prose, -1); len(all) > 0 {
		name := cleanName(all[len(all)-1])
		if ValidTransform(name) {
			r.Transform, r.TransformRaw, r.TransformSource = name, all[len(all)-1], FromProse
			r.note("no <tr> tag: transform %q named in the prose", name)
		}
	}
}

// cleanName strips what models put around a name: quotes, backticks,
// fences, a "transform:" prefix, case, inner spaces.
func cleanName(s string) string {
	s = stripFenceLines(s)
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	s = strings.Trim(s, " \t\n`'\".,;")
	s = strings.ToLower(s)
	if !ValidTransform(s) {
		// norm32, norm-32-flip, "complex 64": the right parts, other glue.
		if m := looseName.FindStringSubmatch(s); m != nil {
			fixed := m[1]
			if m[2] != "" {
				fixed += "_" + m[2]
			}
			if m[3] != "" {
				fixed += "_flip"
			}
			return fixed
		}
	}
	return s
}

var looseName = regexp.MustCompile(`^(echo|norm|complex)[ _-]?(32|64|128|256|299|512)?(?:[ _-]?(flip))?$`)
