//go:build !unix

package frameworktest

import "time"

func processCPU() time.Duration { return 0 }
