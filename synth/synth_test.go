package synth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
)

func TestNewSetsIDAndName(t *testing.T) {
	tests := []struct {
		gen, code, reply string
		wantID, wantName string
	}{
		{"evolve", "import torch\nx = 1\n", "", lemur.CodeID("import torch\nx = 1\n"), "evolve-" + lemur.CodeID("importtorchx=1")},
		{"my_gen", "x=1", "", lemur.CodeID("x=1"), "my-gen-" + lemur.CodeID("x=1")},
		{"llm", "", "sorry, I cannot", lemur.HashText("sorry, I cannot"), ""},
		{"llm", "  \n", "", "", ""},
	}
	for _, tt := range tests {
		c := &Candidate{Generator: tt.gen, Reply: tt.reply}
		c.SetCode(tt.code)
		if c.ID != tt.wantID || c.Name != tt.wantName {
			t.Errorf("SetCode(%q) with reply %q: id %q name %q, want %q %q", tt.code, tt.reply, c.ID, c.Name, tt.wantID, tt.wantName)
		}
		if strings.Contains(c.Name, "_") {
			t.Errorf("name %q contains '_', which LEMUR forbids", c.Name)
		}
	}
}

func TestRequestValidate(t *testing.T) {
	tests := []struct {
		r       Request
		wantErr string
	}{
		{Request{N: 1}, ""},
		{Request{N: 0}, "n=0"},
		{Request{N: 3, Shots: -1}, "shots=-1"},
	}
	for _, tt := range tests {
		err := tt.r.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Validate(%+v) = %v, want error containing %q", tt.r, err, tt.wantErr)
		}
	}
}

func TestVerdictString(t *testing.T) {
	acc := 0.4321
	tests := []struct {
		v    Verdict
		want string
	}{
		{Verdict{}, "pending"},
		{Reject("parse", "syntax_error", "line 3\ncol 4: bad"), "rejected @parse syntax_error: line 3 col 4: bad"},
		{Verdict{Status: StatusDuplicate, Stage: "dedup", Reason: "code_id", DuplicateOf: "ResNet"}, "duplicate @dedup code_id of ResNet"},
		{Verdict{Status: StatusAccepted, Stage: "train", Accuracy: &acc}, "accepted @train acc=0.4321"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	if Reject("a", "b", "c").OK() || !(Verdict{}).OK() {
		t.Error("OK: rejected must not be ok, zero verdict must be")
	}
}

func TestCandidateJSONRoundTrip(t *testing.T) {
	c := New("evolve", "class Net: pass\n")
	c.HP = lemur.Dict{{Key: "lr", Value: 0.01}, {Key: "batch", Value: int64(64)}, {Key: "momentum", Value: 1.0}}
	c.Transform = "norm_32"
	c.Parents = []string{"ResNet", "AlexNet"}
	c.Operators = []string{"crossover:features", "width:conv1 32->48"}
	c.Verdict = Reject("contract", "missing_learn", "Net has no learn")
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"hp":{"lr":0.01,"batch":64,"momentum":1.0}`) {
		t.Errorf("hp not encoded as an ordered object keeping int/float: %s", data)
	}
	var back Candidate
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if lemur.Repr(back.HP) != lemur.Repr(c.HP) || back.ID != c.ID || back.Verdict != c.Verdict || back.Parents[1] != "AlexNet" {
		t.Errorf("round trip changed the candidate:\n got %+v\nwant %+v", back, *c)
	}
}

func TestWriteDirReadDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cand")
	c := New("llm", "def supported_hyperparameters():\n    return {'lr'}\n")
	c.HP = lemur.Dict{{Key: "lr", Value: 0.1}}
	c.Transform = "echo"
	c.Prompt = "make a net"
	c.Reply = "<nn>...</nn>"
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileModel, FileHP, FileTransform, FilePrompt, FileReply, FileMeta} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	code, _ := os.ReadFile(filepath.Join(dir, FileModel))
	if string(code) != c.Code {
		t.Errorf("model file = %q, want %q", code, c.Code)
	}
	// A rewrite without prompt removes the stale prompt file.
	c.Prompt = ""
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FilePrompt)); !os.IsNotExist(err) {
		t.Errorf("stale %s kept: %v", FilePrompt, err)
	}
	back, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Code != c.Code || back.Transform != "echo" || lemur.Repr(back.HP) != "{'lr': 0.1}" {
		t.Errorf("ReadDir = %+v", back)
	}
	if _, err := ReadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), FileMeta) {
		t.Errorf("ReadDir of an empty folder: %v, want an error naming %s", err, FileMeta)
	}
}
