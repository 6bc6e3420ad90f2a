package boltstore

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
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
}
