package pyast

import "fmt"

// bracketError finds the first unbalanced bracket of src, skipping strings
// and comments: an unclosed "(" makes tree-sitter wrap the rest of the file
// in one error node that starts far from the mistake, while this names the
// bracket itself. ok is false when the brackets balance.
func bracketError(src []byte) (SyntaxError, bool) {
	type open struct {
		ch        byte
		line, col int
	}
	var stack []open
	line, col := 1, 0
	closing := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(src); i++ {
		c := src[i]
		col++
		switch {
		case c == '\n':
			line, col = line+1, 0
		case c == '#':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			// A string literal: single or triple quoted, backslash escapes.
			triple := i+2 < len(src) && src[i+1] == c && src[i+2] == c
			startLine, startCol := line, col
			if triple {
				i += 2
			}
			closed := false
			for i+1 < len(src) {
				i++
				col++
				d := src[i]
				if d == '\\' {
					i++
					col++
					if i < len(src) && src[i] == '\n' {
						line, col = line+1, 0
					}
					continue
				}
				if d == '\n' {
					if !triple {
						return SyntaxError{startLine, startCol, "string literal is not closed on its line"}, true
					}
					line, col = line+1, 0
					continue
				}
				if d == c && (!triple || i+2 < len(src) && src[i+1] == c && src[i+2] == c) {
					if triple {
						i += 2
						col += 2
					}
					closed = true
					break
				}
			}
			if !closed {
				return SyntaxError{startLine, startCol, "string literal is never closed"}, true
			}
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, open{c, line, col})
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 {
				return SyntaxError{line, col, fmt.Sprintf("%q closes nothing", c)}, true
			}
			top := stack[len(stack)-1]
			if top.ch != closing[c] {
				return SyntaxError{top.line, top.col, fmt.Sprintf("%q opened here is closed by %q at line %d col %d", top.ch, c, line, col)}, true
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return SyntaxError{top.line, top.col, fmt.Sprintf("%q is never closed", top.ch)}, true
	}
	return SyntaxError{}, false
}
