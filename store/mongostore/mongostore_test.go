package mongostore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// testDatabase holds every test collection; each store gets a collection
// of its own, since packages and subtests run in parallel.
const testDatabase = "sessionkit_test"

// servers returns the URLs to run the server tests against: the throw-away
// FerretDB (required under SESSIONKIT_REQUIRE_BACKENDS) and, when set, a
// real MongoDB (optional: never required).
func servers(t *testing.T) map[string]string {
	t.Helper()
	urls := map[string]string{}
	if u := os.Getenv(testenv.RealMongoURLEnv); u != "" {
		urls["RealMongoDB"] = u
	}
	if len(urls) == 0 || os.Getenv(testenv.MongoURLEnv) != "" || testenv.Required() {
		urls["FerretDB"] = testenv.Getenv(t, testenv.MongoURLEnv)
	}
	return urls
}

func connect(t testing.TB, url string) *mongo.Client {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(url).SetServerSelectionTimeout(20 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return client
}

func uniqueName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// testStore returns a store on a fresh collection that is dropped when the
// test ends.
func testStore(t testing.TB, client *mongo.Client, opts Options) *Store {
	t.Helper()
	opts.Database = testDatabase
	if opts.Collection == "" {
		opts.Collection = uniqueName("sessions_")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Collection().Drop(ctx)
	})
	return s
}

// isFerretDBv1 asks the server whether it is FerretDB v1, which has
// neither TTL indexes nor atomic filtered updates.
func isFerretDBv1(t *testing.T, client *mongo.Client) bool {
	t.Helper()
	v, ok := ferretDBVersion(t.Context(), client)
	return ok && !strings.HasPrefix(v, "v2.")
}

func TestConformance(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			client := connect(t, url)
			storetest.Run(t, func(t *testing.T) sessionkit.Store {
				return testStore(t, client, Options{})
			})
		})
	}
}

// TestLifetime runs the client-side lifetime journeys.
func TestLifetime(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			client := connect(t, url)
			storetest.RunLifetime(t, func(t *testing.T, _ func() time.Time) *sessionkit.Manager {
				return sessionkit.New(testStore(t, client, Options{}))
			})
		})
	}
}

func TestDocumentLayout(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := testStore(t, connect(t, url), Options{})
			exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
			if _, err := s.Save(ctx, "with-user", sessionkit.Record{Data: []byte{0, 1, 2}, Expiry: exp, UserKey: "alice"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Save(ctx, "anonymous", sessionkit.Record{Data: []byte("x"), Expiry: exp}); err != nil {
				t.Fatal(err)
			}

			raw, err := s.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: "with-user"}}).Raw()
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				field string
				typ   bson.Type
			}{
				{"_id", bson.TypeString},
				{"data", bson.TypeBinary},
				{"version", bson.TypeInt64},
				{"expires", bson.TypeDateTime},
				{"user", bson.TypeString},
			}
			for _, tc := range tests {
				v, err := raw.LookupErr(tc.field)
				if err != nil {
					t.Errorf("field %s: %v (document %s)", tc.field, err, raw)
					continue
				}
				if v.Type != tc.typ {
					t.Errorf("field %s has BSON type %s, want %s", tc.field, v.Type, tc.typ)
				}
			}
			if got := raw.Lookup("expires").Time(); !got.Equal(exp) {
				t.Errorf("expires = %v, want %v", got, exp)
			}
			if sub, data := raw.Lookup("data").Binary(); sub != 0 || !bytes.Equal(data, []byte{0, 1, 2}) {
				t.Errorf("data = subtype %d %x, want subtype 0 000102", sub, data)
			}
			if got := raw.Lookup("user").StringValue(); got != "alice" {
				t.Errorf("user = %q, want alice", got)
			}

			anon, err := s.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: "anonymous"}}).Raw()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := anon.LookupErr("user"); err == nil {
				t.Errorf("a session without a user has a user field: %s", anon)
			}

			var indexes []bson.M
			cur, err := s.Collection().Indexes().List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := cur.All(ctx, &indexes); err != nil {
				t.Fatal(err)
			}
			keys := map[string]bool{}
			for _, ix := range indexes {
				switch key := ix["key"].(type) {
				case bson.D:
					for _, e := range key {
						keys[e.Key] = true
					}
				case bson.M:
					for k := range key {
						keys[k] = true
					}
				}
			}
			for _, k := range []string{"user", "expires"} {
				if !keys[k] {
					t.Errorf("no index on %s: %v", k, indexes)
				}
			}
		})
	}
}

