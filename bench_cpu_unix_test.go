//go:build unix

package sessionkit_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) the process has used,
// all threads together: the benchmark's goroutine and the runtime's (GC).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
