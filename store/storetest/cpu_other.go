//go:build !unix

package storetest

import "time"

// ProcessCPU returns 0: this system's CPU time is not read (see the Unix
// version).
func ProcessCPU() time.Duration { return 0 }
