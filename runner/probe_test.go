package runner

import (
	"context"
	"testing"
)

func TestProbeLevels(t *testing.T) {
	_, sb := needBwrap(t)
	l := newTestLocal(t, sb, Limits{})
	block := `import torch.nn as nn

class SEBlock(nn.Module):
    def __init__(self, channels, reduction=4):
        super().__init__()
        self.fc = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(),
                                nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x)
`
	cases := []struct {
		name  string
		code  string
		level int
		class string
		ok    bool
		kind  FailKind
	}{
		{"level1", block, 1, "", true, ""},
		{"level2-guessed", block, 2, "SEBlock", true, ""},
		{"missing-class", block, 2, "Nope", false, FailContract},
		{"import-error", "import not_a_module_anywhere\n", 1, "", false, FailImport},
		{"syntax", "def f(:\n", 1, "", false, FailSyntax},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := l.Probe(context.Background(), ProbeJob{Name: "block", Code: tc.code, Level: tc.level, Class: tc.class})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != tc.ok {
				t.Fatalf("ok = %v, want %v: %+v\n%s", res.OK, tc.ok, res.Failure, res.LogTail)
			}
			if !tc.ok && res.Failure.Kind != tc.kind {
				t.Fatalf("kind %s, want %s: %s", res.Failure.Kind, tc.kind, res.Failure.Message)
			}
			if tc.ok && (len(res.Modules) != 1 || res.Modules[0] != "SEBlock") {
				t.Fatalf("modules %v", res.Modules)
			}
			if tc.ok && tc.level == 2 && (!res.Forward || res.Guessed["channels"] != float64(16)) {
				t.Fatalf("level 2: forward %v guessed %v output %v", res.Forward, res.Guessed, res.Output)
			}
		})
	}
}
