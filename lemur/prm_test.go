package lemur

import "testing"

func TestSplitJoinPrm(t *testing.T) {
	d := Dict{{"lr", 0.01}, {"batch", int64(32)}, {"momentum", 0.9}, {"transform", "norm_32"}}
	prm, batch, tr := SplitPrm(d)
	if len(prm) != 2 || batch != 32 || tr != "norm_32" {
		t.Fatalf("split %v %d %q", prm, batch, tr)
	}
	if back := JoinPrm(prm, batch, tr); len(back) != 4 || Repr(back) != Repr(Dict{{"lr", 0.01}, {"momentum", 0.9}, {"batch", int64(32)}, {"transform", "norm_32"}}) {
		t.Fatalf("join %v, want %v", back, d)
	}
	if _, b, tr := SplitPrm(Dict{{"batch", "big"}}); b != 0 || tr != "" {
		t.Fatalf("bad batch kept: %d %q", b, tr)
	}
	if j := JoinPrm(Dict{{"lr", 0.1}}, 0, ""); len(j) != 1 {
		t.Fatalf("empty keys added: %v", j)
	}
}
