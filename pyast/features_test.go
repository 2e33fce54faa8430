package pyast

import (
	"math"
	"strings"
	"testing"
)

func TestFeatures(t *testing.T) {
	// params are the exact counts torch 1.13 reports for these files
	// (sum(p.numel() for p in Net((1,3,32,32), (10,), prm, cpu).parameters())),
	// which the estimator reproduces because every size resolves.
	tests := []struct {
		file     string
		family   string
		params   float64
		conv     int
		linear   int
		residual bool
		attn     bool
		maxCh    float64
	}{
		{"resnet.py", FamilyResNet, 696618, 15, 1, true, false, 128},
		{"vgg.py", FamilyVGG, 3249994, 6, 2, false, false, 256},
		{"mobilenet.py", FamilyMobileNet, 67914, 9, 1, false, false, 256},
		{"densenet.py", FamilyDenseNet, 37450, 7, 1, false, false, 24},
		{"vit.py", FamilyTransformer, 142026, 1, 17, true, true, 64},
		{"mlp.py", FamilyMLP, 789258, 0, 2, false, false, 0},
		{"squeeze.py", FamilyMultiBranch, 122986, 14, 0, false, false, 128},
		{"tinycnn.py", FamilyPlainCNN, 25578, 2, 1, false, false, 32},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := Analyze([]byte(readTestdata(t, tc.file))).Features
			if f.Family != tc.family {
				t.Errorf("Family = %s, want %s", f.Family, tc.family)
			}
			if f.Params != tc.params || f.Resolved != 1 {
				t.Errorf("Params = %v (resolved %v), want %v", f.Params, f.Resolved, tc.params)
			}
			if f.Layers["conv"] != tc.conv || f.Layers["linear"] != tc.linear {
				t.Errorf("conv, linear = %d, %d, want %d, %d", f.Layers["conv"], f.Layers["linear"], tc.conv, tc.linear)
			}
			if f.Residual != tc.residual || f.Attention != tc.attn {
				t.Errorf("residual, attention = %v, %v, want %v, %v", f.Residual, f.Attention, tc.residual, tc.attn)
			}
			if f.MaxChannels != tc.maxCh {
				t.Errorf("MaxChannels = %v, want %v", f.MaxChannels, tc.maxCh)
			}
			if f.Depth != tc.conv+tc.linear+f.Layers["attention"]+f.Layers["transformer"]+f.Layers["recurrent"]+f.Layers["conv_transpose"] {
				t.Errorf("Depth = %d inconsistent with layer counts %v", f.Depth, f.Layers)
			}
			names, vec := FeatureNames(), f.Vector()
			if len(names) != len(vec) {
				t.Fatalf("%d names for %d values", len(names), len(vec))
			}
			for i, v := range vec {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s = %v", names[i], v)
				}
			}
		})
	}
}

func TestFeaturesUnresolved(t *testing.T) {
	// Widths from an unknown source: counted, but not sized.
	src := `import torch.nn as nn
class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        w = int(prm['width'] * 100)
        self.c = nn.Conv2d(3, w, 3)
        self.fc = nn.Linear(w, 10)
        self.bn = nn.BatchNorm2d(16)
`
	f := Analyze([]byte(src)).Features
	if f.Layers["conv"] != 1 || f.Layers["linear"] != 1 || f.Layers["batchnorm"] != 1 {
		t.Fatalf("layers = %v", f.Layers)
	}
	if math.Abs(f.Resolved-1.0/3) > 1e-9 || f.Params != 32 {
		t.Fatalf("Resolved = %v, Params = %v; want 1/3 and 32", f.Resolved, f.Params)
	}
}

func TestFeaturesWithoutNet(t *testing.T) {
	// No Net: module-level code still runs.
	src := "import torch.nn as nn\nlayers = [nn.Conv2d(3, 8, 3) for _ in range(4)]\nhead = nn.Linear(8, 2)\n"
	f := Analyze([]byte(src)).Features
	if f.Layers["conv"] != 4 || f.Layers["linear"] != 1 || f.Family != FamilyPlainCNN {
		t.Fatalf("features = %+v", f)
	}
}

func TestFeaturesStaticFallback(t *testing.T) {
	// Layers built only in functions nothing calls: each call site counts once.
	src := "import torch.nn as nn\ndef make():\n    return [nn.Conv2d(3, 8, 3) for _ in range(4)] + [nn.Linear(8, 2)]\n"
	f := Analyze([]byte(src)).Features
	if f.Layers["conv"] != 1 || f.Layers["linear"] != 1 {
		t.Fatalf("layers = %v", f.Layers)
	}
}

func TestFeaturesBackbone(t *testing.T) {
	src := "import torchvision\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self, in_shape, out_shape, prm, device):\n        super().__init__()\n        self.m = torchvision.models.resnet18(num_classes=out_shape[0])\n"
	f := Analyze([]byte(src)).Features
	if f.Backbone != "resnet18" || f.Family != FamilyResNet {
		t.Fatalf("Backbone %q family %q", f.Backbone, f.Family)
	}
}

func TestFeaturesBudget(t *testing.T) {
	// A symbolic run must stop on pathological loops and recursion.
	src := `import torch.nn as nn
class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.inner = Block(n + 1)
        for i in range(200):
            for j in range(200):
                self.c = nn.Conv2d(3, 3, 1)
class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.b = Block(0)
`
	f := Analyze([]byte(src)).Features
	if f.Layers["conv"] == 0 || f.Layers["conv"] > fxStepBudget {
		t.Fatalf("conv count %d", f.Layers["conv"])
	}
}

func TestFeaturesInstancesAndClones(t *testing.T) {
	// An attribute of a block instance sizes the next block; a
	// TransformerEncoder holds num_layers copies of its template layer;
	// nn.Parameter(torch.randn(...) * 0.02) counts its elements. torch 1.13
	// counts 124618 parameters for this Net.
	src := `import torch
import torch.nn as nn


class Stage(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.out_channels = cout * 2
        self.conv = nn.Conv2d(cin, self.out_channels, 3, padding=1)


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        s1 = Stage(in_shape[1], 16)
        s2 = Stage(s1.out_channels, 32)
        self.stages = nn.Sequential(s1, s2)
        layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=3)
        self.pos = nn.Parameter(torch.randn(1, 65, 64) * 0.02)
        self.head = nn.Linear(64, out_shape[0])
`
	f := Analyze([]byte(src)).Features
	if f.Params != 124618 || f.Resolved != 1 {
		t.Fatalf("Params = %v (resolved %v), want 124618", f.Params, f.Resolved)
	}
	if f.Layers["transformer"] != 3 || f.Layers["conv"] != 2 || f.MaxChannels != 64 {
		t.Fatalf("layers %v, max channels %v", f.Layers, f.MaxChannels)
	}
}

func TestFeaturesGroupedIsNotDepthwise(t *testing.T) {
	src := `import torch.nn as nn
class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.a = nn.Conv2d(64, 128, 3, groups=4)
`
	if f := Analyze([]byte(src)).Features; f.Depthwise || f.Params != 64/4*128*9+128 {
		t.Fatalf("groups=4: depthwise %v, params %v", f.Depthwise, f.Params)
	}
	src = strings.Replace(src, "nn.Conv2d(64, 128, 3, groups=4)", "nn.Conv2d(64, 64, 3, groups=64)", 1)
	if f := Analyze([]byte(src)).Features; !f.Depthwise || f.Family != FamilyMobileNet {
		t.Fatalf("groups=in: depthwise %v, family %s", f.Depthwise, f.Family)
	}
}
