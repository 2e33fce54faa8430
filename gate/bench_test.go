package gate

import (
	"context"
	"crypto/md5"
	"fmt"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/nngpt/nngpt/pyast"
)

// BenchmarkGate measures the static gates and dedup of one candidate, parse
// included, worker stages excluded: a 147-line ResNet checked against an
// index of 5,000 known models. Each iteration checks a distinct variant
// (another weight decay literal), so each passes every check and joins the
// index as a real accepted candidate does. Besides ns/op it reports the
// median wall time per candidate (p50-ms) and the process CPU time per
// candidate (cpu-ms/op), which does not grow when other jobs share the
// machine.
func BenchmarkGate(b *testing.B) {
	base := model(b, "resnet.py")
	ix := NewIndex()
	for i := range 5000 {
		h := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(fmt.Sprint(s, i)))) }
		ix.Add(fmt.Sprintf("corpus-%d", i), pyast.IDs{Code: h("c"), Normalised: h("n"), Structure: h("s")}, SourceCorpus)
	}
	g, err := New(DefaultConfig(), ix, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	variants := make([]Candidate, b.N)
	for i := range variants {
		variants[i] = Candidate{Name: fmt.Sprint("v", i), Code: edit(base, "weight_decay=5e-4", fmt.Sprintf("weight_decay=%de-6", i+1))}
	}
	durs := make([]time.Duration, 0, b.N)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		v, err := g.Check(ctx, variants[i])
		durs = append(durs, time.Since(start))
		if err != nil || !v.Accepted() {
			b.Fatalf("variant %d: %v %v", i, v, err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
