package main_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
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

// TestMongoMissingCollection: a MongoDB URL whose collection does not
// exist (a misspelt ?collection=) is reported like a missing table: every
// command but migrate's target fails instead of creating it, doctor fails
// its schema check, and doctor --fix creates it.
func TestMongoMissingCollection(t *testing.T) {
	base := testenv.Getenv(t, testenv.MongoURLEnv)
	coll := uniqueName("skcli_missing_")
	u := withParam(strings.TrimSuffix(base, "/")+"/sessionkit_cli_test", "collection", coll)
	t.Cleanup(func() {
		s, err := storeurl.Open(context.Background(), u, storeurl.Options{NoSweeper: true})
		if err == nil {
			s.(*mongostore.Store).Collection().Drop(context.Background())
			s.Close()
		}
	})
	for _, args := range [][]string{{"list"}, {"stats"}, {"show", "x"}, {"revoke", "--user", "alice"}, {"purge"}} {
		r := mustRun(t, 1, append(args, "--store", u)...)
		if !strings.Contains(r.stderr, "collection does not exist") {
			t.Errorf("%s on a missing collection: %s", args[0], r.stderr)
		}
	}
	r := mustRun(t, 1, "doctor", "--no-write", u)
	if !strings.Contains(r.stdout, "FAIL  schema") || !strings.Contains(r.stdout, coll+": collection does not exist") {
		t.Errorf("doctor on a missing collection:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "doctor", "--fix", u)
	if !strings.Contains(r.stdout, "OK  fix      created collection sessionkit_cli_test."+coll) {
		t.Errorf("doctor --fix:\n%s", r.stdout)
	}
	mustRun(t, 0, "list", "--store", u)
}
