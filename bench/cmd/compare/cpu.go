package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CPU time is read from Linux's /proc: /proc/PID/stat holds the user and
// system time a process has used (all its threads, the exited ones too)
// and the time of the children it has waited for, in clock ticks.

// clockTicks is the unit of /proc/PID/stat's times (USER_HZ).
var clockTicks = sync.OnceValue(func() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100 // USER_HZ on every architecture Linux runs on but alpha
})

// procStat is what the CPU figures need from /proc/PID/stat.
type procStat struct {
	ppid int
	// utime, stime: the process's own time; cutime, cstime: that of its
	// children it has waited for. In clock ticks.
	utime, stime, cutime, cstime int64
}

// parseStat parses the contents of /proc/PID/stat. The command name (the
// second field) is in parentheses and may itself contain spaces and
// parentheses, so the fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("no command name")
	}
	// Fields after the name, numbered from 3 as in proc(5): state(3)
	// ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("%d fields after the command name", len(f))
	}
	field := func(n int) (int64, error) { return strconv.ParseInt(f[n-3], 10, 64) }
	var st procStat
	var err error
	var ppid int64
	if ppid, err = field(4); err != nil {
		return st, err
	}
	st.ppid = int(ppid)
	for n, p := range map[int]*int64{14: &st.utime, 15: &st.stime, 16: &st.cutime, 17: &st.cstime} {
		if *p, err = field(n); err != nil {
			return st, fmt.Errorf("field %d: %w", n, err)
		}
	}
	return st, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(b)
	if err != nil {
		return st, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// treeCPU returns the CPU time used by pid and all its descendants, the
// exited ones included as far as they were waited for: for each live
// process of the tree its own time and that of its waited-for children.
// A child that exits between two samples moves its time from its own
// counters to its parent's, so the difference of two samples stays the
// CPU used in between.
func treeCPU(pid int) (time.Duration, error) {
	root, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	ticks := root.utime + root.stime + root.cutime + root.cstime
	children, err := descendants(pid)
	if err != nil {
		return 0, err
	}
	for _, c := range children {
		st, err := readStat(c)
		if err != nil {
			continue // exited meanwhile; counted by its parent once waited for
		}
		ticks += st.utime + st.stime + st.cutime + st.cstime
	}
	return time.Duration(ticks) * time.Second / time.Duration(clockTicks()), nil
}

// descendants returns the PIDs of pid's live descendants.
func descendants(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		if st, err := readStat(p); err == nil {
			parent[p] = st.ppid
		}
	}
	var out []int
	for p := range parent {
		for a := parent[p]; a > 1; a = parent[a] {
			if a == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

// listenerPID returns the PID of the process listening on TCP port on
// this host: the port's listening socket is found in /proc/net/tcp{,6},
// and the process holding it among the file descriptors in /proc. When
// several processes hold it, the one whose parent does not is returned.
func listenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for k, v := range parseListeners(b) {
			if v == port {
				inodes[k] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no process listens on port %d here", port)
	}
	holders := map[int]bool{}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if err != nil {
				continue
			}
			if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
				holders[pid] = true
				break
			}
		}
	}
	for pid := range holders {
		if st, err := readStat(pid); err == nil && !holders[st.ppid] {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no readable process holds the socket listening on port %d", port)
}

// parseListeners returns the inode and port of every listening socket in
// the contents of /proc/net/tcp or /proc/net/tcp6.
func parseListeners(b []byte) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "0A" { // TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseInt(hexPort, 16, 32)
		if err != nil {
			continue
		}
		out[f[9]] = int(port)
	}
	return out
}

// storePID returns the PID of the store server at rawURL (Redis or
// PostgreSQL) if it runs on this host.
func storePID(rawURL string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		switch u.Scheme {
		case "redis":
			port = "6379"
		case "postgres", "postgresql":
			port = "5432"
		}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0, fmt.Errorf("%s is not on this host", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", port, err)
	}
	return listenerPID(n)
}

// cpuProbe samples the CPU time of one process, with tree its
// descendants too.
type cpuProbe struct {
	pid  int // 0: nothing to sample
	tree bool
}

// cpuSample is the CPU time of each probe at one instant.
type cpuSample struct {
	at  time.Time
	cpu []time.Duration // -1 where the probe failed
}

func sampleCPU(probes []cpuProbe) cpuSample {
	s := cpuSample{at: time.Now(), cpu: make([]time.Duration, len(probes))}
	for i, p := range probes {
		s.cpu[i] = -1
		if p.pid == 0 {
			continue
		}
		if p.tree {
			if d, err := treeCPU(p.pid); err == nil {
				s.cpu[i] = d
			}
		} else if st, err := readStat(p.pid); err == nil {
			s.cpu[i] = time.Duration(st.utime+st.stime) * time.Second / time.Duration(clockTicks())
		}
	}
	return s
}

// cpuOver returns the CPU time probe i used between samples a and b,
// scaled to a window of exactly want (the samples are taken by a timer
// and may be a little late), or -1.
func cpuOver(a, b cpuSample, i int, want time.Duration) time.Duration {
	if a.cpu[i] < 0 || b.cpu[i] < 0 || !b.at.After(a.at) {
		return -1
	}
	return time.Duration(float64(b.cpu[i]-a.cpu[i]) * float64(want) / float64(b.at.Sub(a.at)))
}
