package testenv

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestBuildFerretDBCached(t *testing.T) {
	// The runner has built the binary when it exported the variable, so
	// this costs no build; without it the test skips like the others.
	Getenv(t, MongoURLEnv)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	first, err := BuildFerretDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := BuildFerretDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatalf("second BuildFerretDB = %s, want the cached %s", second, first)
	}
	cache, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(first) != cache || !strings.HasPrefix(filepath.Base(first), "ferretdb-") {
		t.Fatalf("binary %s is not a ferretdb-<hash> file in the cache dir %s", first, cache)
	}
}

func TestStartMongoRestartKeepsData(t *testing.T) {
	Getenv(t, MongoURLEnv)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	srv, err := StartMongo(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Kill() })

	client, err := mongo.Connect(options.Client().ApplyURI(srv.URL).SetServerSelectionTimeout(30 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	coll := client.Database("testenv").Collection("restart")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "k"}, {Key: "v", Value: 1}}); err != nil {
		t.Fatalf("insert: %v", err)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Kill", srv.Addr)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		V int `bson:"v"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "k"}}).Decode(&doc); err != nil {
		t.Fatalf("find after restart: %v", err)
	}
	if doc.V != 1 {
		t.Fatalf("document after restart: v = %d, want 1", doc.V)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
}
