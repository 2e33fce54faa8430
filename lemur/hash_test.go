package lemur

import "testing"

func TestUIDReferenceRecord(t *testing.T) {
	// The example of ../shared/REFERENCE.md §3, keys given out of order.
	prm := Dict{
		{"transform", "norm_299"}, {"lr", 0.02487720458587122}, {"momentum", 0.3867297180491852},
		{"uid", "ignored"}, {"accuracy", 0.6038}, {"duration", int64(69935059891)},
		{"batch", int64(4)}, {"dropout", 0.3234668619290789}, {"epoch", int64(3)},
	}
	if got, want := UID(prm), "b434ec3c199583d55f1345795243c03a"; got != want {
		t.Fatalf("UID = %s, want %s", got, want)
	}
}

func TestHashText(t *testing.T) {
	tests := []struct{ a, b string }{
		{"import torch\nclass Net:\n    pass\n", "importtorch\r\nclassNet:\tpass"},
		{"x = 1", "x=1"},
		{"a\u00a0b\u3000c", "abc"},
	}
	for _, tc := range tests {
		if HashText(tc.a) != HashText(tc.b) {
			t.Errorf("HashText(%q) != HashText(%q): whitespace must not matter", tc.a, tc.b)
		}
	}
	if HashText("x = 1") == HashText("x = 2") {
		t.Error("different code, same id")
	}
	if got, want := HashText(""), "d41d8cd98f00b204e9800998ecf8427e"; got != want {
		t.Errorf("HashText(\"\") = %s, want md5 of nothing %s", got, want)
	}
}

func TestStatIDAndNewRecord(t *testing.T) {
	p := Pipeline{"img-classification", "cifar-10", "acc", "AlexNet"}
	dur := int64(1234)
	r := NewRecord(p, 2, 0.5, &dur, Dict{{"lr", 0.01}, {"batch", int64(64)}, {"transform", "norm_32"}, {"uid", "x"}})
	if r.UID != UID(Dict{{"batch", int64(64)}, {"lr", 0.01}, {"transform", "norm_32"}}) {
		t.Errorf("uid %s not computed from the sorted hyperparameters", r.UID)
	}
	// str(['norm_32', uid, task, dataset, metric, nn, 2, 1234, 0.5]) without whitespace
	want := HashText("['norm_32', '" + r.UID + "', 'img-classification', 'cifar-10', 'acc', 'AlexNet', 2, 1234, 0.5]")
	if r.ID != want {
		t.Errorf("stat id %s, want %s", r.ID, want)
	}
	if _, ok := r.Prm.Get("uid"); ok {
		t.Error("uid kept among the hyperparameters")
	}
	r2 := NewRecord(p, 2, 0.5, nil, r.Prm)
	if r2.ID != HashText("['norm_32', '"+r.UID+"', 'img-classification', 'cifar-10', 'acc', 'AlexNet', 2, None, 0.5]") {
		t.Error("a missing duration must hash as None")
	}
}
