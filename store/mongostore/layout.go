package mongostore

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/sessionkit"
)

// Layout is a document layout.
type Layout int

const (
	// LayoutNative is the store's own document (see the package
	// documentation): versioned records with a per-user index.
	LayoutNative Layout = iota
	// LayoutConnectMongo is connect-mongo's document
	// {_id: <session ID>, session: "<JSON string>", expires: <date>}, for
	// sharing sessions with an Express app (connect-mongo's default
	// stringify: true; see compat/express). Record.Data is the session
	// string, and the version is a hash of it. See the package
	// documentation for what this layout cannot do.
	LayoutConnectMongo
)

const fieldSession = "session"

// hashVersion is the version of a record in a hashed layout: the first 8
// bytes of the MD5 of its data, never 0.
func hashVersion(data []byte) uint64 {
	sum := md5.Sum(data)
	return max(binary.BigEndian.Uint64(sum[:8]), 1)
}

type cmDocument struct {
	Key     string    `bson:"_id"`
	Session string    `bson:"session"`
	Expires time.Time `bson:"expires"`
}

func (s *Store) cmEntry(d *cmDocument) sessionkit.Entry {
	rec := sessionkit.Record{Data: []byte(d.Session), Expiry: d.Expires}
	rec.Version = hashVersion(rec.Data)
	if s.userKeyOf != nil {
		rec.UserKey = s.userKeyOf(rec.Data)
	}
	return sessionkit.Entry{Key: d.Key, Record: rec}
}

func (s *Store) cmFind(ctx context.Context, key string) (*cmDocument, error) {
	var doc cmDocument
	err := s.coll.FindOne(ctx, bson.D{
		{Key: "_id", Value: key},
		{Key: fieldExpires, Value: live(time.Now())},
	}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, sessionkit.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &doc, nil
}

func (s *Store) cmLoad(ctx context.Context, key string) (sessionkit.Record, error) {
	doc, err := s.cmFind(ctx, key)
	if errors.Is(err, sessionkit.ErrNotFound) {
		return sessionkit.Record{}, err
	}
	if err != nil {
		return sessionkit.Record{}, fmt.Errorf("mongostore: load %s: %w", key, err)
	}
	return s.cmEntry(doc).Record, nil
}

// cmSave is Save for LayoutConnectMongo. A new session is an upsert that
// matches only an expired document (a live one makes it fail on the
// duplicate _id). An update reads the stored session string, checks its
// hash against rec.Version, and replaces it with a write filtered on that
// exact string, so a change made in between (by either side) is a
// conflict.
func (s *Store) cmSave(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if len(rec.Data) > MaxDataSize {
		return 0, fmt.Errorf("mongostore: save %s: %d bytes: %w", key, len(rec.Data), sessionkit.ErrTooLarge)
	}
	set := bson.D{{Key: "$set", Value: bson.D{
		{Key: fieldSession, Value: string(rec.Data)},
		{Key: fieldExpires, Value: rec.Expiry},
	}}}
	now := time.Now()
	if rec.Version == 0 {
		_, err := s.coll.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: key}, {Key: fieldExpires, Value: expired(now)}},
			set, options.UpdateOne().SetUpsert(true))
		if mongo.IsDuplicateKeyError(err) {
			return 0, fmt.Errorf("mongostore: save %s: %w", key, errLive)
		}
		if err != nil {
			return 0, fmt.Errorf("mongostore: save %s: %w", key, err)
		}
		return hashVersion(rec.Data), nil
	}
	cur, err := s.cmFind(ctx, key)
	if errors.Is(err, sessionkit.ErrNotFound) {
		return 0, fmt.Errorf("mongostore: save %s: %w", key, errVersion)
	}
	if err != nil {
		return 0, fmt.Errorf("mongostore: save %s: %w", key, err)
	}
	if hashVersion([]byte(cur.Session)) != rec.Version {
		return 0, fmt.Errorf("mongostore: save %s: %w", key, errVersion)
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{
		{Key: "_id", Value: key},
		{Key: fieldSession, Value: cur.Session},
		{Key: fieldExpires, Value: live(now)},
	}, set)
	if err != nil {
		return 0, fmt.Errorf("mongostore: save %s: %w", key, err)
	}
	if res.MatchedCount == 0 {
		return 0, fmt.Errorf("mongostore: save %s: %w", key, errVersion)
	}
	return hashVersion(rec.Data), nil
}

func (s *Store) cmAll(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	return allPages(ctx, s, func(d *cmDocument) string { return d.Key }, s.cmEntry)
}

var errNoIndex = fmt.Errorf("mongostore: the connect-mongo layout has no per-user index: %w", sessionkit.ErrNotSupported)
