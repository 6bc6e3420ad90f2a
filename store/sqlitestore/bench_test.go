package sqlitestore

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// The benchmarks below have twins in store/boltstore, so that the two
// embedded stores can be compared in one run:
//
//	go test -run '^$' -bench . -benchtime 2s ./store/sqlitestore ./store/boltstore

func benchStore(b *testing.B, opts ...Option) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), append([]Option{WithSweepInterval(0)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

var syncModes = []struct {
	name string
	mode Synchronous
}{{"full", SynchronousFull}, {"normal", SynchronousNormal}}

// BenchmarkSave measures committed Saves per second with several
// concurrent writers, each updating its own session with compare-and-swap
// as a request would, with each synchronous setting (full: every commit
// fsynced, the default; normal: fsync at checkpoints only).
func BenchmarkSave(b *testing.B) {
	for _, sm := range syncModes {
		for _, writers := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("sync=%s/writers=%d", sm.name, writers), func(b *testing.B) {
				s := benchStore(b, WithSynchronous(sm.mode))
				benchSave(b, s, writers)
			})
		}
	}
}

func benchSave(b *testing.B, s sessionkit.Store, writers int) {
	ctx := b.Context()
	data := make([]byte, 512)
	exp := time.Now().Add(time.Hour)
	var next atomic.Int64
	// RunParallel starts parallelism×GOMAXPROCS goroutines.
	b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	cpu := storetest.ProcessCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("session-%d", next.Add(1))
		var version uint64
		for pb.Next() {
			v, err := s.Save(ctx, key, sessionkit.Record{Data: data, Version: version, Expiry: exp, UserKey: key})
			if err != nil {
				b.Error(err)
				return
			}
			version = v
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64(storetest.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkLoad measures one Load of a 512-byte record among 10,000.
func BenchmarkLoad(b *testing.B) {
	s := benchStore(b)
	benchLoad(b, s)
}

func benchLoad(b *testing.B, s sessionkit.Store) {
	ctx := b.Context()
	exp := time.Now().Add(time.Hour)
	const n = 10_000
	for i := range n {
		if _, err := s.Save(ctx, fmt.Sprintf("session-%d", i), sessionkit.Record{Data: make([]byte, 512), Expiry: exp}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	cpu := storetest.ProcessCPU()
	for b.Loop() {
		if _, err := s.Load(ctx, fmt.Sprintf("session-%d", i%n)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(storetest.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkMiddleware measures whole requests through sessionkit's
// middleware on this store (storetest.BenchmarkMiddleware), with each
// synchronous setting.
func BenchmarkMiddleware(b *testing.B) {
	for _, sm := range syncModes {
		b.Run("sync="+sm.name, func(b *testing.B) {
			storetest.BenchmarkMiddleware(b, benchStore(b, WithSynchronous(sm.mode)))
		})
	}
}
