package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgresServer(t *testing.T) {
	if _, err := FindBinary("postgres", "", "/usr/lib/postgresql/*/bin"); err != nil {
		SkipOrFail(t, "postgres is not installed (Debian package postgresql)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, err := StartPostgres(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	query := func(sql string) error {
		c, err := pgx.Connect(ctx, s.URL())
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := query("CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	// Kill, then restart: data survives crash recovery.
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := query("SELECT 1"); err == nil {
		t.Fatal("query succeeded while the server was killed")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := query("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// A clean stop and restart.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := query("SELECT * FROM t"); err != nil {
		t.Fatalf("after second restart: %v", err)
	}
	dataDir := s.dataDir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.rmDir != "" {
		if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
			t.Errorf("Close left %s behind", dataDir)
		}
	}
}
