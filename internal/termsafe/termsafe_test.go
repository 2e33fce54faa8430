package termsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "epoch 1: acc 0.41\n\tok", "epoch 1: acc 0.41\n\tok"},
		{"unicode kept", "Genauigkeit ≥ 0,4 — ok ✓", "Genauigkeit ≥ 0,4 — ok ✓"},
		{"color", "\x1b[31mFAILED\x1b[0m", "FAILED"},
		{"cursor up and erase", "error\x1b[1A\x1b[2KPASSED best acc 1.0000", "errorPASSED best acc 1.0000"},
		{"carriage return", "FAILED\rPASSED", "FAILED\nPASSED"},
		{"crlf", "a\r\nb", "a\nb"},
		{"osc title bel", "x\x1b]0;pwned\x07y", "xy"},
		{"osc hyperlink st", "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", "click"},
		{"dcs", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"c1 csi", "a\u009b31mb", "ab"},
		{"c1 osc", "a\u009d0;t\u009cb", "ab"},
		{"two-char esc", "a\x1bcb\x1b(Bc", "abc"},
		{"bell backspace nul del", "a\x07\x08\x00\x7fb", "ab"},
		{"unterminated osc stops at newline", "a\x1b]0;title\nb", "a\nb"},
		{"trailing esc", "abc\x1b", "abc"},
		{"bidi override", "acc = 0.1\u202e9.0", "acc = 0.19.0"},
		{"invalid utf8", "a\xffb", "a\uFFFDb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Clean(tc.in)
			if got != tc.want {
				t.Fatalf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := Clean(got); again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"\x1b[31mx", "\x1b]0;t\x07", "a\rb", "\u009b1m", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		for _, r := range out {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("control %U left in %q (from %q)", r, out, s)
			}
		}
		if strings.ContainsRune(out, 0x1b) {
			t.Fatalf("ESC left in %q", out)
		}
		if Clean(out) != out {
			t.Fatalf("not idempotent on %q", s)
		}
	})
}
