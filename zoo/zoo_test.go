package zoo

import (
	"strings"
	"testing"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/pyast"
)

func TestZooModels(t *testing.T) {
	ms := Models()
	if len(ms) < 12 {
		t.Fatalf("zoo has %d models, want at least 12", len(ms))
	}
	ids := map[string]string{}
	for _, m := range ms {
		t.Run(m.Name, func(t *testing.T) {
			if strings.ContainsAny(m.Name, "_-. ") || m.Name == "" {
				t.Errorf("name %q: LEMUR names have no '_' (and nngpt's no '-', '.' or spaces)", m.Name)
			}
			if prev, ok := ids[m.ID()]; ok {
				t.Errorf("same code as %s", prev)
			}
			ids[m.ID()] = m.Name
			if m.ID() != lemur.CodeID(m.Code) {
				t.Errorf("ID %s, want lemur.CodeID", m.ID())
			}
			a := pyast.Analyze([]byte(m.Code))
			if len(a.Syntax) > 0 {
				t.Fatalf("syntax errors: %v", a.Syntax)
			}
			if !a.Contract.OK() {
				t.Errorf("LEMUR contract problems: %v", a.Contract.Problems)
			}
			if len(a.Hparams.Unused) > 0 {
				t.Errorf("declares hyperparameters it never reads: %v", a.Hparams.Unused)
			}
			for _, api := range a.Torch2 {
				t.Errorf("uses a torch 2.x API: %+v", api)
			}
		})
	}
	if _, ok := Get("ResNetMini"); !ok {
		t.Error("Get(ResNetMini) found nothing")
	}
	if _, ok := Get("nope"); ok {
		t.Error("Get(nope) found something")
	}
}
