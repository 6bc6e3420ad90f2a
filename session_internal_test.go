package sessionkit

import (
	"testing"
	"unsafe"
)

// TestSessionFitsItsAllocation pins what the Session struct's comment
// promises: one Session per request fits a 1024-byte allocation. Objects
// over 512 bytes that hold pointers carry an 8-byte header, so the fields
// may take 1016 bytes; one more word moves every request to the 1152-byte
// size class (BenchmarkUntouched's B/op).
func TestSessionFitsItsAllocation(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n > 1016 {
		t.Errorf("Session is %d bytes, over 1016: put what few requests need in sessionExtra", n)
	}
}
