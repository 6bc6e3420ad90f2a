package boltstore

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// BenchmarkSave measures committed, fsynced Saves per second with several
// concurrent writers, each updating its own session with compare-and-swap
// as a request would. Concurrent Saves share transactions and fsyncs
// through DB.Batch, so commits/s grows with the number of writers. The
// second set of runs uses bbolt's own default batch delay (10ms) for
// comparison.
//
//	go test -run '^$' -bench Save -benchtime 2s ./store/boltstore
func BenchmarkSave(b *testing.B) {
	for _, delay := range []time.Duration{DefaultBatchDelay, 10 * time.Millisecond} {
		for _, writers := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("delay=%s/writers=%d", delay, writers), func(b *testing.B) {
				benchSave(b, writers, delay)
			})
		}
	}
}

func benchSave(b *testing.B, writers int, delay time.Duration) {
	s, err := Open(b.TempDir()+"/bench.db", WithSweepInterval(0), WithBatchDelay(delay))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
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

// BenchmarkLoad measures one Load of a 512-byte record among 10,000 (the
// twin of sqlitestore's).
func BenchmarkLoad(b *testing.B) {
	s, err := Open(b.TempDir()+"/bench.db", WithSweepInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
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
// middleware on this store (storetest.BenchmarkMiddleware; the twin of
// sqlitestore's).
func BenchmarkMiddleware(b *testing.B) {
	s, err := Open(b.TempDir()+"/bench.db", WithSweepInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkMiddleware(b, s)
}
