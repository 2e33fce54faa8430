package finetune

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// BenchmarkExport measures an export from a corpus of 400 models with code
// on one dataset over 5 epochs (2,000 best rows, 5 groups), with the
// default cap and with 1,000 pairs per group.
func BenchmarkExport(b *testing.B) {
	codes := map[string]string{}
	var rs []run
	for i := range 400 {
		name := fmt.Sprintf("m%03d", i)
		codes[name] = net(name)
		for e := 1; e <= 5; e++ {
			rs = append(rs, run{"cifar-10", name, e, float64((i*7919+e*31)%1000) / 1000})
		}
	}
	st := corpus(b, codes, rs)
	for _, per := range []int{DefaultPerGroup, 1000} {
		b.Run(fmt.Sprintf("per-group=%d", per), func(b *testing.B) {
			var n Stats
			for b.Loop() {
				var err error
				if n, err = Export(context.Background(), st, io.Discard, Options{PerGroup: per}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n.Pairs), "pairs")
		})
	}
}
