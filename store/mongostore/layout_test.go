package mongostore

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/sessionkit"
)

func TestConnectMongoLayout(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			s := testStore(t, connect(t, url), Options{
				Layout:        LayoutConnectMongo,
				SweepInterval: -1,
				UserKeyOf:     func(data []byte) string { return string(data[len(data)-3 : len(data)-2]) },
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
			data := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"u":"a"}`

			v1, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Expiry: exp})
			if err != nil || v1 == 0 {
				t.Fatalf("create: %d, %v", v1, err)
			}
			if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Expiry: exp}); !errors.Is(err, sessionkit.ErrConflict) {
				t.Fatalf("second create: %v, want ErrConflict", err)
			}
			// The document is connect-mongo's.
			var doc bson.M
			if err := s.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: "sid1"}}).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if doc["session"] != data || len(doc) != 3 {
				t.Fatalf("document = %v", doc)
			}
			if d, ok := doc["expires"].(bson.DateTime); !ok || !d.Time().Equal(exp) {
				t.Fatalf("expires = %#v", doc["expires"])
			}
			rec, err := s.Load(ctx, "sid1")
			if err != nil || string(rec.Data) != data || rec.Version != v1 || !rec.Expiry.Equal(exp) || rec.UserKey != "a" {
				t.Fatalf("Load = %+v, %v", rec, err)
			}
			// Another writer (the Node app) replaces the session.
			other := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"u":"b"}`
			if _, err := s.Collection().UpdateOne(ctx, bson.D{{Key: "_id", Value: "sid1"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "session", Value: other}}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(`{"cookie":{},"x":"1"}`), Version: v1, Expiry: exp}); !errors.Is(err, sessionkit.ErrConflict) {
				t.Fatalf("stale save: %v, want ErrConflict", err)
			}
			rec, _ = s.Load(ctx, "sid1")
			if rec.UserKey != "b" {
				t.Fatalf("UserKey = %q", rec.UserKey)
			}
			v2, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(`{"cookie":{},"x":"1"}`), Version: rec.Version, Expiry: exp})
			if err != nil || v2 == rec.Version {
				t.Fatalf("save: %d, %v", v2, err)
			}
			exp2 := exp.Add(time.Hour)
			if err := s.Touch(ctx, "sid1", exp2); err != nil {
				t.Fatal(err)
			}
			if rec, _ = s.Load(ctx, "sid1"); !rec.Expiry.Equal(exp2) || rec.Version != v2 {
				t.Fatalf("after touch: %+v", rec)
			}
			n := 0
			for e, err := range s.All(ctx) {
				if err != nil || e.Key != "sid1" {
					t.Fatalf("All: %+v, %v", e, err)
				}
				n++
			}
			if n != 1 {
				t.Fatalf("All yielded %d", n)
			}
			if _, err := s.UserSessions(ctx, "a"); !errors.Is(err, sessionkit.ErrNotSupported) {
				t.Fatalf("UserSessions: %v", err)
			}
			if err := s.Touch(ctx, "sid1", time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(ctx, "sid1"); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("expired Load: %v", err)
			}
			if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Expiry: exp}); err != nil {
				t.Fatalf("create over an expired document: %v", err)
			}
			if err := s.Delete(ctx, "sid1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(ctx, "sid1"); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("deleted Load: %v", err)
			}
		})
	}
}
