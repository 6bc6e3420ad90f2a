package testenv

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// waitFrozen returns once every thread of every process in pids is
// stopped (SIGSTOP). kill(2) only queues the signal: on a busy machine a
// server thread that is already running, or wakes up with a request in
// hand, can still answer before it takes the stop, and a fault test would
// see a "hung" server answer. Processes that have gone count as stopped.
func waitFrozen(pids []int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		running := ""
		for _, pid := range pids {
			if tid, ok := runningThread(pid); ok {
				running = fmt.Sprintf("pid %d thread %d", pid, tid)
				break
			}
		}
		if running == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: %s still not stopped 10s after SIGSTOP", running)
		}
		time.Sleep(time.Millisecond)
	}
}

// runningThread returns a thread of pid that is not stopped, if any.
func runningThread(pid int) (tid int, ok bool) {
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return 0, false // gone
	}
	for _, e := range entries {
		t, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		switch _, state := procStat(t); state {
		case 0, 'T', 't', 'Z', 'X':
			// gone, stopped, or dead
		default:
			return t, true
		}
	}
	return 0, false
}
