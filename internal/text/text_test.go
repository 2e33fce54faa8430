package text

import "testing"

func TestCuts(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"last lines", LastLines("a\nb\nc\n\n", 2), "b\nc"},
		{"last lines, fewer", LastLines("a", 3), "a"},
		{"head short", Head("abc", 5), "abc"},
		{"head cut", Head("abcdefgh", 6), "abc..."},
		{"head rune", Head("ééééé", 6), "é..."},
		{"tail short", Tail("abc", 3), "abc"},
		{"tail cut", Tail("abcdefgh", 6), "...fgh"},
		{"tail rune", Tail("ééééé", 6), "...é"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
