package main_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// exec runs SQL statements on the store rawURL names (creating its file,
// not its table).
func execSQL(t *testing.T, rawURL string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	s, err := storeurl.Open(ctx, rawURL, storeurl.Options{NoCreate: !strings.HasPrefix(rawURL, "sqlite:"), NoSweeper: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, stmt := range stmts {
		switch st := s.(type) {
		case *pgstore.Store:
			_, err = st.Pool().Exec(ctx, stmt)
		case *mysqlstore.Store:
			_, err = st.DB().ExecContext(ctx, stmt)
		case *sqlitestore.Store:
			_, err = st.DB().ExecContext(ctx, stmt)
		default:
			t.Fatalf("%T", s)
		}
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// TestDoctorForeignTable: a table of the URL's name that is not this
// layout's session table (another application's "sessions", or the other
// layout's) fails doctor's schema check, with --no-write too, instead of
// passing because it exists and has indexes.
func TestDoctorForeignTable(t *testing.T) {
	// A session table as another framework makes it, with three indexes.
	foreign := func(table string) []string {
		return []string{
			`CREATE TABLE ` + table + ` (session_key varchar(40) PRIMARY KEY, session_data text, expire_date bigint)`,
			`CREATE INDEX ` + table + `_e ON ` + table + ` (expire_date)`,
			`CREATE INDEX ` + table + `_d ON ` + table + ` (session_key, expire_date)`,
		}
	}
	tests := []struct {
		name string
		// setup returns the URL doctor checks, after creating a table of
		// its name that the store cannot use.
		setup func(t *testing.T) string
	}{
		{"postgres connect-pg-simple URL, native table", func(t *testing.T) string {
			u, _ := postgresURL(t)
			return withParam(u, "layout", "connect-pg-simple")
		}},
		{"postgres native URL, connect-pg-simple table", func(t *testing.T) string {
			u, s := postgresURL(t)
			execSQL(t, u, `DROP TABLE `+s.Table())
			cps, err := pgstore.Open(context.Background(), strings.Split(u, "&table=")[0], pgstore.Options{Table: s.Table(), Layout: pgstore.LayoutConnectPgSimple, CleanupInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer cps.Close()
			if err := cps.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return u
		}},
		{"postgres foreign table", func(t *testing.T) string {
			u, s := postgresURL(t)
			execSQL(t, u, append([]string{`DROP TABLE ` + s.Table()}, foreign(s.Table())...)...)
			return u
		}},
		{"mysql foreign table", func(t *testing.T) string {
			u := mysqlURL(t)
			execSQL(t, u, foreign(strings.Split(u, "table=")[1])...)
			return u
		}},
		{"sqlite foreign table", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "s.sqlite")
			execSQL(t, "sqlite://"+path+"?table=other", foreign("sessions")...)
			return "sqlite://" + path
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.setup(t)
			for _, args := range [][]string{{"doctor", u}, {"doctor", "--no-write", u}} {
				r := mustRun(t, 1, args...)
				if !strings.Contains(r.stdout, "FAIL  schema") {
					t.Errorf("%s on a table the store cannot use:\n%s", strings.Join(args[:len(args)-1], " "), r.stdout)
				}
			}
		})
	}
}
