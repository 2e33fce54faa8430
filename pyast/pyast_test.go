package pyast

import "testing"

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		errors bool
	}{
		{"valid", "import torch\nclass Net:\n    def f(self, x):\n        return x\n", false},
		{"unclosed paren", "x = (1, 2\n", true},
		{"bad indent keyword", "def f(:\n  pass\n", true},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Parse([]byte(tc.src))
			defer f.Close()
			errs := f.SyntaxErrors(0)
			if got := len(errs) > 0; got != tc.errors {
				t.Fatalf("errors = %v (%v), want %v", got, errs, tc.errors)
			}
		})
	}
}
