package storeurl_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

func TestLayoutOption(t *testing.T) {
	tests := []struct {
		url, want, err string
	}{
		{"redis://h/0", "", ""},
		{"redis://h/0?layout=native", "", ""},
		{"redis://h/0?layout=connect-redis&prefix=app:", storeurl.LayoutConnectRedis, ""},
		{"redis+cluster://h1:7000,h2:7000?layout=connect-redis", storeurl.LayoutConnectRedis, ""},
		{"postgres://u@db/app?layout=connect-pg-simple", storeurl.LayoutConnectPgSimple, ""},
		{"postgresql://u@db/app?layout=connect-pg-simple&table=s.session", storeurl.LayoutConnectPgSimple, ""},
		{"mongodb://db/app?layout=connect-mongo&collection=sessions", storeurl.LayoutConnectMongo, ""},
		{"redis://h/0?layout=connect-mongo", "", `layout="connect-mongo": want native or connect-redis`},
		{"postgres://u@db/app?layout=connect-redis", "", "want native or connect-pg-simple"},
		{"mongodb://db/app?layout=Connect-Mongo", "", "want native or connect-mongo"},
		{"bolt://x.db?layout=native", "", `unknown option "layout"`},
		{"postgres://u:" + secret + "@db/app?layout=x", "", "want native or connect-pg-simple"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := storeurl.Layout(tt.url)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Layout = %q, %v; want %q", got, err, tt.want)
				}
				if err := storeurl.Check(tt.url); err != nil {
					t.Fatalf("Check = %v", err)
				}
				return
			}
			if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Layout = %q, %v; want ErrBadURL with %q", got, err, tt.err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error shows the password: %v", err)
			}
			if err := storeurl.Check(tt.url); !errors.Is(err, storeurl.ErrBadURL) {
				t.Fatalf("Check = %v, want ErrBadURL", err)
			}
		})
	}
}

// expressRecord is a session as express-session and Passport store it.
func expressRecord(user string) sessionkit.Record {
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	data := `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp.UTC().Format("2006-01-02T15:04:05.000Z") +
		`","httpOnly":true,"path":"/"},"passport":{"user":` + user + `},"n":1}`
	return sessionkit.Record{Data: []byte(data), Expiry: exp}
}

// expressRoundTrip saves an express-session record under a raw ID through
// s and checks that raw, which reads the backend directly, finds it in the
// Node store's layout; the owner is Passport's user.
func expressRoundTrip(t *testing.T, s sessionkit.Store, raw func(id string) (string, error)) {
	t.Helper()
	ctx := context.Background()
	id := unique("sid")
	rec := expressRecord("42")
	if _, err := s.Save(ctx, id, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, id)
	if err != nil || string(got.Data) != string(rec.Data) || got.UserKey != "42" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	stored, err := raw(id)
	if err != nil || stored != string(rec.Data) {
		t.Fatalf("the Node store's layout holds %q (%v), want %q", stored, err, rec.Data)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func TestOpenExpressLayouts(t *testing.T) {
	ctx := context.Background()
	t.Run("connect-redis", func(t *testing.T) {
		base := testenv.Getenv(t, testenv.RedisURLEnv)
		prefix := unique("sess") + ":"
		s, err := storeurl.Open(ctx, base+"?layout=connect-redis&prefix="+url.QueryEscape(prefix), storeurl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		client := s.(*redisstore.Store).Client()
		expressRoundTrip(t, s, func(id string) (string, error) { return client.Get(ctx, prefix+id).Result() })
	})
	t.Run("connect-pg-simple", func(t *testing.T) {
		base := testenv.Getenv(t, testenv.PostgresURLEnv)
		table := unique("storeurl_cps_")
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		s, err := storeurl.Open(ctx, base+sep+"layout=connect-pg-simple&table="+table, storeurl.Options{NoSweeper: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ps := s.(*pgstore.Store)
		defer ps.DropTable(ctx)
		expressRoundTrip(t, s, func(id string) (string, error) {
			var sess string
			err := ps.Pool().QueryRow(ctx, `SELECT sess::text FROM "`+table+`" WHERE sid = $1`, id).Scan(&sess)
			return sess, err
		})
	})
	t.Run("connect-mongo", func(t *testing.T) {
		base := testenv.Getenv(t, testenv.MongoURLEnv)
		coll := unique("storeurl_cm_")
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		s, err := storeurl.Open(ctx, base+sep+"layout=connect-mongo&collection="+coll, storeurl.Options{NoSweeper: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ms := s.(*mongostore.Store)
		defer ms.Collection().Drop(ctx)
		expressRoundTrip(t, s, func(id string) (string, error) {
			var doc struct {
				Session string `bson:"session"`
			}
			err := ms.Collection().FindOne(ctx, map[string]string{"_id": id}).Decode(&doc)
			return doc.Session, err
		})
	})
}
