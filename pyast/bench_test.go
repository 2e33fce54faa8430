package pyast

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkAnalyze measures parse + every analysis of a 147-line model.
// cpu-ms/op is the process CPU time per analysis, which does not grow when
// other jobs share the machine (ns/op does).
func BenchmarkAnalyze(b *testing.B) {
	src := []byte(readTestdata(b, "resnet.py"))
	cpu0 := cpuTime()
	for b.Loop() {
		Analyze(src)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkParse is the tree-sitter parse alone, for comparison.
func BenchmarkParse(b *testing.B) {
	src := []byte(readTestdata(b, "resnet.py"))
	cpu0 := cpuTime()
	for b.Loop() {
		Parse(src).Close()
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkCodeIDs is what the dedup index pays per corpus model.
func BenchmarkCodeIDs(b *testing.B) {
	src := []byte(readTestdata(b, "resnet.py"))
	cpu0 := cpuTime()
	for b.Loop() {
		CodeIDs(src)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
