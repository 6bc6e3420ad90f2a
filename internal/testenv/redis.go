package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The Redis backends: a single node, a Sentinel group and a Cluster, all run
// from the installed redis-server binary (Debian package redis-server).
var (
	redisBackend = Backend{Name: "redis", Start: func(ctx context.Context, dir string) ([]string, func() error, error) {
		s, err := StartRedis(ctx, dir)
		if err != nil {
			return nil, nil, err
		}
		return []string{RedisURLEnv + "=" + s.URL()}, s.Stop, nil
	}}
	redisSentinelBackend = Backend{Name: "redis-sentinel", Start: func(ctx context.Context, dir string) ([]string, func() error, error) {
		g, err := StartRedisSentinel(ctx, dir)
		if err != nil {
			return nil, nil, err
		}
		return []string{RedisSentinelEnv + "=" + g.Spec()}, g.Stop, nil
	}}
	redisClusterBackend = Backend{Name: "redis-cluster", Start: func(ctx context.Context, dir string) ([]string, func() error, error) {
		c, err := StartRedisCluster(ctx, dir)
		if err != nil {
			return nil, nil, err
		}
		return []string{RedisClusterEnv + "=" + strings.Join(c.Addrs, ",")}, c.Stop, nil
	}}
)

// RedisServer is a throw-away redis-server process listening on
// 127.0.0.1. It keeps nothing on disk beyond its working directory
// (no RDB snapshots, no AOF).
type RedisServer struct {
	// Addr is host:port. It stays the same across Kill and Restart.
	Addr string

	name string
	bin  string
	dir  string
	args []string

	mu   sync.Mutex
	proc *Process
}

// StartRedis starts a single Redis server with its files under dir and
// waits until it answers PING.
func StartRedis(ctx context.Context, dir string) (*RedisServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return startRedisNode(ctx, "redis", dir, port)
}

// URL returns redis://Addr.
func (s *RedisServer) URL() string { return "redis://" + s.Addr }

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *RedisServer) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.Kill()
}

// Stop shuts the server down (SIGTERM, then SIGKILL after five seconds).
func (s *RedisServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.proc.Exited() {
		_ = s.proc.cmd.Process.Signal(syscall.SIGCONT) // in case it is paused
	}
	return s.proc.Stop(5 * time.Second)
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing
// is answered, like a hung server or a network partition. It returns once
// every thread has stopped. Resume undoes it.
func (s *RedisServer) Pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return waitFrozen([]int{s.proc.cmd.Process.Pid})
}

// Resume lets a paused server go on (SIGCONT).
func (s *RedisServer) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.cmd.Process.Signal(syscall.SIGCONT)
}

// Restart starts the server again on the same port and directory after
// Kill or Stop, and waits until it answers PING. The data is gone: the
// server keeps nothing on disk.
func (s *RedisServer) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.proc.Exited() {
		return fmt.Errorf("testenv: restart %s: still running", s.name)
	}
	return s.start(ctx)
}

func startRedisNode(ctx context.Context, name, dir string, port int, extra ...string) (*RedisServer, error) {
	bin, err := FindBinary("redis-server", "redis-server")
	if err != nil {
		return nil, err
	}
	dir = filepath.Join(dir, fmt.Sprintf("%s-%d", name, port))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testenv: %s dir: %w", name, err)
	}
	args := append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", "",
	}, extra...)
	s := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), name: name, bin: bin, dir: dir, args: args}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *RedisServer) start(ctx context.Context) error {
	p, err := StartProcess(s.name, filepath.Join(s.dir, "redis.log"), s.bin, s.args...)
	if err != nil {
		return err
	}
	s.proc = p
	if err := waitRedisPing(ctx, s.Addr, p); err != nil {
		p.Kill()
		return fmt.Errorf("testenv: %s on %s: %w\n%s", s.name, s.Addr, err, p.LogTail())
	}
	return nil
}

func waitRedisPing(ctx context.Context, addr string, p *Process) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return pollRedis(ctx, func() error {
		if p != nil && p.Exited() {
			return errExited
		}
		v, err := redisDo(ctx, addr, "PING")
		if err != nil {
			return err
		}
		if v != "PONG" {
			return fmt.Errorf("PING answered %v", v)
		}
		return nil
	})
}

var errExited = errors.New("process exited")

