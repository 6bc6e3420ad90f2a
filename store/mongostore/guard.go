package mongostore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Guarded writes, for servers whose filtered updates are not atomic.
//
// FerretDB v1 carries out an update, replace or delete with a filter as a
// query followed by a write by _id, so two writers whose filters both
// match version v can both write: a lost update. Its inserts are atomic,
// though (the _id is a unique key). In guarded mode every write that
// depends on a document's version v first inserts a claim document with
// an _id made of the key and v, and deletes it when done. Only one writer
// at a time holds the claim on (key, v), and all of them filter on
// version v, so while one holds it nobody else can change the document.
// A claim whose holder died is broken after claimLease.

// claimLease is how long a claim holds before another writer may break it.
const claimLease = time.Minute

// claimPrefix starts every claim _id. Session keys are printable ASCII,
// so no key can start with it.
const claimPrefix = "\x01claim\x01"

// fieldClaimed is the claim time; only claim documents have it.
const fieldClaimed = "claimed"

type claimDoc struct {
	ID      string    `bson:"_id"`
	Claimed time.Time `bson:"claimed"`
}

func claimID(key string, version int64) string {
	return claimPrefix + key + "\x01" + strconv.FormatInt(version, 10)
}

// ferretDBVersion returns the FerretDB version the server reports, and
// whether it is FerretDB at all.
func ferretDBVersion(ctx context.Context, client *mongo.Client) (string, bool) {
	raw, err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		return "", false
	}
	v, err := raw.LookupErr("ferretdbVersion")
	if err != nil {
		return "", false
	}
	s, _ := v.StringValueOK()
	return s, true
}

// claim takes the claim on version of key and returns the function that
// releases it. It returns errClaimed while another writer holds it.
func (s *Store) claim(ctx context.Context, key string, version int64) (release func(), err error) {
	id := claimID(key, version)
	for broken := false; ; broken = true {
		now := time.Now()
		_, err := s.coll.InsertOne(ctx, claimDoc{ID: id, Claimed: now})
		if err == nil {
			return func() { s.release(ctx, id) }, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, err
		}
		if broken {
			return nil, errClaimed
		}
		// Break the claim if its holder has been gone for a lease.
		res, err := s.coll.DeleteOne(ctx, bson.D{
			{Key: "_id", Value: id},
			{Key: fieldClaimed, Value: bson.D{{Key: "$lt", Value: now.Add(-claimLease)}}},
		})
		if err != nil {
			return nil, err
		}
		if res.DeletedCount == 0 {
			return nil, errClaimed
		}
	}
}

// release deletes a claim, even when ctx has been cancelled meanwhile. A
// claim that cannot be deleted lapses after claimLease.
func (s *Store) release(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		s.logger.Warn("mongostore: release claim (it lapses by itself)", "collection", s.coll.Name(), "err", err, "lease", claimLease)
	}
}

// waitClaim pauses before another try at a claim that is held.
func waitClaim(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Millisecond):
		return nil
	}
}

var stateProjection = options.FindOne().SetProjection(bson.D{
	{Key: fieldVersion, Value: 1},
	{Key: fieldExpires, Value: 1},
	{Key: fieldUser, Value: 1},
})

// state reads the version, expiry and user of the document under key.
func (s *Store) state(ctx context.Context, key string) (*document, error) {
	var cur document
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}, stateProjection).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &cur, nil
}

// versionIs is the filter for a document state read with version v. A
// document without a version field (one this store did not write, such as
// connect-mongo's in a shared collection) reads as version 0, and must be
// matched as such: a filter on version 0 matches no document, and
// deleteGuarded would retry it forever.
func versionIs(v int64) bson.E {
	if v == 0 {
		return bson.E{Key: fieldVersion, Value: bson.D{{Key: "$exists", Value: false}}}
	}
	return bson.E{Key: fieldVersion, Value: v}
}

// createGuarded inserts doc, or replaces an expired document under its key
// while holding the claim on that document's version.
func (s *Store) createGuarded(ctx context.Context, doc *document) error {
	for range 5 {
		_, err := s.coll.InsertOne(ctx, doc)
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return err
		}
		cur, err := s.state(ctx, doc.Key)
		if err != nil {
			return err
		}
		if cur == nil {
			continue // deleted meanwhile: insert again
		}
		if cur.Expires.After(time.Now()) {
			return errLive
		}
		release, err := s.claim(ctx, doc.Key, cur.Version)
		if err != nil {
			return err
		}
		res, err := s.coll.ReplaceOne(ctx, bson.D{
			{Key: "_id", Value: doc.Key},
			versionIs(cur.Version),
			{Key: fieldExpires, Value: expired(time.Now())},
		}, doc)
		release()
		if err != nil {
			return err
		}
		if res.MatchedCount == 1 {
			return nil
		}
		// Deleted meanwhile: look again.
	}
	return errLive
}

