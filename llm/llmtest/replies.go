package llmtest

import "strings"

// Canned is a reply a real code model writes to nngpt's prompts, with what
// a correct pipeline should make of it.
type Canned struct {
	Name string
	Text string
	// HasCode: the reply holds a model (tagged, fenced or bare).
	HasCode bool
	// Valid: the model satisfies the LEMUR contract, uses every key it
	// declares, runs on torch 1.13 and trains; false for the broken ones.
	Valid bool
	// HP and Transform are what extraction must find ("" / nil: none).
	HP        map[string]float64
	Transform string
	// DuplicateOf names the canned reply whose model this one repeats.
	DuplicateOf string
	// Why says what the reply exercises.
	Why string
}

// fence lets the replies below use ``` (a Go raw string cannot).
func fence(s string) string { return strings.ReplaceAll(s, "@@@", "```") }

const goodCode = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class Net(nn.Module):
    def __init__(self, in_shape: tuple, out_shape: tuple, prm: dict, device: torch.device) -> None:
        super().__init__()
        self.device = device
        channels = in_shape[1]
        num_classes = out_shape[0]
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, kernel_size=3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(prm['dropout']),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def train_setup(self, prm: dict) -> None:
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss().to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data) -> None:
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            outputs = self(inputs)
            loss = self.criteria[0](outputs, labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
`

// GoodCode is the model of ReplyGood, for tests that compare extracted code.
const GoodCode = goodCode

// ReplyGood is the reply nngpt's prompt asks for: three tags, nothing else.
var ReplyGood = Canned{
	Name: "good",
	Text: `<hp>{"lr": 0.01, "momentum": 0.9, "dropout": 0.2}</hp>
<tr>norm_32</tr>
<nn>
` + goodCode + `</nn>
`,
	HasCode: true, Valid: true,
	HP:        map[string]float64{"lr": 0.01, "momentum": 0.9, "dropout": 0.2},
	Transform: "norm_32",
	Why:       "well-formed tags",
}

const residualCode = `import torch
import torch.nn as nn
import torch.nn.functional as F


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Block(nn.Module):
    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_ch),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.stem = nn.Sequential(
            nn.Conv2d(in_shape[1], 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
        )
        self.layer1 = Block(16, 32, stride=2)
        self.layer2 = Block(32, 64, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, out_shape[0])

    def forward(self, x):
        x = self.stem(x)
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.pool(x), 1))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss().to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'], weight_decay=5e-4)

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(inputs), labels)
            loss.backward()
            self.optimizer.step()
`

// ReplyResidual is a second well-formed reply with another architecture,
// tags in upper case and the transform with _flip.
var ReplyResidual = Canned{
	Name: "residual",
	Text: `<HP>
{"lr": 0.05, "momentum": 0.85}
</HP>
<TR>complex_32_flip</TR>
<NN>
` + residualCode + `</NN>`,
	HasCode: true, Valid: true,
	HP:        map[string]float64{"lr": 0.05, "momentum": 0.85},
	Transform: "complex_32_flip",
	Why:       "upper-case tags, helper class, residual connection",
}

const vggCode = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.body = nn.Sequential(
            conv_bn(in_shape[1], 24), conv_bn(24, 24), nn.MaxPool2d(2),
            conv_bn(24, 48), conv_bn(48, 48), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(48 * 4, out_shape[0]))

    def forward(self, x):
        return self.head(self.body(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss().to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'], nesterov=True)

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(inputs), labels)
            loss.backward()
            self.optimizer.step()
`

