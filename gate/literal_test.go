package gate

import (
	"fmt"
	"strings"
	"testing"
)

func TestLiteralTables(t *testing.T) {
	labels := make([]string, 1000)
	for i := range labels {
		labels[i] = fmt.Sprint(i % 10)
	}
	cases := []struct {
		name, code string
		want       string // substring of the first finding; "" for none
	}{
		{"vgg config", "cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M']\nx = (1.5e-3, 2, .5)", ""},
		{"label list", "import torch\n\nL = [" + strings.Join(labels, ", ") + "]\n", "line 3: a literal of 1000 numbers"},
		{"nested rows each small", "T = [" + strings.Repeat("[1, 2, 3, 4],\n", 300) + "]", ""},
		{"label string", "s = '" + strings.Repeat("3817", 2000) + "'", "line 1: a string literal of 8002 characters"},
		{"bytes in a triple quote", "# [1,2,3]\nb = b\"\"\"\n" + strings.Repeat("x", 5000) + "\n\"\"\"", "line 2: a string literal"},
		{"numbers in comments and strings ignored", "# " + strings.Join(labels, ",") + "\nx = '[1, 2]'", ""},
		{"names with digits are not numbers", "f(" + strings.Repeat("conv1, ", 400) + ")", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := literalTables(tc.code, 256, 4096)
			if tc.want == "" {
				if len(got) > 0 {
					t.Fatalf("findings %v, want none", got)
				}
				return
			}
			if len(got) == 0 || !strings.Contains(got[0], tc.want) {
				t.Fatalf("findings %v, want %q", got, tc.want)
			}
		})
	}
}

func TestGateRejectsLiteralTable(t *testing.T) {
	g, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	code := "LABELS = [" + strings.Repeat("7, ", 5000) + "]\n"
	v := g.Static(Candidate{Name: "memo", Code: code})
	if v.Reason != ReasonLiteralTable || !strings.Contains(v.Detail, "memorised labels") {
		t.Fatalf("verdict %v", v)
	}
}
