package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a CPU-burning helper process (see
// runHelper) instead of running the tests.
const helperEnv = "SESSIONKIT_BENCH_CPU_HELPER"

func TestMain(m *testing.M) {
	if plan := os.Getenv(helperEnv); plan != "" {
		os.Exit(runHelper(plan))
	}
	os.Exit(m.Run())
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// burn spins until this process has used d more CPU time.
func burn(d time.Duration) {
	for start := selfCPU(); selfCPU()-start < d; {
		for i := 0; i < 1e5; i++ {
		}
	}
}

// runHelper follows plan, "delay,burn,children,exit": after delay it
// starts children helper processes that each burn (and exit), burns
// itself, waits for the children to exit, and then exits if exit is 1 or
// sleeps until it is killed.
func runHelper(plan string) int {
	f := strings.Split(plan, ",")
	if len(f) != 4 {
		return 2
	}
	delay, err1 := time.ParseDuration(f[0])
	cpu, err2 := time.ParseDuration(f[1])
	children, err3 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return 2
	}
	time.Sleep(delay)
	var cmds []*exec.Cmd
	for range children {
		c := helperCmd(fmt.Sprintf("0s,%s,0,1", cpu))
		if err := c.Start(); err != nil {
			return 1
		}
		cmds = append(cmds, c)
	}
	burn(cpu)
	for _, c := range cmds {
		if c.Wait() != nil {
			return 1
		}
	}
	if f[3] == "1" {
		return 0
	}
	select {}
}

func helperCmd(plan string) *exec.Cmd {
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), helperEnv+"="+plan)
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return c
}

func startHelper(t *testing.T, plan string) int {
	t.Helper()
	c := helperCmd(plan)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Kill()
		c.Wait()
	})
	return c.Process.Pid
}

func TestParseStat(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime ...
	tail := " S 7 9 9 0 -1 4194560 10 0 0 0 120 30 5 2 20 0 1 0 100 1000 10"
	for _, tc := range []struct {
		line    string
		want    procStat
		wantErr bool
	}{
		{"42 (redis-server)" + tail, procStat{ppid: 7, utime: 120, stime: 30, cutime: 5, cstime: 2}, false},
		{"42 (a) b (c))" + tail, procStat{ppid: 7, utime: 120, stime: 30, cutime: 5, cstime: 2}, false},
		{"42 (x) S 7 9", procStat{}, true},
		{"42 x" + tail, procStat{}, true},
		{"42 (x) S seven 9 9 0 -1 4194560 10 0 0 0 120 30 5 2", procStat{}, true},
	} {
		got, err := parseStat([]byte(tc.line))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, error %v", tc.line, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseListeners(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:18EB 01 00000000:00000000 00:00000000 00000000     0        0 424242 1 0000000000000000 20 4 30 10 -1
`
	got := parseListeners([]byte(table))
	if len(got) != 1 || got["31337"] != 6379 {
		t.Errorf("parseListeners = %v, want only inode 31337 on port 6379", got)
	}
}

// TestListenerPID finds the process listening on a port: this one.
func TestListenerPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if pid, err := listenerPID(port); err != nil || pid != os.Getpid() {
		t.Errorf("listenerPID(%d) = %d, %v; want %d", port, pid, err, os.Getpid())
	}
	if pid, err := storePID(fmt.Sprintf("redis://127.0.0.1:%d/0", port)); err != nil || pid != os.Getpid() {
		t.Errorf("storePID = %d, %v; want %d", pid, err, os.Getpid())
	}
	if _, err := storePID("postgres://db.example.com:5432/x"); err == nil {
		t.Error("storePID of a remote server succeeded")
	}
}

// TestTreeCPU checks the CPU time read for a busy child and its own
// children, including one that exits between the two samples.
func TestTreeCPU(t *testing.T) {
	const cpu = 150 * time.Millisecond
	// After 200ms, two children burn cpu each (one exits, waited for),
	// and the helper burns cpu itself.
	pid := startHelper(t, "200ms,"+cpu.String()+",2,0")
	before, err := treeCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the helper's children have exited and the helper is
	// idle: its CPU time stops moving.
	var after time.Duration
	for deadline := time.Now().Add(time.Minute); ; {
		time.Sleep(300 * time.Millisecond)
		now, err := treeCPU(pid)
		if err != nil {
			t.Fatal(err)
		}
		if now-before >= 3*cpu && now == after {
			break
		}
		after = now
		if time.Now().After(deadline) {
			t.Fatalf("the helper's tree used %v after a minute, want %v", now-before, 3*cpu)
		}
	}
	tick := time.Second / time.Duration(clockTicks())
	if got := after - before; got < 3*cpu-3*tick || got > 3*cpu+10*tick {
		t.Errorf("tree CPU %v, want %v (-%v, +%v)", got, 3*cpu, 3*tick, 10*tick)
	}
}

// TestRunLoadCPUWindow checks that runLoad reports the CPU time used in
// the measured window only: one helper burns during the warm-up, another
// during the window.
func TestRunLoadCPUWindow(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"})
		w.Write([]byte("1"))
	}))
	defer srv.Close()
	const (
		warmup   = 1500 * time.Millisecond
		duration = 2500 * time.Millisecond
		cpu      = 100 * time.Millisecond
	)
	early := startHelper(t, "0s,"+cpu.String()+",0,0")
	late := startHelper(t, (warmup+300*time.Millisecond).String()+","+cpu.String()+",0,0")
	res, err := runLoad(t.Context(), srv.URL, "/read", 2, warmup, duration,
		[]cpuProbe{{pid: early, tree: true}, {pid: late, tree: true}, {}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 {
		t.Fatal("no requests measured")
	}
	tick := time.Second / time.Duration(clockTicks())
	if got := res.CPU[0]; got < 0 || got > 3*tick {
		t.Errorf("the helper busy only in the warm-up used %v in the window, want about 0", got)
	}
	if got := res.CPU[1]; got < cpu-3*tick || got > cpu+10*tick {
		t.Errorf("the helper busy in the window used %v in it, want %v", got, cpu)
	}
	if res.CPU[2] != -1 {
		t.Errorf("a probe without a process reported %v, want -1", res.CPU[2])
	}
}