// ReplyChatty ignores the tags: prose, a json fence with Python-style
// quotes and a trailing comma, the transform in prose, and two python
// fences of which only one defines Net.
var ReplyChatty = Canned{
	Name: "chatty",
	Text: fence(`Sure! Here is an improved network. I replaced the single conv stage of the
main model with two VGG-style stages, which usually helps on 32x32 images.

Hyperparameters:
@@@json
{'lr': 0.02, 'momentum': 0.9, 'dropout': 0.3,}
@@@

Transform: I recommend ` + "`norm_32_flip`" + ` so the model sees flipped images.

@@@python
` + vggCode + `@@@

You can check it quickly like this:

@@@python
net = Net((1, 3, 32, 32), (10,), {'lr': 0.02, 'momentum': 0.9, 'dropout': 0.3}, torch.device('cpu'))
print(net(torch.zeros(1, 3, 32, 32)).shape)
@@@

Let me know if you want a deeper version!`),
	HasCode: true, Valid: true,
	HP:        map[string]float64{"lr": 0.02, "momentum": 0.9, "dropout": 0.3},
	Transform: "norm_32_flip",
	Why:       "no tags: fenced fallbacks, JSON repair, transform in prose",
}

// ReplyThink is a reasoning model's reply: a <think> block holding draft
// tags, then the answer.
var ReplyThink = Canned{
	Name: "think",
	Text: `<think>
The main model reaches 0.61. Maybe <nn>class Net: pass</nn> is too small; a residual
stem would help. I will keep lr around 0.05 <hp>{"lr": 0.5}</hp> no, too high.
</think>
<hp>{"lr": 0.05, "momentum": 0.85}</hp>
<tr>complex_32_flip</tr>
<nn>
@@@python
` + residualCode + `@@@
</nn>`,
	HasCode: true, Valid: true,
	HP:          map[string]float64{"lr": 0.05, "momentum": 0.85},
	Transform:   "complex_32_flip",
	DuplicateOf: "residual",
	Why:         "drafts inside <think> must be ignored; a fence inside <nn>",
}

func init() { ReplyThink.Text = fence(ReplyThink.Text) }

// ReplyCRLF has Windows line endings, typographic quotes and non-breaking
// spaces in the JSON, and non-ASCII prose.
var ReplyCRLF = Canned{
	Name:    "crlf",
	Text:    strings.ReplaceAll("Voilà — the model ✨\n<hp>{\u201clr\u201d:\u00a00.03, \u201cmomentum\u201d: 0.8, \u201cdropout\u201d: 0.1}</hp>\n<tr> echo_32 </tr>\n<nn>\n"+vggCode+"</nn>\n", "\n", "\r\n"),
	HasCode: true, Valid: true,
	HP:        map[string]float64{"lr": 0.03, "momentum": 0.8, "dropout": 0.1},
	Transform: "echo_32",
	Why:       "CRLF, smart quotes, NBSP, unicode prose",
}

// ReplyDuplicate repeats ReplyGood's model with other spacing (the same
// LEMUR code id) and other hyperparameters.
var ReplyDuplicate = Canned{
	Name: "duplicate",
	Text: `<hp>{"lr": 0.02, "momentum": 0.95, "dropout": 0.25}</hp>
<tr>norm_32</tr>
<nn>
` + strings.NewReplacer("kernel_size=3", "kernel_size = 3", "padding=1", "padding = 1", "\n\n\nclass", "\n\n\n\nclass").Replace(goodCode) + `</nn>`,
	HasCode: true, Valid: true,
	HP:          map[string]float64{"lr": 0.02, "momentum": 0.95, "dropout": 0.25},
	Transform:   "norm_32",
	DuplicateOf: "good",
	Why:         "same model, other whitespace: must be caught as a duplicate",
}

// ReplyRenamed repeats ReplyGood's model with renamed attributes and a
// comment (the same structural fingerprint, another code id).
var ReplyRenamed = Canned{
	Name: "renamed",
	Text: `<hp>{"lr": 0.01, "momentum": 0.9, "dropout": 0.2}</hp>
<tr>norm_32</tr>
<nn>
# A compact CNN.
` + strings.NewReplacer("self.features", "self.backbone", "self.classifier", "self.head", "num_classes", "n_out", "channels", "c_in").Replace(goodCode) + `</nn>`,
	HasCode: true, Valid: true,
	HP:          map[string]float64{"lr": 0.01, "momentum": 0.9, "dropout": 0.2},
	Transform:   "norm_32",
	DuplicateOf: "good",
	Why:         "renamed copy: caught by the structural fingerprint only",
}

