package gate

import (
	"fmt"
	"strings"
)

// Memorised test labels are the one way to a score the sandbox cannot
// stop: a public test set (CIFAR-10's, say) can be looked up. The cheap,
// common form of that is a literal table in the code: a list of thousands
// of labels, or a long string encoding them. Real models have neither:
// LEMUR's largest literal lists are VGG-style layer configs of a few dozen
// entries. literalTables finds both kinds lexically, before parsing.

// literalTables reports each bracketed literal with more than maxNumbers
// numbers and each string literal longer than maxString characters (0:
// that check off), with its line.
func literalTables(code string, maxNumbers, maxString int) []string {
	var out []string
	type group struct{ line, numbers int }
	var stack []group
	line := 1
	for i := 0; i < len(code); {
		c := code[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == '#':
			for i < len(code) && code[i] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			start, startLine := i, line
			i = skipString(code, i, &line)
			if n := i - start; maxString > 0 && n > maxString {
				out = append(out, fmt.Sprintf("line %d: a string literal of %d characters (limit %d)", startLine, n, maxString))
			}
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, group{line: line})
			i++
		case c == ')' || c == ']' || c == '}':
			if n := len(stack); n > 0 {
				g := stack[n-1]
				stack = stack[:n-1]
				if maxNumbers > 0 && g.numbers > maxNumbers {
					out = append(out, fmt.Sprintf("line %d: a literal of %d numbers (limit %d)", g.line, g.numbers, maxNumbers))
				}
			}
			i++
		case isDigit(c) || c == '.' && i+1 < len(code) && isDigit(code[i+1]):
			for i < len(code) && (isIdent(code[i]) || code[i] == '.' ||
				(code[i] == '+' || code[i] == '-') && (code[i-1] == 'e' || code[i-1] == 'E')) {
				i++
			}
			if n := len(stack); n > 0 {
				stack[n-1].numbers++
			}
		case isIdent(c):
			// A name (or a string prefix such as b, r, f, rb: the quote
			// that follows is taken as a string on the next turn).
			for i < len(code) && isIdent(code[i]) {
				i++
			}
		default:
			i++
		}
	}
	return out
}

// skipString returns the index after the string literal starting at i
// (single or triple quoted), counting the newlines it holds.
func skipString(code string, i int, line *int) int {
	q := code[i]
	triple := strings.HasPrefix(code[i:], strings.Repeat(string(q), 3))
	if triple {
		end := strings.Index(code[i+3:], strings.Repeat(string(q), 3))
		if end < 0 {
			*line += strings.Count(code[i:], "\n")
			return len(code)
		}
		*line += strings.Count(code[i:i+3+end], "\n")
		return i + 3 + end + 3
	}
	for j := i + 1; j < len(code); j++ {
		switch code[j] {
		case '\\':
			j++
		case q:
			return j + 1
		case '\n':
			*line++
			return j + 1 // unterminated: the parser reports it
		}
	}
	return len(code)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c >= 0x80
}
