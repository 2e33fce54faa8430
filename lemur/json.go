package lemur

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeJSON parses JSON into Values the way Python's json.loads does:
// objects keep their key order (as Dict), integers stay ints (int64, or
// *big.Int beyond), numbers with a fraction or exponent become float64.
// Unlike Python it rejects NaN and Infinity, which LEMUR records must not
// hold. encoding/json cannot keep key order and the int/float distinction
// at once, which LEMUR's ids depend on, hence this small parser.
func DecodeJSON(data []byte) (Value, error) {
	p := jsonParser{s: data}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, p.errf("unexpected %q after the JSON value", p.peekText())
	}
	return v, nil
}

// SyntaxError is a JSON problem at a byte offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("JSON at byte %d: %s", e.Offset, e.Msg) }

// ErrNonFinite marks NaN or Infinity in the input.
var ErrNonFinite = errors.New("NaN or Infinity is not a valid number")

type jsonParser struct {
	s []byte
	i int
}

const maxDepth = 200

func (p *jsonParser) errf(format string, a ...any) error {
	return &SyntaxError{Offset: p.i, Msg: fmt.Sprintf(format, a...)}
}

func (p *jsonParser) peekText() string {
	end := min(p.i+12, len(p.s))
	return string(p.s[p.i:end])
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (Value, error) {
	if depth > maxDepth {
		return nil, p.errf("nested deeper than %d", maxDepth)
	}
	if p.i >= len(p.s) {
		return nil, p.errf("unexpected end of input (truncated file?)")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case p.lit("true"):
		return true, nil
	case p.lit("false"):
		return false, nil
	case p.lit("null"):
		return nil, nil
	case p.lit("NaN"), p.lit("Infinity"):
		return nil, &SyntaxError{Offset: p.i, Msg: ErrNonFinite.Error()}
	default:
		return nil, p.errf("unexpected %q", p.peekText())
	}
}

func (p *jsonParser) lit(word string) bool {
	if strings.HasPrefix(string(p.s[p.i:min(len(p.s), p.i+len(word))]), word) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jsonParser) object(depth int) (Value, error) {
	p.i++ // {
	d := Dict{}
	var idx map[string]int
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return d, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errf("unexpected end of input inside an object (truncated file?)")
		}
		if p.s[p.i] != '"' {
			return nil, p.errf("want a quoted key, got %q", p.peekText())
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errf("want ':' after key %q", k)
		}
		p.i++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		// A repeated key keeps its first place, last value, as in Python.
		// Past a few keys an index keeps this linear in the object's size.
		key := k.(string)
		switch {
		case idx != nil:
			if j, ok := idx[key]; ok {
				d[j].Value = v
			} else {
				idx[key] = len(d)
				d = append(d, Item{key, v})
			}
		case len(d) >= 16:
			idx = make(map[string]int, 2*len(d))
			for j, it := range d {
				idx[it.Key] = j
			}
			if j, ok := idx[key]; ok {
				d[j].Value = v
			} else {
				idx[key] = len(d)
				d = append(d, Item{key, v})
			}
		default:
			d = d.Set(key, v)
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errf("unexpected end of input inside an object (truncated file?)")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return d, nil
		default:
			return nil, p.errf("want ',' or '}' in an object, got %q", p.peekText())
		}
	}
}

func (p *jsonParser) array(depth int) (Value, error) {
	p.i++ // [
	a := []Value{}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errf("unexpected end of input inside an array (truncated file?)")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.errf("want ',' or ']' in an array, got %q", p.peekText())
		}
	}
}

func (p *jsonParser) number() (Value, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
		if p.lit("Infinity") {
			return nil, &SyntaxError{Offset: start, Msg: ErrNonFinite.Error()}
		}
	}
	isFloat := false
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if digits() == 0 {
		return nil, p.errf("malformed number")
	}
	if p.s[intStart] == '0' && p.i-intStart > 1 {
		return nil, &SyntaxError{Offset: start, Msg: "number with a leading zero"}
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		isFloat = true
		p.i++
		if digits() == 0 {
			return nil, p.errf("malformed number: no digits after '.'")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		isFloat = true
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errf("malformed number: no digits in the exponent")
		}
	}
	text := string(p.s[start:p.i])
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, &SyntaxError{Offset: start, Msg: "malformed number " + text}
		}
		// Python turns an overflow into inf as well; keep its behaviour.
		if math.IsInf(f, 0) {
			return f, nil
		}
		return f, nil
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, nil
	}
	b, ok := new(big.Int).SetString(text, 10)
	if !ok {
		return nil, &SyntaxError{Offset: start, Msg: "malformed number " + text}
	}
	return b, nil
}

