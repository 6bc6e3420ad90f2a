package reliability

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
)

// storeCase opens a fresh, isolated store of one kind, closed (and its
// table or collection dropped) when the test ends. Backend stores skip
// through testenv.Getenv when their server is not available.
type storeCase struct {
	name string
	open func(t *testing.T) sessionkit.Store
}

var storeCases = []storeCase{
	{"memstore", func(t *testing.T) sessionkit.Store {
		s := memstore.New(memstore.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"boltstore", func(t *testing.T) sessionkit.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"sqlitestore", func(t *testing.T) sessionkit.Store {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"redisstore", func(t *testing.T) sessionkit.Store {
		url := testenv.Getenv(t, testenv.RedisURLEnv)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := redisstore.NewFromURL(ctx, url, redisstore.Options{Prefix: uniqueName("rel") + ":"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"pgstore", func(t *testing.T) sessionkit.Store {
		url := testenv.Getenv(t, testenv.PostgresURLEnv)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := pgstore.Open(ctx, url, pgstore.Options{Table: uniqueName("rel_"), CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s.Pool().Exec(ctx, "DROP TABLE IF EXISTS "+s.Table())
			s.Close()
		})
		return s
	}},
	{"mysqlstore", func(t *testing.T) sessionkit.Store {
		dsn := testenv.Getenv(t, testenv.MySQLDSNEnv)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Table: uniqueName("rel_"), CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s.DB().ExecContext(ctx, "DROP TABLE IF EXISTS `"+s.Table()+"`")
			s.Close()
		})
		return s
	}},
	{"mongostore", func(t *testing.T) sessionkit.Store {
		url := testenv.Getenv(t, testenv.MongoURLEnv)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s, err := mongostore.Open(ctx, url, mongostore.Options{Database: "sessionkit_reliability", Collection: uniqueName("sessions_"), SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s.Collection().Drop(ctx)
			s.Close()
		})
		return s
	}},
}
