package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlBackend runs one throw-away MariaDB server for the whole test run
// (Debian package mariadb-server).
var mysqlBackend = Backend{Name: "mysql", Start: func(ctx context.Context, dir string) ([]string, func() error, error) {
	s, err := StartMySQL(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	return []string{MySQLDSNEnv + "=" + s.DSN()}, s.Stop, nil
}}

// MySQLDatabase is the database StartMySQL creates for tests.
const MySQLDatabase = "sessionkit"

// MySQLServer is a throw-away MariaDB (or MySQL) server listening on
// 127.0.0.1 with its socket and data under the directory it was started
// with. It runs with --skip-grant-tables: any user name and password are
// accepted. It is tuned for tests (no binary log, no doublewrite, log
// written but not flushed at commit), so committed data survives a killed
// server but not a machine crash.
type MySQLServer struct {
	// Addr is host:port. It stays the same across Kill and Restart.
	Addr string

	bin     string
	logPath string
	args    []string

	mu   sync.Mutex
	proc *Process
}

// DSN returns a go-sql-driver DSN for the test database as root.
func (s *MySQLServer) DSN() string {
	return "root@tcp(" + s.Addr + ")/" + MySQLDatabase
}

// URL returns the same address as a mysql:// URL.
func (s *MySQLServer) URL() string {
	return "mysql://root@" + s.Addr + "/" + MySQLDatabase
}

// StartMySQL initialises a data directory under dir with mariadb-install-db,
// starts mariadbd on a free port, waits until it answers and creates the
// database MySQLDatabase.
func StartMySQL(ctx context.Context, dir string) (*MySQLServer, error) {
	bin, err := FindBinary("mariadbd", "mariadb-server", "/usr/sbin")
	if err != nil {
		if bin, err = FindBinary("mysqld", "", "/usr/sbin"); err != nil {
			return nil, fmt.Errorf("testenv: no MySQL server: install the Debian package mariadb-server")
		}
	}
	install, err := FindBinary("mariadb-install-db", "mariadb-server", "/usr/bin", "/usr/sbin")
	if err != nil {
		if install, err = FindBinary("mysql_install_db", "", "/usr/bin", "/usr/sbin"); err != nil {
			return nil, err
		}
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	tmpDir := filepath.Join(dir, "tmp")
	for _, d := range []string{dataDir, tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("testenv: mysql dir: %w", err)
		}
	}
	// The server drops privileges to --user when started as root; root
	// keeps them (and the parent-death signal, which a user change clears).
	var asUser []string
	if os.Geteuid() == 0 {
		asUser = []string{"--user=root"}
	}
	installArgs := append([]string{
		"--no-defaults",
		"--datadir=" + dataDir,
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
	}, asUser...)
	cmd := exec.CommandContext(ctx, install, installArgs...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testenv: %s: %w\n%s", filepath.Base(install), err, tail(out))
	}

	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &MySQLServer{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		bin:     bin,
		logPath: filepath.Join(dir, "mysqld.log"),
		args: append([]string{
			"--no-defaults",
			"--datadir=" + dataDir,
			"--tmpdir=" + tmpDir,
			"--socket=" + filepath.Join(dir, "mysqld.sock"),
			"--pid-file=" + filepath.Join(dir, "mysqld.pid"),
			"--port=" + strconv.Itoa(port),
			"--bind-address=127.0.0.1",
			"--skip-grant-tables",
			"--skip-name-resolve",
			"--skip-log-bin",
			"--innodb-flush-log-at-trx-commit=2",
			"--innodb-doublewrite=0",
			"--innodb-buffer-pool-size=64M",
			"--innodb-use-native-aio=0",
			"--max-connections=500",
			"--max-allowed-packet=64M",
		}, asUser...),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs the server, waits until it answers and creates the test
// database. s.mu is held.
func (s *MySQLServer) start(ctx context.Context) error {
	p, err := startProcessAs("mysql", s.logPath, filepath.Dir(s.logPath), nil, s.bin, s.args...)
	if err != nil {
		return err
	}
	s.proc = p
	if err := s.waitReady(ctx); err != nil {
		p.Kill()
		return err
	}
	return nil
}

func (s *MySQLServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", s.Addr
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	for {
		if s.proc.Exited() {
			return fmt.Errorf("testenv: mysql exited while starting:\n%s", s.proc.LogTail())
		}
		_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+MySQLDatabase)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: mysql did not become ready: %w (last error: %v)\n%s", ctx.Err(), err, s.proc.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 30 seconds). The
// data stays; Restart starts it again.
func (s *MySQLServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	return s.proc.Stop(30 * time.Second)
}

// Kill stops the server at once (SIGKILL), as a crash would. Restart runs
// crash recovery.
func (s *MySQLServer) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	return s.proc.Kill()
}

// Restart starts the server again on the same port and data after Stop or
// Kill, and waits until it answers.
func (s *MySQLServer) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.Exited() {
		return errors.New("testenv: restart mysql: still running")
	}
	return s.start(ctx)
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing
// answers, as with a hung server or a network partition. It returns once
// every thread has stopped. Resume undoes it.
func (s *MySQLServer) Pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := signalGroup(s.proc, syscall.SIGSTOP); err != nil {
		return err
	}
	return waitFrozen([]int{s.proc.cmd.Process.Pid})
}

// Resume continues a paused server (SIGCONT).
func (s *MySQLServer) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return signalGroup(s.proc, syscall.SIGCONT)
}
