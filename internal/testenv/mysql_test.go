package testenv

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

func TestMySQLServer(t *testing.T) {
	if _, err := FindBinary("mariadbd", "", "/usr/sbin"); err != nil {
		SkipOrFail(t, "mariadbd is not installed (Debian package mariadb-server)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s, err := StartMySQL(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	db, err := sql.Open("mysql", s.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) error {
		_, err := db.ExecContext(ctx, q)
		return err
	}
	if err := exec("CREATE TABLE t (x INT) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	if err := exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	// Kill, then restart: committed data survives crash recovery.
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("query succeeded while the server was killed")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart: count = %d, %v; want 1", n, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := exec("INSERT INTO t VALUES (2)"); err != nil {
		t.Fatalf("after second restart: %v", err)
	}
}
