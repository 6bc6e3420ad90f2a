package sqlitestore

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// BenchmarkEmbedded compares the two embedded stores case by case in one
// run, so that a busy machine disturbs both alike: sqlitestore with
// SynchronousFull (every commit fsynced, the default) and
// SynchronousNormal, and boltstore with its defaults (every commit
// fsynced, 1ms batch window). save is committed compare-and-swap Saves
// by 1, 16 and 128 concurrent writers, each on its own session; load is
// one Load among 10,000 records; middleware is storetest's whole-request
// benchmark.
//
//	go test -run '^$' -bench Embedded -benchtime 2s -count 3 ./store/sqlitestore
func BenchmarkEmbedded(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) sessionkit.Store
	}{
		{"sqlite-full", func(b *testing.B) sessionkit.Store { return benchStore(b) }},
		{"sqlite-normal", func(b *testing.B) sessionkit.Store { return benchStore(b, WithSynchronous(SynchronousNormal)) }},
		{"bolt", func(b *testing.B) sessionkit.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.WithSweepInterval(0))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, writers := range []int{1, 16, 128} {
		for _, st := range stores {
			b.Run(fmt.Sprintf("save/writers=%d/%s", writers, st.name), func(b *testing.B) {
				benchSave(b, st.open(b), writers)
			})
		}
	}
	for _, st := range stores {
		b.Run("load/"+st.name, func(b *testing.B) { benchLoad(b, st.open(b)) })
	}
	for _, st := range stores {
		b.Run("middleware/"+st.name, func(b *testing.B) { storetest.BenchmarkMiddleware(b, st.open(b)) })
	}
}
