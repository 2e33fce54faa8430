package pyast

import (
	"strings"
	"testing"
)

func TestApplyEdits(t *testing.T) {
	src := []byte("abcdef")
	tests := []struct {
		edits   []Edit
		want    string
		wantErr string
	}{
		{[]Edit{{1, 3, "XY"}}, "aXYdef", ""},
		{[]Edit{{4, 4, "+"}, {0, 1, "A"}}, "Abcd+ef", ""},
		{[]Edit{InsertAt(2, "1"), InsertAt(2, "2")}, "ab12cdef", ""},
		{[]Edit{{1, 3, ""}, {2, 4, ""}}, "", "overlaps"},
		{[]Edit{{5, 9, ""}}, "", "outside"},
	}
	for _, tt := range tests {
		got, err := ApplyEdits(src, tt.edits)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err %v, want %q", tt.edits, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%v: %q, %v; want %q", tt.edits, got, err, tt.want)
		}
	}
}

func TestCalls(t *testing.T) {
	f := Parse([]byte("import torch.nn as nn\nx = nn.Conv2d(3, 16, kernel_size=5, padding=2)  # c\ny = F.relu(x, inplace=True)\nz = nn.Sequential(*layers)\nw = torch.nn.Linear(0x10, 4)\n"))
	defer f.Close()
	calls := f.Calls(f.Root(), func(c string) bool { return TorchLayer(c) != "" })
	if len(calls) != 3 {
		t.Fatalf("%d torch.nn calls, want 3", len(calls))
	}
	conv := calls[0]
	if TorchLayer(conv.Callee) != "Conv2d" || conv.Positional() != 2 || !conv.HasKeyword("padding") {
		t.Errorf("conv: %+v", conv)
	}
	if a, ok := conv.Arg(2, "kernel_size"); !ok || f.Text(a.Value) != "5" || a.Keyword != "kernel_size" {
		t.Errorf("kernel_size: %+v %v", a, ok)
	}
	if a, ok := conv.Arg(1, "out_channels"); !ok {
		t.Error("out_channels not found")
	} else if v, ok := f.IntLiteral(a.Value); !ok || v != 16 {
		t.Errorf("out_channels = %d, %v", v, ok)
	}
	if !calls[1].Splat || len(calls[1].Args) != 0 {
		t.Errorf("Sequential(*layers): %+v", calls[1])
	}
	if a, _ := calls[2].Arg(0, ""); a.Value == nil {
		t.Error("Linear arg 0 missing")
	} else if _, ok := f.IntLiteral(a.Value); ok {
		t.Error("0x10 read as a plain decimal literal")
	}
	if TorchLayer("torch.nn.Linear") != "Linear" || TorchLayer("nn.init.zeros_") != "" || TorchLayer("Conv2d") != "" {
		t.Error("TorchLayer")
	}
	if Functional("F.relu") != "relu" || Functional("torch.nn.functional.gelu") != "gelu" || Functional("torch.relu") != "relu" || Functional("x.relu") != "" {
		t.Error("Functional")
	}
}

func TestDefinitions(t *testing.T) {
	f := Parse([]byte("import torch\nK = 3\n\n@dec\nclass Block:\n    pass\n\ndef helper():\n    pass\n\nclass Net:\n    x = 1\n"))
	defer f.Close()
	for _, name := range []string{"K", "Block", "helper", "Net"} {
		if !f.Defines(name) {
			t.Errorf("Defines(%q) = false", name)
		}
	}
	if f.Defines("x") || f.Defines("torch") {
		t.Error("Defines reports a class attribute or an import")
	}
	if n := f.ClassDef("Block"); n == nil || n.Kind() != "decorated_definition" {
		t.Errorf("ClassDef(Block) = %v", n)
	}
	net := f.ClassDef("Net")
	if net == nil || TopLevel(net.NamedChild(net.NamedChildCount()-1)) == nil {
		t.Error("ClassDef(Net) or TopLevel")
	}
	if got := f.LineIndent(uint(strings.Index(string(f.Src), "x = 1"))); got != "    " {
		t.Errorf("LineIndent = %q", got)
	}
}