// logRecorder is a slog.Handler that keeps the messages it is given.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}

func (h *logRecorder) contains(s string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func TestExpiryMechanism(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			client := connect(t, url)
			v1 := isFerretDBv1(t, client)
			rec := &logRecorder{}
			s := testStore(t, client, Options{Logger: slog.New(rec), SweepInterval: 50 * time.Millisecond})
			// FerretDB v1 has no TTL indexes and needs guarded writes;
			// MongoDB has TTL indexes and atomic updates.
			if s.TTL() == v1 || s.guarded != v1 {
				t.Fatalf("TTL() = %v, guarded = %v on a server that is FerretDB v1: %v", s.TTL(), s.guarded, v1)
			}
			if v1 && !rec.contains("guarding writes") {
				t.Fatalf("log %q does not say writes are guarded", rec.msgs)
			}
			want := "background sweeper"
			if s.TTL() {
				want = "TTL index"
			}
			if !rec.contains(want) {
				t.Fatalf("log %q does not say %q is in use", rec.msgs, want)
			}
			if s.TTL() {
				return // the server's TTL monitor runs once a minute: not waited for
			}

			// The sweeper deletes expired documents by itself.
			ctx := t.Context()
			past := time.Now().Add(-time.Second)
			for _, k := range []string{"a", "b", "c"} {
				if _, err := s.Save(ctx, k, sessionkit.Record{Data: []byte(k), Expiry: past}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Save(ctx, "live", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				n, err := s.Collection().CountDocuments(ctx, bson.D{{Key: "expires", Value: bson.D{{Key: "$exists", Value: true}}}})
				if err != nil {
					t.Fatal(err)
				}
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the sweeper left %d documents, want 1 (the live one)", n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSweeperDisabled(t *testing.T) {
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	rec := &logRecorder{}
	s := testStore(t, connect(t, url), Options{Logger: slog.New(rec), SweepInterval: -1})
	if s.TTL() {
		t.Skip("the server has TTL indexes: no sweeper to disable")
	}
	if !rec.contains("sweeper is disabled") {
		t.Fatalf("log %q does not say the sweeper is disabled", rec.msgs)
	}
	// Close must not wait for a sweeper that never started.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTooLarge(t *testing.T) {
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	s := testStore(t, connect(t, url), Options{})
	_, err := s.Save(t.Context(), "big", sessionkit.Record{Data: make([]byte, MaxDataSize+1), Expiry: time.Now().Add(time.Hour)})
	if !errors.Is(err, sessionkit.ErrTooLarge) {
		t.Fatalf("Save of %d bytes: error = %v, want ErrTooLarge", MaxDataSize+1, err)
	}
}

func TestEmptyUserKey(t *testing.T) {
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	s := testStore(t, connect(t, url), Options{})
	ctx := t.Context()
	if _, err := s.Save(ctx, "anon", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	entries, err := s.UserSessions(ctx, "")
	if err != nil || len(entries) != 0 {
		t.Fatalf(`UserSessions("") = %v, %v; want none: "" names no user`, entries, err)
	}
	if n, err := s.DeleteUserSessions(ctx, ""); err != nil || n != 0 {
		t.Fatalf(`DeleteUserSessions("") = %d, %v; want 0, nil`, n, err)
	}
	if _, err := s.Load(ctx, "anon"); err != nil {
		t.Fatalf("anonymous session gone after DeleteUserSessions(\"\"): %v", err)
	}
}

func TestIteratorPages(t *testing.T) {
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	s := testStore(t, connect(t, url), Options{PageSize: 3})
	ctx := t.Context()
	want := map[string]bool{}
	for i := range 10 { // 3 full pages and one short one
		k := string(rune('a' + i))
		want[k] = true
		if _, err := s.Save(ctx, k, sessionkit.Record{Data: []byte(k), Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for e, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if got[e.Key] {
			t.Fatalf("All yielded %q twice", e.Key)
		}
		got[e.Key] = true
	}
	if len(got) != len(want) {
		t.Fatalf("All yielded %d keys over pages of 3, want %d", len(got), len(want))
	}
}

func TestOpenDatabase(t *testing.T) {
	url := testenv.Getenv(t, testenv.MongoURLEnv)
	base := strings.TrimSuffix(url, "/")
	tests := []struct {
		name string
		url  string
		opts Options
		want string
	}{
		{"from the URL path", base + "/fromurl", Options{}, "fromurl"},
		{"option over URL", base + "/fromurl", Options{Database: "fromopt"}, "fromopt"},
		{"default", base + "/", Options{}, DefaultDatabase},
		{"default without slash", base, Options{}, DefaultDatabase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			tc.opts.Collection = uniqueName("open_")
			tc.opts.Logger = slog.New(slog.DiscardHandler)
			s, err := Open(ctx, tc.url, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			defer s.Collection().Database().Drop(context.Background())
			if got := s.Collection().Database().Name(); got != tc.want {
				t.Fatalf("database = %q, want %q", got, tc.want)
			}
			if got := s.Collection().Name(); got != tc.opts.Collection {
				t.Fatalf("collection = %q, want %q", got, tc.opts.Collection)
			}
		})
	}
}

func TestOpenBadURL(t *testing.T) {
	// A port nothing listens on: taken and released at once.
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		url  string
		want string // in the error message
	}{
		{"empty", "", "parse connection URL"},
		{"wrong scheme", "http://127.0.0.1:27017/", "parse connection URL"},
		{"no host", "mongodb://", "parse connection URL"},
		{"bad port", "mongodb://127.0.0.1:99999/", "parse connection URL"},
		{"bad option", "mongodb://127.0.0.1/?connectTimeoutMS=soon", "parse connection URL"},
		{"nothing listening", "mongodb://127.0.0.1:" + strconv.Itoa(port) + "/?serverSelectionTimeoutMS=500", "connect to [127.0.0.1:" + strconv.Itoa(port) + "]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, tc.url, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !strings.HasPrefix(err.Error(), "mongostore: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%q) error = %q, want a mongostore error mentioning %q", tc.url, err, tc.want)
			}
		})
	}
}

func TestNilClient(t *testing.T) {
	if _, err := New(t.Context(), nil, Options{}); err == nil {
		t.Fatal("New with a nil client succeeded")
	}
}

// TestNoCreate: with Options.NoCreate a missing collection is an error
// that wraps ErrNoCollection, and it is left missing; an existing one
// opens as usual.
func TestNoCreate(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			client := connect(t, url)
			coll := uniqueName("nocreate_")
			opts := Options{Database: testDatabase, Collection: coll, NoCreate: true, SweepInterval: -1, Logger: slog.New(slog.DiscardHandler)}
			if _, err := New(t.Context(), client, opts); !errors.Is(err, ErrNoCollection) {
				t.Fatalf("New with NoCreate on a missing collection = %v, want ErrNoCollection", err)
			}
			names, err := client.Database(testDatabase).ListCollectionNames(t.Context(), bson.D{{Key: "name", Value: coll}})
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 0 {
				t.Fatalf("New with NoCreate created %v", names)
			}
			testStore(t, client, Options{Collection: coll, SweepInterval: -1})
			s, err := New(t.Context(), client, opts)
			if err != nil {
				t.Fatalf("New with NoCreate on an existing collection: %v", err)
			}
			s.Close()
		})
	}
}
