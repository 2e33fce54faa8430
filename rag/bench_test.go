package rag

import (
	"context"
	"os"
	"testing"
)

// torchvisionDir is Debian's python3-torchvision source; benchmarks skip
// without it.
const torchvisionDir = "/usr/lib/python3/dist-packages/torchvision"

func needTorchvision(b *testing.B) {
	if _, err := os.Stat(torchvisionDir + "/__init__.py"); err != nil {
		b.Skip("no torchvision source at " + torchvisionDir)
	}
}

// BenchmarkIndexCold parses every module of torchvision (no cache).
func BenchmarkIndexCold(b *testing.B) {
	needTorchvision(b)
	for i := 0; i < b.N; i++ {
		if _, err := Open(context.Background(), torchvisionDir, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexCached reopens the index from its cache.
func BenchmarkIndexCached(b *testing.B) {
	needTorchvision(b)
	cache := b.TempDir()
	if _, err := Open(context.Background(), torchvisionDir, Options{CacheDir: cache}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Open(context.Background(), torchvisionDir, Options{CacheDir: cache}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtract extracts a large closure (Faster R-CNN) from a warm index.
func BenchmarkExtract(b *testing.B) {
	needTorchvision(b)
	idx, err := Open(context.Background(), torchvisionDir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := idx.Extract(context.Background(), "torchvision.models.detection.faster_rcnn.FasterRCNN"); err != nil {
			b.Fatal(err)
		}
	}
}
