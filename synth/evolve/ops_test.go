package evolve

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/synth"
	"github.com/nngpt/nngpt/zoo"
)

const small = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        c = in_shape[1]
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 8 * 8, 100), nn.ReLU(), nn.Linear(100, out_shape[0]))

    def forward(self, x):
        return self.head(self.features(x))
`

func mustModel(t *testing.T, code string) *model {
	t.Helper()
	m, err := parseModel(code)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.close)
	return m
}

// TestOperatorsOnZoo applies every operator to every zoo model with a few
// seeds: each must apply somewhere, and whatever it returns must parse,
// differ from the parent and keep the contract.
func TestOperatorsOnZoo(t *testing.T) {
	for op, mut := range mutations() {
		applied := 0
		for _, zm := range zoo.Models() {
			m := mustModel(t, zm.Code)
			for seed := range uint64(4) {
				code, detail, err := mut(m, rand.New(rand.NewPCG(seed, 1)))
				if err == errNotApplicable {
					continue
				}
				if err != nil {
					t.Errorf("%s on %s: %v", op, zm.Name, err)
					continue
				}
				applied++
				if code == zm.Code {
					t.Errorf("%s on %s (%s): code unchanged", op, zm.Name, detail)
				}
				child, err := parseModel(code)
				if err != nil {
					t.Errorf("%s on %s (%s): %v\n%s", op, zm.Name, detail, err, code)
					continue
				}
				if err := contractKept(child, m); err != nil {
					t.Errorf("%s on %s (%s): %v", op, zm.Name, detail, err)
				}
				child.close()
			}
		}
		if applied == 0 {
			t.Errorf("operator %s applied to no zoo model", op)
		}
	}
}

var convRe = regexp.MustCompile(`nn\.Conv2d\((\w+), (\d+), (\d+)(?:, stride=(\d+))?, padding=(\d+)\)`)

func TestWidthIsConsistent(t *testing.T) {
	for seed := range uint64(8) {
		code, detail, err := mutateWidth(mustModel(t, small), rand.New(rand.NewPCG(seed, 2)))
		if err != nil {
			t.Fatal(err)
		}
		convs := convRe.FindAllStringSubmatch(code, -1)
		bn := regexp.MustCompile(`BatchNorm2d\((\d+)\)`).FindStringSubmatch(code)
		lin := regexp.MustCompile(`nn\.Linear\(64 \* 8 \* 8, (\d+)\), nn\.ReLU\(\), nn\.Linear\((\d+),`).FindStringSubmatch(code)
		switch {
		case len(convs) != 2 || bn == nil || lin == nil:
			t.Fatalf("%s: layers lost:\n%s", detail, code)
		case convs[0][2] != bn[1] || convs[0][2] != convs[1][1]:
			t.Errorf("%s: conv out %s, BN %s, next conv in %s: want one width", detail, convs[0][2], bn[1], convs[1][1])
		case lin[1] != lin[2]:
			t.Errorf("%s: linear out %s, next in %s", detail, lin[1], lin[2])
		case convs[1][2] != "64":
			t.Errorf("%s: the last conv's width %s changed: it feeds the head's 64 * 8 * 8", detail, convs[1][2])
		}
	}
}

func TestKernelKeepsSamePadding(t *testing.T) {
	for seed := range uint64(8) {
		code, detail, err := mutateKernel(mustModel(t, small), rand.New(rand.NewPCG(seed, 3)))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range convRe.FindAllStringSubmatch(code, -1) {
			k, p := c[3], c[5]
			if int(k[0]-'0')/2 != int(p[0]-'0') {
				t.Errorf("%s: kernel %s with padding %s is not 'same':\n%s", detail, k, p, code)
			}
		}
	}
}

func TestCrossoverRewiresWidths(t *testing.T) {
	donor := strings.NewReplacer(
		"nn.Conv2d(c, 32, 3, padding=1),\n            nn.BatchNorm2d(32),", "nn.Conv2d(c, 24, 5, padding=2),\n            nn.BatchNorm2d(24),\n            nn.GELU(),\n            nn.Conv2d(24, 40, 3, padding=1),\n            nn.BatchNorm2d(40),",
		"nn.Conv2d(32, 64, 3, stride=2, padding=1)", "nn.Conv2d(40, 48, 3, stride=2, padding=1)",
	).Replace(small)
	a, b := mustModel(t, small), mustModel(t, donor)
	found := false
	for seed := range uint64(16) {
		code, detail, err := crossover(a, b, rand.New(rand.NewPCG(seed, 4)))
		if err == errNotApplicable {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(code, "GELU") {
			found = true
		}
		// Whatever was transplanted, the input is still c and the output
		// of the features still 64 channels.
		convs := convRe.FindAllStringSubmatch(code, -1)
		if convs[0][1] != "c" || convs[len(convs)-1][2] != "64" {
			t.Errorf("%s: first conv in %s, last out %s; want c and 64:\n%s", detail, convs[0][1], convs[len(convs)-1][2], code)
		}
		for i := 1; i < len(convs); i++ {
			if convs[i][1] != convs[i-1][2] {
				t.Errorf("%s: conv %d takes %s channels after %s:\n%s", detail, i, convs[i][1], convs[i-1][2], code)
			}
		}
	}
	if !found {
		t.Error("crossover never transplanted the donor's segment")
	}
}

func TestPolicy(t *testing.T) {
	p := NewPolicy()
	w0 := p.Weights()[OpConv]
	p.Update(OpConv, 1)
	if p.Weights()[OpConv] <= w0 {
		t.Error("a reward of +1 did not raise the weight")
	}
	for range 100 {
		p.Update(OpPool, -1)
	}
	if got := p.Weights()[OpPool]; got != p.Floor {
		t.Errorf("weight after many failures = %v, want the floor %v", got, p.Floor)
	}
	if err := p.SetWeights(map[string]float64{"teleport": 1}); err == nil {
		t.Error("SetWeights accepted an unknown operator")
	}
	data, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var q Policy
	if err := q.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	if q.Weights()[OpConv] != p.Weights()[OpConv] {
		t.Error("policy JSON round trip lost a weight")
	}
	// Learn credits the candidate's code operators, not hp.
	c := synth.New(Name, "x = 1\n")
	c.Operators = []string{"kernel:conv@3 3->5", "hp:lr=0.01"}
	before := p.Weights()
	p.Learn(c, 1)
	if after := p.Weights(); after[OpKernel] <= before[OpKernel] || after[OpConv] != before[OpConv] {
		t.Errorf("Learn: kernel %v -> %v, conv %v -> %v", before[OpKernel], after[OpKernel], before[OpConv], after[OpConv])
	}
	// Only allowed operators are picked.
	rng := rand.New(rand.NewPCG(1, 1))
	for range 50 {
		op, ok := p.pick(rng, func(op string) bool { return op == OpKernel || op == OpPool })
		if !ok || (op != OpKernel && op != OpPool) {
			t.Fatalf("pick returned %q", op)
		}
	}
}