// pollRedis calls check every 50ms until it returns nil, returns
// errExited, or ctx ends.
func pollRedis(ctx context.Context, check func() error) error {
	for {
		err := check()
		if err == nil || errors.Is(err, errExited) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RedisSentinelGroup is a master, one replica and three sentinels
// monitoring them under MasterName.
type RedisSentinelGroup struct {
	MasterName    string
	SentinelAddrs []string

	data      []*RedisServer // master first at start; roles change on failover
	sentinels []*RedisServer
}

// StartRedisSentinel starts a Sentinel group under dir and waits until the
// replica is in sync and every sentinel knows the master, the replica and
// the other two sentinels.
func StartRedisSentinel(ctx context.Context, dir string) (_ *RedisSentinelGroup, err error) {
	g := &RedisSentinelGroup{MasterName: "sessionkit"}
	defer func() {
		if err != nil {
			g.Stop()
		}
	}()
	masterPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	master, err := startRedisNode(ctx, "redis-master", dir, masterPort)
	if err != nil {
		return nil, err
	}
	g.data = append(g.data, master)
	replicaPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	replica, err := startRedisNode(ctx, "redis-replica", dir, replicaPort, "--replicaof", "127.0.0.1", strconv.Itoa(masterPort))
	if err != nil {
		return nil, err
	}
	g.data = append(g.data, replica)

	for i := range 3 {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		sdir := filepath.Join(dir, fmt.Sprintf("sentinel-%d", port))
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			return nil, err
		}
		// Sentinel rewrites its config file, so each gets its own.
		conf := filepath.Join(sdir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte(sentinelConf(port, sdir, g.MasterName, masterPort)), 0o644); err != nil {
			return nil, err
		}
		bin, err := FindBinary("redis-server", "redis-server")
		if err != nil {
			return nil, err
		}
		s := &RedisServer{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			name: fmt.Sprintf("redis-sentinel-%d", i), bin: bin, dir: sdir,
			args: []string{conf, "--sentinel"},
		}
		if err := s.start(ctx); err != nil {
			return nil, err
		}
		g.sentinels = append(g.sentinels, s)
		g.SentinelAddrs = append(g.SentinelAddrs, s.Addr)
	}

	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = pollRedis(wctx, func() error {
		info, err := redisDo(wctx, replica.Addr, "INFO", "replication")
		if err != nil {
			return err
		}
		if !strings.Contains(fmt.Sprint(info), "master_link_status:up") {
			return errors.New("replica not in sync yet")
		}
		for _, s := range g.sentinels {
			m, err := sentinelMaster(wctx, s.Addr, g.MasterName)
			if err != nil {
				return err
			}
			if m["ip"]+":"+m["port"] != master.Addr || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s sees master %s:%s, %s replicas, %s other sentinels",
					s.Addr, m["ip"], m["port"], m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: sentinel group did not settle: %w", err)
	}
	return g, nil
}

func sentinelConf(port int, dir, master string, masterPort int) string {
	return fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor %s 127.0.0.1 %d 2\n"+
		"sentinel down-after-milliseconds %s 1000\n"+
		"sentinel failover-timeout %s 5000\n"+
		"sentinel parallel-syncs %s 1\n",
		port, dir, master, masterPort, master, master, master)
}

// sentinelMaster returns SENTINEL MASTER name as a field map.
func sentinelMaster(ctx context.Context, addr, name string) (map[string]string, error) {
	v, err := redisDo(ctx, addr, "SENTINEL", "MASTER", name)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("SENTINEL MASTER answered %v", v)
	}
	m := map[string]string{}
	for i := 0; i+1 < len(list); i += 2 {
		m[fmt.Sprint(list[i])] = fmt.Sprint(list[i+1])
	}
	return m, nil
}

// Spec returns the value of [RedisSentinelEnv]: master@host:port,... of
// the sentinels.
func (g *RedisSentinelGroup) Spec() string {
	return g.MasterName + "@" + strings.Join(g.SentinelAddrs, ",")
}

// MasterAddr asks the sentinels which server is the master now.
func (g *RedisSentinelGroup) MasterAddr(ctx context.Context) (string, error) {
	var lastErr error
	for _, s := range g.sentinels {
		v, err := redisDo(ctx, s.Addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", g.MasterName)
		if err != nil {
			lastErr = err
			continue
		}
		if list, ok := v.([]any); ok && len(list) == 2 {
			return net.JoinHostPort(fmt.Sprint(list[0]), fmt.Sprint(list[1])), nil
		}
		lastErr = fmt.Errorf("sentinel %s answered %v", s.Addr, v)
	}
	return "", fmt.Errorf("testenv: sentinel master address: %w", lastErr)
}

// KillMaster kills the current master (SIGKILL) and returns its address.
// The sentinels then promote the replica; see [RedisSentinelGroup.WaitFailover].
func (g *RedisSentinelGroup) KillMaster(ctx context.Context) (string, error) {
	addr, err := g.MasterAddr(ctx)
	if err != nil {
		return "", err
	}
	for _, s := range g.data {
		if s.Addr == addr {
			return addr, s.Kill()
		}
	}
	return "", fmt.Errorf("testenv: master %s is not one of this group's servers", addr)
}

// WaitFailover waits until the sentinels name a master other than old and
// that server answers as a master.
func (g *RedisSentinelGroup) WaitFailover(ctx context.Context, old string) (string, error) {
	var addr string
	err := pollRedis(ctx, func() error {
		a, err := g.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if a == old {
			return errors.New("sentinels still name the old master")
		}
		info, err := redisDo(ctx, a, "INFO", "replication")
		if err != nil {
			return err
		}
		if !strings.Contains(fmt.Sprint(info), "role:master") {
			return fmt.Errorf("%s is not a master yet", a)
		}
		addr = a
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("testenv: sentinel failover: %w", err)
	}
	return addr, nil
}

// Stop stops every process of the group.
func (g *RedisSentinelGroup) Stop() error {
	var errs []error
	for _, s := range append(append([]*RedisServer{}, g.sentinels...), g.data...) {
		if s.proc != nil {
			errs = append(errs, s.Stop())
		}
	}
	return errors.Join(errs...)
}

// RedisCluster is a Redis Cluster of three masters (no replicas) with the
// 16384 slots split evenly.
type RedisCluster struct {
	// Addrs are the masters' host:port.
	Addrs []string
	nodes []*RedisServer
}

// StartRedisCluster starts a three-master cluster under dir and waits until
// every node reports cluster_state:ok.
func StartRedisCluster(ctx context.Context, dir string) (_ *RedisCluster, err error) {
	c := &RedisCluster{}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	slots := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	var busPorts []string
	for i := range slots {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		bus, err := FreePort()
		if err != nil {
			return nil, err
		}
		n, err := startRedisNode(ctx, "redis-cluster", dir, port,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "2000",
		)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		c.Addrs = append(c.Addrs, n.Addr)
		busPorts = append(busPorts, strconv.Itoa(bus))
		if _, err := redisDo(ctx, n.Addr, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			return nil, fmt.Errorf("testenv: cluster epoch: %w", err)
		}
		if _, err := redisDo(ctx, n.Addr, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(slots[i][0]), strconv.Itoa(slots[i][1])); err != nil {
			return nil, fmt.Errorf("testenv: cluster slots: %w", err)
		}
	}
	for i, n := range c.nodes[1:] {
		host, port, _ := net.SplitHostPort(n.Addr)
		// The bus port is not port+10000, so MEET must be told it.
		if _, err := redisDo(ctx, c.nodes[0].Addr, "CLUSTER", "MEET", host, port, busPorts[i+1]); err != nil {
			return nil, fmt.Errorf("testenv: cluster meet: %w", err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = pollRedis(wctx, func() error {
		for _, n := range c.nodes {
			v, err := redisDo(wctx, n.Addr, "CLUSTER", "INFO")
			if err != nil {
				return err
			}
			info := fmt.Sprint(v)
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return fmt.Errorf("node %s not ready: %s", n.Addr, strings.Join(strings.Fields(info)[:3], " "))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: redis cluster did not settle: %w", err)
	}
	return c, nil
}

// Stop stops every node.
func (c *RedisCluster) Stop() error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.Stop())
	}
	return errors.Join(errs...)
}

// redisDo sends one command over a fresh connection and returns the reply:
// string for simple and bulk strings, int64, []any, nil, or an error for
// an error reply. It is enough for setting servers up; tests use go-redis.
func redisDo(ctx context.Context, addr string, args ...string) (any, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return readRESP(bufio.NewReader(conn))
}

func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty RESP line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, fmt.Errorf("redis: %s", line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		list := make([]any, n)
		for i := range list {
			if list[i], err = readRESP(r); err != nil {
				return nil, err
			}
		}
		return list, nil
	}
	return nil, fmt.Errorf("unexpected RESP line %q", line)
}
