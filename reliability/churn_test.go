package reliability

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"

	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestChurnKeepsMemoryFlat pushes a long stream of new sessions (each
// request without a cookie creates one and stores a few hundred bytes)
// through the middleware over a bounded memstore, and checks after each
// slice of the stream — with a GC first — that HeapInuse stays within a
// fixed bound of its level once the store was full, and that no
// goroutines are left behind. It asserts on memory, never on time.
func TestChurnKeepsMemoryFlat(t *testing.T) {
	const (
		maxEntries = 2000
		slices     = 10
		perSlice   = 4000
	)
	base := runtime.NumGoroutine()
	store := memstore.New(memstore.Options{MaxEntries: maxEntries})
	m := newManager(store)
	h := appHandler(m)
	payload := make([]byte, 300)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	request := func(i int) {
		r := httptest.NewRequest("GET", "/set?k=v"+strconv.Itoa(i)+string(payload), nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("request %d = %d %q", i, w.Code, w.Body.String())
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}

	// Fill the store first: from then on every new session evicts one.
	for i := range 2 * maxEntries {
		request(i)
	}
	baseline := heap()
	samples := []uint64{baseline}
	n := 2 * maxEntries
	for range slices {
		for range perSlice {
			request(n)
			n++
		}
		samples = append(samples, heap())
	}
	entries, bytes := store.Stats()
	mib := func(v uint64) float64 { return float64(v) / (1 << 20) }
	var peak uint64
	for _, s := range samples {
		peak = max(peak, s)
	}
	t.Logf("%d sessions created; store holds %d (%d bytes); HeapInuse after GC: baseline %.1f MiB, peak %.1f MiB, last %.1f MiB",
		n, entries, bytes, mib(baseline), mib(peak), mib(samples[len(samples)-1]))
	if entries > maxEntries {
		t.Errorf("store holds %d sessions, bound %d", entries, maxEntries)
	}
	// 40,000 sessions of ~400 bytes went through (~16 MiB); a leak of
	// even a tenth of that shows. The bound allows allocator noise.
	const slack = 4 << 20
	if peak > baseline+slack {
		t.Errorf("HeapInuse grew from %.1f to %.1f MiB under churn (bound %.1f MiB more)", mib(baseline), mib(peak), mib(slack))
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	settleGoroutines(t, base)
}
