package lemur

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

func TestFloatRepr(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1e-05, "1e-05"}, {0.0001, "0.0001"}, {1.0, "1.0"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
		{math.Copysign(0, -1), "-0.0"}, {0, "0.0"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"}, {math.NaN(), "nan"},
		{0.1, "0.1"}, {123.456, "123.456"}, {1.5e300, "1.5e+300"}, {5e-324, "5e-324"}, {0.02487720458587122, "0.02487720458587122"},
		{-2.5e-07, "-2.5e-07"}, {12345678901234567890, "1.2345678901234567e+19"}, {0.00012, "0.00012"},
	}
	for _, tc := range tests {
		if got := FloatRepr(tc.in); got != tc.want {
			t.Errorf("FloatRepr(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStrRepr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "'abc'"}, {"it's", `"it's"`}, {`say "hi"`, `'say "hi"'`}, {`both ' and "`, `'both \' and "'`},
		{"tab\there", `'tab\there'`}, {"nl\n", `'nl\n'`}, {"back\\slash", `'back\\slash'`}, {"\x00\x7f", `'\x00\x7f'`},
		{"é", "'é'"}, {"\u00a0", `'\xa0'`}, {"\u200b", `'\u200b'`}, {"日本", "'日本'"}, {"", "''"},
	}
	for _, tc := range tests {
		if got := StrRepr(tc.in); got != tc.want {
			t.Errorf("StrRepr(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRepr(t *testing.T) {
	tests := []struct {
		in   Value
		want string
	}{
		{Dict{{"lr", 0.01}, {"batch", int64(4)}, {"ok", true}, {"none", nil}}, "{'lr': 0.01, 'batch': 4, 'ok': True, 'none': None}"},
		{[]Value{int64(1), "a", []Value{}, Dict{}}, "[1, 'a', [], {}]"},
		{false, "False"},
	}
	for _, tc := range tests {
		if got := Repr(tc.in); got != tc.want {
			t.Errorf("Repr = %s, want %s", got, tc.want)
		}
	}
}

// TestReprMatchesPython sends thousands of random values to python3 as JSON
// and compares Python's own repr() with ours, byte for byte.
func TestReprMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH: cannot compare with CPython's repr (install python3 to run this test)")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 4000
	vals := make([]Value, n)
	var in bytes.Buffer
	for i := range vals {
		vals[i] = randValue(rng, 0)
		in.WriteString(toPyJSON(vals[i]))
		in.WriteByte('\n')
	}
	script := `import sys, json, hashlib
for line in sys.stdin:
    v = json.loads(line)
    r = repr(v)
    h = hashlib.md5(''.join(r.split()).encode()).hexdigest()
    sys.stdout.write(json.dumps([r, h]) + "\n")
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	i, fails := 0, 0
	for sc.Scan() {
		v, err := DecodeJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("python output line %d: %v", i, err)
		}
		pair := v.([]Value)
		want, wantHash := pair[0].(string), pair[1].(string)
		if got := Repr(vals[i]); got != want {
			fails++
			if fails < 10 {
				t.Errorf("value %d: Go repr\n  %s\nPython repr\n  %s", i, got, want)
			}
		} else if got := HashValue(vals[i]); got != wantHash {
			t.Errorf("value %d: hash %s, Python %s", i, got, wantHash)
		}
		i++
	}
	if i != n {
		t.Fatalf("python answered %d lines, want %d", i, n)
	}
}

// toPyJSON writes v as JSON that Python's json module reads back as the
// same value (Infinity and NaN included, which Python accepts).
func toPyJSON(v Value) string {
	switch x := v.(type) {
	case float64:
		switch {
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		case math.IsNaN(x):
			return "NaN"
		}
	case []Value:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = toPyJSON(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case Dict:
		parts := make([]string, len(x))
		for i, it := range x {
			k, _ := EncodeJSON(it.Key, 0, false)
			parts[i] = string(k) + ":" + toPyJSON(it.Value)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	b, err := EncodeJSON(v, 0, false)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var specialFloats = []float64{0, math.Copysign(0, -1), 1, 1e-4, 1e-5, 9.999999999999999e-05, 1e15, 1e16, 9999999999999998, 1e22,
	math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 0.3, 2.5, math.Inf(1), math.Inf(-1), math.NaN()}

var runePool = []rune("abcXYZ019 '\"\\\t\n\r\x00\x01\x1f\x7f\u0080\u009f\u00a0\u00ad\u00e9\u0301\u0378\u200b\u2028\u3000\u4e2d\ud7ff\ue000\uffff\U0001F600\U000E0001\U0010FFFF")

func randValue(rng *rand.Rand, depth int) Value {
	k := rng.IntN(10)
	if depth > 2 && k >= 8 {
		k = rng.IntN(8)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		switch rng.IntN(3) {
		case 0:
			return int64(rng.IntN(2000) - 1000)
		case 1:
			return int64(rng.Uint64())
		default:
			b, _ := new(big.Int).SetString(fmt.Sprintf("%d%d", rng.Uint64(), rng.Uint64()), 10)
			return b
		}
	case 3:
		return specialFloats[rng.IntN(len(specialFloats))]
	case 4:
		// log-uniform magnitudes, like learning rates, across the repr switch points
		return math.Pow(10, rng.Float64()*44-22) * float64(1-2*rng.IntN(2))
	case 5:
		return math.Float64frombits(rng.Uint64()&^(0x7ff<<52) | uint64(rng.IntN(2046)+1)<<52)
	case 6, 7:
		n := rng.IntN(8)
		var b strings.Builder
		for range n {
			b.WriteRune(runePool[rng.IntN(len(runePool))])
		}
		return b.String()
	case 8:
		n := rng.IntN(4)
		l := make([]Value, n)
		for i := range l {
			l[i] = randValue(rng, depth+1)
		}
		return l
	default:
		n := rng.IntN(4)
		d := Dict{}
		for range n {
			d = d.Set(fmt.Sprintf("k%d%s", rng.IntN(9), string(runePool[rng.IntN(len(runePool))])), randValue(rng, depth+1))
		}
		return d
	}
}