func (p *jsonParser) str() (Value, error) {
	start := p.i
	p.i++ // opening quote
	// Fast path: no escapes.
	for j := p.i; j < len(p.s); j++ {
		c := p.s[j]
		if c == '"' {
			raw := p.s[p.i:j]
			if !utf8.Valid(raw) {
				return nil, &SyntaxError{Offset: start, Msg: "string is not valid UTF-8"}
			}
			p.i = j + 1
			return string(raw), nil
		}
		if c == '\\' || c < ' ' {
			break
		}
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < ' ':
			return nil, p.errf("control character in a string")
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return nil, p.errf("unexpected end of input in a string escape")
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return nil, err
				}
				if utf16.IsSurrogate(r) && p.i+6 <= len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
					p.i += 2
					r2, err := p.hex4()
					if err != nil {
						return nil, err
					}
					r = utf16.DecodeRune(r, r2)
				}
				if utf16.IsSurrogate(r) || r == utf8.RuneError {
					return nil, p.errf("lone surrogate in a string escape")
				}
				b.WriteRune(r)
			default:
				return nil, p.errf("invalid escape \\%c", e)
			}
		default:
			r, size := utf8.DecodeRune(p.s[p.i:])
			if r == utf8.RuneError && size == 1 {
				return nil, &SyntaxError{Offset: p.i, Msg: "string is not valid UTF-8"}
			}
			b.WriteRune(r)
			p.i += size
		}
	}
	return nil, &SyntaxError{Offset: start, Msg: "unterminated string (truncated file?)"}
}

func (p *jsonParser) hex4() (rune, error) {
	if p.i+4 > len(p.s) {
		return 0, p.errf("short \\u escape")
	}
	n, err := strconv.ParseUint(string(p.s[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, p.errf("bad \\u escape")
	}
	p.i += 4
	return rune(n), nil
}

// EncodeJSON writes v as Python's json.dumps(v, indent=indent,
// sort_keys=sortKeys) does (indent 0: compact with ", " and ": "), floats
// in Python's repr form and non-ASCII escaped, so files match LEMUR's.
func EncodeJSON(v Value, indent int, sortKeys bool) ([]byte, error) {
	var b strings.Builder
	if err := encodeJSON(&b, v, indent, sortKeys, 0); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func encodeJSON(b *strings.Builder, v Value, indent int, sortKeys bool, level int) error {
	nl := func(l int) {
		if indent > 0 {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", indent*l))
		}
	}
	sep := ", "
	if indent > 0 {
		sep = ","
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64, int, *big.Int:
		b.WriteString(Repr(x))
	case float64:
		switch {
		case math.IsNaN(x), math.IsInf(x, 0):
			return fmt.Errorf("cannot write %v as JSON", x)
		}
		b.WriteString(FloatRepr(x))
	case string:
		writeJSONString(b, x)
	case []Value:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(level + 1)
			if err := encodeJSON(b, e, indent, sortKeys, level+1); err != nil {
				return err
			}
		}
		nl(level)
		b.WriteByte(']')
	case Dict:
		if len(x) == 0 {
			b.WriteString("{}")
			return nil
		}
		if sortKeys {
			x = append(Dict(nil), x...)
			sort.SliceStable(x, func(i, j int) bool { return x[i].Key < x[j].Key })
		}
		b.WriteByte('{')
		for i, it := range x {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(level + 1)
			writeJSONString(b, it.Key)
			b.WriteString(": ")
			if err := encodeJSON(b, it.Value, indent, sortKeys, level+1); err != nil {
				return err
			}
		}
		nl(level)
		b.WriteByte('}')
	default:
		return fmt.Errorf("cannot write %T as JSON", v)
	}
	return nil
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r <= 0xffff):
			b.WriteString(`\u` + hexN(int(r), 4))
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			b.WriteString(`\u` + hexN(int(r1), 4) + `\u` + hexN(int(r2), 4))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
