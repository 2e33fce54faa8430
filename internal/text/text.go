// Package text holds the string cutting every part of nngpt needs for logs,
// tracebacks and table cells, so each cut is made one way.
package text

import (
	"strings"
	"unicode/utf8"
)

// LastLines is the last n lines of s, without trailing newlines.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Head is s cut to at most n bytes (on a rune boundary), "..." marking a
// cut.
func Head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n-3, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// Tail is the end of s cut to at most n bytes (on a rune boundary), "..."
// marking a cut.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - max(n-3, 0)
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return "..." + s[i:]
}