// ReplyBroken has a syntax error (an unclosed parenthesis).
var ReplyBroken = Canned{
	Name: "broken",
	Text: `<hp>{"lr": 0.01, "momentum": 0.9, "dropout": 0.2}</hp>
<tr>norm</tr>
<nn>
` + strings.Replace(goodCode, "nn.Linear(64, num_classes),", "nn.Linear(64, num_classes,", 1) + `</nn>`,
	HasCode: true, Valid: false,
	HP:        map[string]float64{"lr": 0.01, "momentum": 0.9, "dropout": 0.2},
	Transform: "norm",
	Why:       "syntax error: the parse gate must reject it",
}

// ReplyNoContract names its class Model and has no learn method.
var ReplyNoContract = Canned{
	Name: "nocontract",
	Text: `<hp>{"lr": 0.01, "momentum": 0.9}</hp>
<tr>norm_32</tr>
<nn>
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))

    def forward(self, x):
        return self.net(x)
</nn>`,
	HasCode: true, Valid: false,
	HP:        map[string]float64{"lr": 0.01, "momentum": 0.9},
	Transform: "norm_32",
	Why:       "breaks the LEMUR contract: the contract gate must reject it",
}

// ReplyUnusedHP declares dropout but never reads it.
var ReplyUnusedHP = Canned{
	Name: "unusedhp",
	Text: `<hp>{"lr": 0.01, "momentum": 0.9, "dropout": 0.2}</hp>
<tr>norm_32</tr>
<nn>
` + strings.Replace(goodCode, "nn.Dropout(prm['dropout'])", "nn.Dropout(0.2)", 1) + `</nn>`,
	HasCode: true, Valid: false,
	HP:        map[string]float64{"lr": 0.01, "momentum": 0.9, "dropout": 0.2},
	Transform: "norm_32",
	Why:       "NNGPT's rule: every declared key must be used",
}

// ReplyTorch2 uses scaled_dot_product_attention, absent from torch 1.13.
var ReplyTorch2 = Canned{
	Name: "torch2",
	Text: `<hp>{"lr": 0.001, "momentum": 0.9}</hp>
<tr>norm_32</tr>
<nn>
import torch
import torch.nn as nn
import torch.nn.functional as F


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.patch = nn.Conv2d(in_shape[1], 64, 4, stride=4)
        self.qkv = nn.Linear(64, 192)
        self.fc = nn.Linear(64, out_shape[0])

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        t = F.scaled_dot_product_attention(q, k, v)
        return self.fc(t.mean(1))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = (nn.CrossEntropyLoss().to(self.device),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria[0](self(inputs), labels)
            loss.backward()
            self.optimizer.step()
</nn>`,
	HasCode: true, Valid: false,
	HP:        map[string]float64{"lr": 0.001, "momentum": 0.9},
	Transform: "norm_32",
	Why:       "torch 2.x API: the API gate must reject it",
}

// ReplyTruncated is ReplyGood cut by max_tokens in the middle of learn():
// no closing tag. Serve it with Truncated.
var ReplyTruncated = Canned{
	Name:    "truncated",
	Text:    ReplyGood.Text[:strings.Index(ReplyGood.Text, "nn.utils.clip_grad_norm_(")+len("nn.utils.clip_grad_norm_(self.par")],
	HasCode: true, Valid: false,
	HP:        map[string]float64{"lr": 0.01, "momentum": 0.9, "dropout": 0.2},
	Transform: "norm_32",
	Why:       "cut by max_tokens: unclosed <nn>, incomplete code",
}

// ReplyRefusal holds no model at all.
var ReplyRefusal = Canned{
	Name:    "refusal",
	Text:    "I'm sorry, but I can't produce the complete code for that request. Could you share more details about the dataset?",
	HasCode: false, Valid: false,
	Why: "no code: extraction must say so",
}

// Replies lists every canned reply.
func Replies() []Canned {
	return []Canned{ReplyGood, ReplyResidual, ReplyChatty, ReplyThink, ReplyCRLF, ReplyDuplicate, ReplyRenamed,
		ReplyBroken, ReplyNoContract, ReplyUnusedHP, ReplyTorch2, ReplyTruncated, ReplyRefusal}
}
