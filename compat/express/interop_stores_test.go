package express_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func TestInteropPostgres(t *testing.T) {
	t.Parallel()
	pgURL := testenv.Getenv(t, testenv.PostgresURLEnv)
	nodeModulesOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	table := uniqueName("sk_express_")
	store, err := pgstore.Open(ctx, pgURL, pgstore.Options{
		Table:           table,
		Layout:          pgstore.LayoutConnectPgSimple,
		UserKeyOf:       express.UserKey,
		CleanupInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.DropTable(context.Background())
		store.Close()
	})
	runInteropSuite(t, store, startNode(t, "pg", pgURL, table))
}

// TestInteropPostgresTimeZone runs the suite with both sides' sessions in
// a time zone far from UTC: connect-pg-simple's expire column is a
// timestamp without time zone, written with to_timestamp() in the
// session's time zone, so a Go side that read or wrote it as UTC would
// move every expiry by hours.
func TestInteropPostgresTimeZone(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testenv.Getenv(t, testenv.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c TimeZone=Asia/Kolkata")            // UTC+05:30, no daylight saving
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads "+" as itself
	pgURL := u.String()
	nodeModulesOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	table := uniqueName("sk_express_tz_")
	store, err := pgstore.Open(ctx, pgURL, pgstore.Options{
		Table:           table,
		Layout:          pgstore.LayoutConnectPgSimple,
		UserKeyOf:       express.UserKey,
		CleanupInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.DropTable(context.Background())
		store.Close()
	})
	runInteropSuite(t, store, startNode(t, "pg", pgURL, table))
}

func TestInteropMongo(t *testing.T) {
	t.Parallel()
	mongoURL := testenv.Getenv(t, testenv.MongoURLEnv)
	nodeModulesOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	coll := uniqueName("express_")
	store, err := mongostore.Open(ctx, mongoURL, mongostore.Options{
		Database:      "sessionkit_express",
		Collection:    coll,
		Layout:        mongostore.LayoutConnectMongo,
		UserKeyOf:     express.UserKey,
		SweepInterval: -1,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Collection().Drop(context.Background())
		store.Close()
	})
	u, err := url.Parse(mongoURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/sessionkit_express"
	runInteropSuite(t, store, startNode(t, "mongo", u.String(), coll))
}

func TestInteropRedis(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Getenv(t, testenv.RedisURLEnv)
	nodeModulesOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := uniqueName("sess_") + ":"
	store, err := redisstore.NewFromURL(ctx, redisURL, redisstore.Options{
		Prefix:    prefix,
		Layout:    redisstore.LayoutConnectRedis,
		UserKeyOf: express.UserKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for e, err := range store.All(ctx) {
			if err == nil {
				store.Delete(ctx, e.Key)
			}
		}
		store.Close()
	})
	runInteropSuite(t, store, startNode(t, "redis", redisURL, prefix))
}
