// Package lemur holds LEMUR's domain types (pipelines, stat records,
// hyperparameters), Python-compatible repr and the md5 ids LEMUR derives
// from it, and the reader and writer of LEMUR trees.
package lemur

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Value is a Python value as LEMUR's JSON files hold it: nil (None), bool,
// int64, *big.Int (ints beyond 64 bits), float64, string, []Value or Dict.
// Ints and floats stay distinct because Python prints 1 and 1.0 differently
// and LEMUR's ids hash that text.
type Value = any

// Item is one key of a Dict.
type Item struct {
	Key   string
	Value Value
}

// Dict is a Python dict with string keys, in insertion order.
type Dict []Item

// Get returns the value under key.
func (d Dict) Get(key string) (Value, bool) {
	for _, it := range d {
		if it.Key == key {
			return it.Value, true
		}
	}
	return nil, false
}

// Set replaces the value under key, or appends it.
func (d Dict) Set(key string, v Value) Dict {
	for i := range d {
		if d[i].Key == key {
			d[i].Value = v
			return d
		}
	}
	return append(d, Item{key, v})
}

// Without returns a copy of d without the given keys.
func (d Dict) Without(keys ...string) Dict {
	out := make(Dict, 0, len(d))
next:
	for _, it := range d {
		for _, k := range keys {
			if it.Key == k {
				continue next
			}
		}
		out = append(out, it)
	}
	return out
}

// Float returns the value under key as a float64 when it is a number.
func (d Dict) Float(key string) (float64, bool) {
	v, ok := d.Get(key)
	if !ok {
		return 0, false
	}
	return AsFloat(v)
}

// String returns the value under key when it is a string.
func (d Dict) String(key string) (string, bool) {
	v, ok := d.Get(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// AsFloat converts a Python number (int, float, bool) to float64.
func AsFloat(v Value) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Repr returns Python 3's repr() of v, byte for byte as CPython prints it
// (str() of a dict or list is the same text).
func Repr(v Value) string {
	var b strings.Builder
	appendRepr(&b, v)
	return b.String()
}

func appendRepr(b *strings.Builder, v Value) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		b.WriteString(FloatRepr(x))
	case string:
		b.WriteString(StrRepr(x))
	case []Value:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			appendRepr(b, e)
		}
		b.WriteByte(']')
	case []string:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(StrRepr(e))
		}
		b.WriteByte(']')
	case Dict:
		b.WriteByte('{')
		for i, it := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(StrRepr(it.Key))
			b.WriteString(": ")
			appendRepr(b, it.Value)
		}
		b.WriteByte('}')
	default:
		panic("lemur.Repr: unsupported type")
	}
}

// FloatRepr prints f as Python's repr(float): the shortest text that reads
// back to f, in positional form when the decimal exponent is in [-4, 16),
// otherwise as d.ddde±XX.
func FloatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	// Go's shortest 'e' form gives the digits and the exponent.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	neg := strings.HasPrefix(e, "-")
	if neg {
		e = e[1:]
	}
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp < -4 || exp >= 16 {
		out = mant
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		out += "e" + sign + es
	} else {
		point := exp + 1 // digits before the decimal point
		switch {
		case point <= 0:
			out = "0." + strings.Repeat("0", -point) + digits
		case point >= len(digits):
			out = digits + strings.Repeat("0", point-len(digits)) + ".0"
		default:
			out = digits[:point] + "." + digits[point:]
		}
	}
	if neg {
		return "-" + out
	}
	return out
}

// StrRepr quotes s as Python's repr(str): single quotes unless the text
// holds a single quote and no double quote, with Python's escapes.
func StrRepr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Not reachable for decoded JSON (we reject invalid UTF-8);
			// Python would hold a surrogate escape here.
			b.WriteString(`\udc` + strconv.FormatInt(int64(s[i]), 16))
			i++
			continue
		}
		i += size
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex2(int(r)))
		case r < 0x7f:
			b.WriteRune(r)
		case pyPrintable(r):
			b.WriteRune(r)
		case r <= 0xff:
			b.WriteString(`\x` + hex2(int(r)))
		case r <= 0xffff:
			b.WriteString(`\u` + hexN(int(r), 4))
		default:
			b.WriteString(`\U` + hexN(int(r), 8))
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// pyPrintable is str.isprintable for one character: everything but the
// Other (Cc, Cf, Cs, Co, Cn) and Separator (Zl, Zp, Zs) categories, with
// ASCII space printable. Go's unicode.IsPrint draws the same line.
func pyPrintable(r rune) bool { return unicode.IsPrint(r) }

func hex2(n int) string { return hexN(n, 2) }

func hexN(n, width int) string {
	s := strconv.FormatInt(int64(n), 16)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}
