package mongostore

import (
	"log/slog"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func keys(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func seconds(n int32) *int32 { return &n }

// TestPlanExpiryIndex checks the decision New makes from a collection's
// index specifications.
func TestPlanExpiryIndex(t *testing.T) {
	id := mongo.IndexSpecification{Name: "_id_", KeysDocument: keys(t, bson.D{{Key: "_id", Value: int32(1)}})}
	user := mongo.IndexSpecification{Name: "user", KeysDocument: keys(t, bson.D{{Key: "user", Value: int32(1)}})}
	// What connect-mongo's autoRemove: 'native' creates:
	// createIndex({expires: 1}, {expireAfterSeconds: 0}).
	connectMongo := mongo.IndexSpecification{Name: "expires_1", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(1)}}), ExpireAfterSeconds: seconds(0)}
	tests := []struct {
		name  string
		specs []mongo.IndexSpecification
		want  expiryPlan
	}{
		{"empty collection", nil, expiryPlan{}},
		{"no index on expires", []mongo.IndexSpecification{id, user}, expiryPlan{}},
		{"connect-mongo's TTL index", []mongo.IndexSpecification{id, connectMongo}, expiryPlan{ttl: "expires_1"}},
		{"our own from an earlier start", []mongo.IndexSpecification{id, user,
			{Name: "expires_ttl", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(1)}}), ExpireAfterSeconds: seconds(0)}},
			expiryPlan{ttl: "expires_ttl"}},
		{"TTL with a delay", []mongo.IndexSpecification{
			{Name: "late", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(1)}}), ExpireAfterSeconds: seconds(3600)}},
			expiryPlan{ttl: "late", after: 3600}},
		{"shortest delay wins", []mongo.IndexSpecification{
			{Name: "late", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(-1)}}), ExpireAfterSeconds: seconds(3600)},
			{Name: "soon", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int64(1)}}), ExpireAfterSeconds: seconds(60)}},
			expiryPlan{ttl: "soon", after: 60}},
		{"descending, double", []mongo.IndexSpecification{
			{Name: "d", KeysDocument: keys(t, bson.D{{Key: "expires", Value: -1.0}}), ExpireAfterSeconds: seconds(0)}},
			expiryPlan{ttl: "d"}},
		{"plain index in the way", []mongo.IndexSpecification{id,
			{Name: "expires", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(1)}})}},
			expiryPlan{plain: "expires"}},
		{"plain and TTL: the TTL", []mongo.IndexSpecification{
			{Name: "expires_-1", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(-1)}})}, connectMongo},
			expiryPlan{ttl: "expires_1"}},
		{"negative delay is not a TTL", []mongo.IndexSpecification{
			{Name: "odd", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(1)}}), ExpireAfterSeconds: seconds(-1)}},
			expiryPlan{plain: "odd"}},
		{"compound indexes do not count", []mongo.IndexSpecification{
			{Name: "expires_1_user_1", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(1)}, {Key: "user", Value: int32(1)}}), ExpireAfterSeconds: seconds(0)},
			{Name: "user_1_expires_1", KeysDocument: keys(t, bson.D{{Key: "user", Value: int32(1)}, {Key: "expires", Value: int32(1)}})}},
			expiryPlan{}},
		{"other kinds of index do not count", []mongo.IndexSpecification{
			{Name: "expires_hashed", KeysDocument: keys(t, bson.D{{Key: "expires", Value: "hashed"}})},
			{Name: "expires_2", KeysDocument: keys(t, bson.D{{Key: "expires", Value: int32(2)}}), ExpireAfterSeconds: seconds(0)},
			{Name: "other_field", KeysDocument: keys(t, bson.D{{Key: "expiresAt", Value: int32(1)}}), ExpireAfterSeconds: seconds(0)}},
			expiryPlan{}},
		{"undecodable keys", []mongo.IndexSpecification{{Name: "bad", KeysDocument: bson.Raw{1, 2, 3}, ExpireAfterSeconds: seconds(0)}}, expiryPlan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planExpiryIndex(tt.specs); got != tt.want {
				t.Errorf("planExpiryIndex = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestExistingExpiryIndex opens the store on collections that already
// have an index on expires, as a collection shared with connect-mongo
// does: a TTL index there is adopted (no second index, no sweeper); a
// plain one leaves the store sweeping, and the log says why.
func TestExistingExpiryIndex(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			client := connect(t, url)
			ctx := t.Context()
			for layout, lname := range map[Layout]string{LayoutConnectMongo: "connect-mongo", LayoutNative: "native"} {
				t.Run(lname+"/plain", func(t *testing.T) {
					coll := client.Database(testDatabase).Collection(uniqueName("sessions_"))
					t.Cleanup(func() { coll.Drop(ctx) })
					if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetName("expires_1")}); err != nil {
						t.Fatal(err)
					}
					rec := &logRecorder{}
					s := testStore(t, client, Options{Collection: coll.Name(), Layout: layout, Logger: slog.New(rec), SweepInterval: -1})
					if s.TTL() || s.TTLIndex() != "" {
						t.Fatalf("TTL() = %v, TTLIndex() = %q with a plain index on expires", s.TTL(), s.TTLIndex())
					}
					if !rec.contains("no TTL index on the expiry") {
						t.Errorf("log %q", rec.msgs)
					}
					// MongoDB: the plain index is in the way; FerretDB v1:
					// the server has no TTL indexes at all.
					want := []string{`"expires_1"`, "drop that index"}
					if isFerretDBv1(t, client) {
						want = []string{"the server refused the TTL index", "NotImplemented"}
					}
					for _, w := range want {
						if s.noTTL == nil || !strings.Contains(s.noTTL.Error(), w) {
							t.Errorf("reason %v does not say %q", s.noTTL, w)
						}
					}
					if n := expiryIndexes(t, coll); n != 1 {
						t.Errorf("%d indexes on expires, want the existing one only", n)
					}
				})
				t.Run(lname+"/ttl", func(t *testing.T) {
					coll := client.Database(testDatabase).Collection(uniqueName("sessions_"))
					t.Cleanup(func() { coll.Drop(ctx) })
					// connect-mongo's index.
					_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(0)})
					if isFerretDBv1(t, client) {
						if err == nil {
							t.Fatal("FerretDB v1 created a TTL index")
						}
						t.Skipf("the server has no TTL indexes (%v): covered by TestPlanExpiryIndex; set %s to run it on MongoDB", err, "SESSIONKIT_REAL_MONGO_URL")
					}
					if err != nil {
						t.Fatal(err)
					}
					rec := &logRecorder{}
					s := testStore(t, client, Options{Collection: coll.Name(), Layout: layout, Logger: slog.New(rec)})
					if !s.TTL() || s.TTLIndex() != "expires_1" {
						t.Fatalf("TTL() = %v, TTLIndex() = %q, want connect-mongo's expires_1 adopted", s.TTL(), s.TTLIndex())
					}
					if !rec.contains("TTL index") || s.sweeper != nil {
						t.Errorf("log %q, sweeper %v: want the TTL index in use and no sweeper", rec.msgs, s.sweeper)
					}
					if n := expiryIndexes(t, coll); n != 1 {
						t.Errorf("%d indexes on expires, want connect-mongo's only", n)
					}
				})
			}
		})
	}
}

func expiryIndexes(t *testing.T, coll *mongo.Collection) int {
	t.Helper()
	specs, err := coll.Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range specs {
		if strings.Contains(s.KeysDocument.String(), `"expires"`) {
			n++
		}
	}
	return n
}
