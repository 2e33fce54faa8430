package hpo

import (
	"math"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

func TestParseParam(t *testing.T) {
	tests := []struct {
		spec    string
		want    string // String() of the result
		wantErr string
	}{
		{"lr=log:1e-5:1", "lr=log:1e-05:1", ""},
		{"momentum=float:0:1", "momentum=float:0:1", ""},
		{"layers=int:1:8", "layers=int:1:8", ""},
		{"batch=pow2:4:256", "batch=pow2:4:256", ""},
		{"transform=cat:norm,echo_flip", "transform=cat:norm,echo_flip", ""},
		{"lr=log:0:1", "", "log-scaled range needs low > 0"},
		{"batch=pow2:3:256", "", "powers of two"},
		{"x=float:2:1", "", "low 2 is above high 1"},
		{"x=gauss:0:1", "", "unknown kind"},
		{"x=float:a:1", "", "not a number"},
		{"noequals", "", "want NAME=KIND:ARGS"},
		{"t=cat:a,a", "", "listed twice"},
	}
	for _, tc := range tests {
		p, err := ParseParam(tc.spec)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseParam(%q) error %v, want one containing %q", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseParam(%q): %v", tc.spec, err)
			continue
		}
		if got := p.String(); got != tc.want {
			t.Errorf("ParseParam(%q) = %s, want %s", tc.spec, got, tc.want)
		}
	}
}

func TestParamRoundTrip(t *testing.T) {
	tests := []struct {
		p    Param
		in   lemur.Value
		want lemur.Value
	}{
		{Param{Name: "lr", Kind: Float, Low: 1e-5, High: 1, Log: true}, 0.01, 0.01},
		{Param{Name: "lr", Kind: Float, Low: 1e-5, High: 1, Log: true}, 5.0, 1.0}, // clipped
		{Param{Name: "batch", Kind: Pow2, Low: 1, High: 4096}, int64(64), int64(64)},
		{Param{Name: "batch", Kind: Pow2, Low: 1, High: 4096}, int64(48), int64(64)}, // 2^5.58 rounds to 2^6
		{Param{Name: "k", Kind: Int, Low: 1, High: 9}, 3.4, int64(3)},
		{Param{Name: "t", Kind: Categorical, Choices: []string{"echo", "norm"}}, "norm", "norm"},
	}
	for _, tc := range tests {
		x, ok := tc.p.Internal(tc.in)
		if !ok {
			t.Errorf("%s: Internal(%v) not ok", tc.p.Name, tc.in)
			continue
		}
		got := tc.p.External(x)
		if f, isF := got.(float64); isF {
			if w := tc.want.(float64); math.Abs(f-w) > 1e-12*math.Max(1, w) {
				t.Errorf("%s: round trip of %v = %v, want %v", tc.p.Name, tc.in, got, tc.want)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: round trip of %v = %#v, want %#v", tc.p.Name, tc.in, got, tc.want)
		}
	}
}

func TestLEMURSpace(t *testing.T) {
	sp, err := LEMURSpace([]string{"lr", "momentum", "dropout"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "batch=pow2:1:4096\ndropout=float:0:0.5\nlr=log:1e-05:1\nmomentum=float:0:1\ntransform=cat:complex,complex_flip,echo,echo_flip,norm,norm_flip\n"
	if got := sp.String(); got != want {
		t.Errorf("space:\n%s\nwant:\n%s", got, want)
	}
	o, _ := ParseParam("batch=pow2:16:256")
	sp, err = LEMURSpace([]string{"lr"}, []string{"norm_32", "echo_flip"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := sp.Params[sp.Index("batch")].String(); got != "batch=pow2:16:256" {
		t.Errorf("override not applied: %s", got)
	}
	if _, err := LEMURSpace([]string{"lr"}, []string{"blur"}); err == nil || !strings.Contains(err.Error(), "not a LEMUR transform") {
		t.Errorf("bad transform accepted: %v", err)
	}
	if got := len(AllTransforms()); got != 42 {
		t.Errorf("AllTransforms has %d names, want 42", got)
	}
}

func TestSpaceClip(t *testing.T) {
	sp, _ := LEMURSpace([]string{"lr", "momentum"}, nil)
	cfg := lemur.Dict{{Key: "lr", Value: 3.0}, {Key: "momentum", Value: 0.9}, {Key: "batch", Value: int64(100)}, {Key: "transform", Value: "norm"}}
	got, missing, err := sp.Clip(cfg)
	if err != nil || len(missing) > 0 {
		t.Fatalf("Clip: %v %v", missing, err)
	}
	if want := "{'batch': 128, 'lr': 1.0, 'momentum': 0.9, 'transform': 'norm'}"; lemur.Repr(got) != want {
		t.Errorf("Clip = %s, want %s", lemur.Repr(got), want)
	}
	tests := []struct {
		cfg  lemur.Dict
		want string
	}{
		{lemur.Dict{{Key: "lr", Value: "fast"}}, "lr='fast' is not a number"},
		{lemur.Dict{{Key: "transform", Value: "blur"}}, "not one of"},
		{lemur.Dict{{Key: "lr", Value: 0.1}, {Key: "weight_decay", Value: 0.1}}, "weight_decay is not a hyperparameter"},
	}
	for _, tc := range tests {
		if _, _, err := sp.Clip(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Clip(%s) error %v, want %q", lemur.Repr(tc.cfg), err, tc.want)
		}
	}
	_, missing, err = sp.Clip(lemur.Dict{{Key: "lr", Value: 0.1}})
	if err != nil || strings.Join(missing, ",") != "batch,momentum,transform" {
		t.Errorf("missing = %v, %v", missing, err)
	}
}

func TestNameTokens(t *testing.T) {
	tests := []struct{ name, want string }{
		{"AirNext-1c889567-e226-43be-bcba-745592729769", "airnext"},
		{"ast-activation-AlexNet-0ab30f1d33e386ce2eaa951367c5ec24", "ast,activation,alexnet"},
		{"BayesianNet-3", "bayesiannet"},
		{"C10C-RESNETLSTM-6a517327bf0ef897a22186a2061e85b3", "c10c,resnetlstm"},
	}
	for _, tc := range tests {
		if got := strings.Join(NameTokens(tc.name), ","); got != tc.want {
			t.Errorf("NameTokens(%s) = %s, want %s", tc.name, got, tc.want)
		}
	}
	if s := NameSimilarity("BayesianNet-1", "BayesianNet-3"); s != 1 {
		t.Errorf("same family similarity %v, want 1", s)
	}
	if a, b := NameSimilarity("ResNet", "ResNetTransformer"), NameSimilarity("ResNet", "VGG"); a <= b || b != 0 {
		t.Errorf("similarity ResNet/ResNetTransformer %v should exceed ResNet/VGG %v = 0", a, b)
	}
}