// updateGuarded is update while holding the claim on version old.
func (s *Store) updateGuarded(ctx context.Context, old int64, doc *document) error {
	release, err := s.claim(ctx, doc.Key, old)
	if err != nil {
		return err
	}
	defer release()
	return s.update(ctx, old, doc)
}

// touchGuarded sets the expiry of the live document under key while
// holding the claim on its version. When another writer holds that claim,
// the touch is ordered before that write, which sets its own expiry (or
// deletes the document), and so has nothing left to do.
func (s *Store) touchGuarded(ctx context.Context, key string, expiry time.Time) error {
	cur, err := s.state(ctx, key)
	if err != nil {
		return err
	}
	if cur == nil || !cur.Expires.After(time.Now()) {
		return errNotFound
	}
	release, err := s.claim(ctx, key, cur.Version)
	if errors.Is(err, errClaimed) {
		return nil
	}
	if err != nil {
		return err
	}
	defer release()
	// No match means the document expired in between: the touch came too
	// late, as it would have a moment later.
	_, err = s.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: key}, versionIs(cur.Version), {Key: fieldExpires, Value: live(time.Now())}},
		bson.D{{Key: "$set", Value: bson.D{{Key: fieldExpires, Value: expiry}}}},
	)
	return err
}

// deleteGuarded deletes the document under key, if cond (nil: always)
// holds for it, while holding the claim on its version. It reports whether
// it deleted a document and whether that one was live.
func (s *Store) deleteGuarded(ctx context.Context, key string, cond func(*document) bool) (wasLive, deleted bool, err error) {
	for {
		cur, err := s.state(ctx, key)
		if err != nil || cur == nil || (cond != nil && !cond(cur)) {
			return false, false, err
		}
		release, err := s.claim(ctx, key, cur.Version)
		if errors.Is(err, errClaimed) {
			if err := waitClaim(ctx); err != nil {
				return false, false, err
			}
			continue
		}
		if err != nil {
			return false, false, err
		}
		res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, versionIs(cur.Version)})
		release()
		if err != nil {
			return false, false, err
		}
		if res.DeletedCount == 1 {
			return cur.Expires.After(time.Now()), true, nil
		}
		// Changed meanwhile: look again.
	}
}

// deleteManyGuarded deletes, one by one with deleteGuarded, the documents
// that match filter and for which cond holds when their turn comes. It
// returns how many live documents it deleted and how many in all.
func (s *Store) deleteManyGuarded(ctx context.Context, filter bson.D, cond func(*document) bool) (liveN, all int, err error) {
	var after *string
	for {
		f := filter
		if after != nil {
			f = append(f[:len(f):len(f)], bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: *after}}})
		}
		cur, err := s.coll.Find(ctx, f, options.Find().
			SetProjection(bson.D{{Key: "_id", Value: 1}}).
			SetSort(bson.D{{Key: "_id", Value: 1}}).
			SetLimit(int64(s.pageSize)))
		if err != nil {
			return liveN, all, err
		}
		var page []struct {
			Key string `bson:"_id"`
		}
		if err := cur.All(ctx, &page); err != nil {
			return liveN, all, err
		}
		for _, d := range page {
			wasLive, deleted, err := s.deleteGuarded(ctx, d.Key, cond)
			if err != nil {
				return liveN, all, err
			}
			if deleted {
				all++
				if wasLive {
					liveN++
				}
			}
		}
		if len(page) < s.pageSize {
			return liveN, all, nil
		}
		after = &page[len(page)-1].Key
	}
}

// deleteStaleClaims deletes claims whose holders are gone.
func (s *Store) deleteStaleClaims(ctx context.Context, now time.Time) error {
	_, err := s.coll.DeleteMany(ctx, bson.D{{Key: fieldClaimed, Value: bson.D{{Key: "$lt", Value: now.Add(-claimLease)}}}})
	return err
}
