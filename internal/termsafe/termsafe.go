// Package termsafe makes untrusted text safe to print on a terminal.
//
// Text that came from a model (its output, its exception messages), from an
// LLM or from a log can carry escape sequences that move the cursor, repaint
// lines, change the window title or (on some terminals) write files: a failed
// run could paint "PASSED" over its own error. Clean removes every control
// character and escape sequence except newline and tab, so what is printed is
// exactly the visible text.
package termsafe

import (
	"strings"
	"unicode/utf8"
)

// Clean returns s with C0 and C1 control characters removed, except '\n'
// and '\t', and with ANSI escape sequences (CSI, OSC, DCS, SOS, PM, APC and
// two-character ESC sequences) removed whole, so no parameter bytes are left
// behind as visible garbage. A carriage return becomes a newline unless it
// precedes one (CRLF), so "progress\rPASSED" cannot overwrite a line.
// Invalid UTF-8 becomes U+FFFD. Clean is idempotent.
func Clean(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(utf8.RuneError)
			i++
		case r == '\n' || r == '\t':
			b.WriteRune(r)
			i += n
		case r == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
				continue
			}
			b.WriteByte('\n')
			i++
		case r == 0x1b: // ESC
			i = skipEscape(s, i+1)
		case r == 0x9b: // C1 CSI
			i = skipCSI(s, i+n)
		case r == 0x9d || r == 0x90 || r == 0x98 || r == 0x9e || r == 0x9f: // C1 OSC, DCS, SOS, PM, APC
			i = skipString(s, i+n)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			i += n
		case r == '\u202e' || r == '\u202d' || r == '\u2066' || r == '\u2067' || r == '\u2068' || r == '\u2069' ||
			r == '\u202a' || r == '\u202b' || r == '\u202c':
			// Bidirectional overrides reorder what the reader sees (Trojan Source).
			i += n
		default:
			b.WriteString(s[i : i+n])
			i += n
		}
	}
	return b.String()
}

// safe reports whether s needs no change (the common case: no allocation).
func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f || c >= 0x80 {
			return false
		}
	}
	return true
}

// skipEscape skips what follows an ESC at i: the sequence's final byte, or
// the whole string of a string-type sequence.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return skipString(s, i+1)
	}
	// nF sequences: intermediate bytes 0x20-0x2f, then one final byte.
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipCSI skips parameter and intermediate bytes up to and including the
// final byte (0x40-0x7e); it stops at anything else, which Clean then
// judges on its own.
func skipCSI(s string, i int) int {
	for i < len(s) {
		c := s[i]
		switch {
		case c >= 0x20 && c <= 0x3f:
			i++
		case c >= 0x40 && c <= 0x7e:
			return i + 1
		default:
			return i
		}
	}
	return i
}

// skipString skips a control string up to its terminator: BEL, ESC \ or
// C1 ST. An unterminated string runs to the end of a line (a terminal
// would swallow more, but the rest of the text stays readable that way).
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\':
			return i + 2
		case s[i] == 0xc2 && i+1 < len(s) && s[i+1] == 0x9c:
			return i + 2
		case s[i] == '\n':
			return i
		}
		i++
	}
	return i
}
