package pyast

import "testing"

// BenchmarkAnalyze measures parse + every analysis of a 147-line model.
func BenchmarkAnalyze(b *testing.B) {
	src := []byte(readTestdata(b, "resnet.py"))
	for b.Loop() {
		Analyze(src)
	}
}

// BenchmarkParse is the tree-sitter parse alone, for comparison.
func BenchmarkParse(b *testing.B) {
	src := []byte(readTestdata(b, "resnet.py"))
	for b.Loop() {
		Parse(src).Close()
	}
}
