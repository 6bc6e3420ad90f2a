package mongostore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sweeper"
)

// Defaults for [Options].
const (
	DefaultDatabase      = "sessionkit"
	DefaultCollection    = "sessions"
	DefaultSweepInterval = time.Minute
	DefaultPageSize      = 500
)

// MaxDataSize is the largest Record.Data a Store accepts. MongoDB limits a
// document to 16 MiB; the rest of the document needs well under the 64 KiB
// kept free. Larger records are refused with sessionkit.ErrTooLarge.
const MaxDataSize = 16<<20 - 64<<10

// Document field names. The key is the document's _id.
const (
	fieldData    = "data"    // BSON binary
	fieldVersion = "version" // int64
	fieldExpires = "expires" // BSON date
	fieldUser    = "user"    // string, absent when the session has no user
)

// sweepTimeout bounds one run of the background sweeper.
const sweepTimeout = 5 * time.Minute

// ErrNoCollection is returned (wrapped) by Open and New with
// Options.NoCreate when the collection does not exist.
var ErrNoCollection = errors.New("collection does not exist")

// Index names the store creates.
const (
	indexExpires = "expires_ttl"
	indexUser    = "user"
)

// Options configures a [Store]. The zero value is usable.
type Options struct {
	// Database holds the collection. Open takes it from the URL path
	// when this is empty; the default is DefaultDatabase.
	Database string

	// Collection is the session collection. Default DefaultCollection.
	Collection string

	// SweepInterval is how often the background sweeper deletes expired
	// documents. The sweeper runs only when the server cannot create a
	// TTL index (FerretDB v1, for one); with a TTL index the server
	// deletes expired documents itself. Zero means DefaultSweepInterval;
	// a negative value disables the sweeper, for deployments that call
	// DeleteExpired from cron or the CLI instead.
	SweepInterval time.Duration

	// PageSize is how many documents one query of All fetches. Default
	// DefaultPageSize.
	PageSize int

	// NoCreate makes Open and New fail with an error that wraps
	// ErrNoCollection when the collection does not exist, instead of
	// creating it (with its indexes). An existing collection still gets
	// the store's indexes. Tools that only inspect a store set it.
	NoCreate bool

	// Logger receives which expiry mechanism is in use and the sweeper's
	// errors. Default slog.Default().
	Logger *slog.Logger

	// Layout selects the document layout: LayoutNative (the default) or
	// LayoutConnectMongo, connect-mongo's documents, for sharing sessions
	// with an Express app (see compat/express).
	Layout Layout

	// UserKeyOf, with LayoutConnectMongo, derives a loaded record's
	// UserKey from its data, since that layout does not store it (for
	// example compat/express's UserKey, which reads Passport's user).
	UserKeyOf func(data []byte) string
}

// Store is a sessionkit.Store backed by a MongoDB collection. It also
// implements sessionkit.UserIndex, sessionkit.Iterator, sessionkit.Sweeper
// and sessionkit.Closer. It is safe for concurrent use.
type Store struct {
	client     *mongo.Client
	ownsClient bool
	coll       *mongo.Collection
	pageSize   int
	logger     *slog.Logger
	ttl        bool   // the server deletes expired documents (TTL index)
	ttlIndex   string // the TTL index's name: ours, or one found (connect-mongo's)
	ttlAfter   int32  // its expireAfterSeconds
	noTTL      error  // why there is no TTL index
	guarded    bool   // writes take claims: the server's filtered updates are not atomic
	sweeper    *sweeper.Loop
	closeOnce  sync.Once
	closeErr   error
	layout     Layout
	userKeyOf  func([]byte) string
}

var (
	_ sessionkit.Store     = (*Store)(nil)
	_ sessionkit.UserIndex = (*Store)(nil)
	_ sessionkit.Iterator  = (*Store)(nil)
	_ sessionkit.Sweeper   = (*Store)(nil)
	_ sessionkit.Closer    = (*Store)(nil)
)

// document is the stored form of a session.
type document struct {
	Key     string    `bson:"_id"`
	Data    []byte    `bson:"data"`
	Version int64     `bson:"version"`
	Expires time.Time `bson:"expires"`
	User    string    `bson:"user,omitempty"`
}

func (d *document) entry() sessionkit.Entry {
	data := d.Data
	if data == nil {
		data = []byte{}
	}
	return sessionkit.Entry{Key: d.Key, Record: sessionkit.Record{
		Data:    data,
		Version: uint64(d.Version),
		Expiry:  d.Expires,
		UserKey: d.User,
	}}
}

// New returns a Store that keeps sessions in a collection reached through
// client. The caller keeps ownership of the client: Close stops the
// store's sweeper but does not disconnect it.
//
// New creates the store's indexes (an index on the user key, and a TTL
// index on the expiry unless a compatible one is there already; where
// there can be none it starts the background sweeper) and logs which
// expiry mechanism is in use and why.
func New(ctx context.Context, client *mongo.Client, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("mongostore: nil client")
	}
	return newStore(ctx, client, false, opts)
}

// Open connects to the MongoDB server at url (a mongodb:// or
// mongodb+srv:// connection string) and returns a Store that owns the
// client: Close disconnects it. The database is opts.Database, else the
// one named in the URL path (mongodb://host/dbname), else
// DefaultDatabase. Open checks that the server answers before it returns.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cs, err := connstring.ParseAndValidate(url)
	if err != nil {
		return nil, fmt.Errorf("mongostore: parse connection URL: %w", err)
	}
	if opts.Database == "" {
		opts.Database = cs.Database
	}
	client, err := mongo.Connect(options.Client().ApplyURI(url))
	if err != nil {
		return nil, fmt.Errorf("mongostore: open: %w", err)
	}
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongostore: connect to %v: %w", cs.Hosts, err)
	}
	s, err := newStore(ctx, client, true, opts)
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

func newStore(ctx context.Context, client *mongo.Client, owns bool, opts Options) (*Store, error) {
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	if opts.Collection == "" {
		opts.Collection = DefaultCollection
	}
	s := &Store{
		client:     client,
		ownsClient: owns,
		coll:       client.Database(opts.Database).Collection(opts.Collection),
		pageSize:   opts.PageSize,
		logger:     opts.Logger,
		layout:     opts.Layout,
		userKeyOf:  opts.UserKeyOf,
	}
	if s.pageSize <= 0 {
		s.pageSize = DefaultPageSize
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	name := opts.Database + "." + opts.Collection
	if opts.NoCreate {
		names, err := s.coll.Database().ListCollectionNames(ctx, bson.D{{Key: "name", Value: opts.Collection}})
		if err != nil {
			return nil, fmt.Errorf("mongostore: look up collection %s: %w", name, err)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("mongostore: %s: %w", name, ErrNoCollection)
		}
	}
	if err := s.createIndexes(ctx); err != nil {
		return nil, err
	}

	if v, ok := ferretDBVersion(ctx, client); ok && !strings.HasPrefix(v, "v2.") && s.layout == LayoutNative {
		// FerretDB v2 runs on DocumentDB, whose updates are atomic; v1
		// (which may also report "unknown") is not.
		s.guarded = true
		s.logger.Info("mongostore: FerretDB v1 does not apply filtered updates atomically; guarding writes with claim documents", "collection", name, "ferretdb", v)
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	switch {
	case s.ttl:
		s.logger.Info("mongostore: expired sessions are deleted by the server (TTL index)", "collection", name, "index", s.ttlIndex, "expire_after_seconds", s.ttlAfter)
	case interval < 0:
		s.logger.Info("mongostore: no TTL index on the expiry and the sweeper is disabled; call DeleteExpired to delete expired sessions", "collection", name, "reason", s.noTTL)
	default:
		s.logger.Info("mongostore: no TTL index on the expiry; expired sessions are deleted by a background sweeper", "collection", name, "interval", interval, "reason", s.noTTL)
	}
	if s.ttl || interval < 0 {
		return s, nil
	}
	s.sweeper = sweeper.Start(sweeper.Config{
		Interval: interval,
		Jitter:   0.2,
		// Not bounded by a short timeout: FerretDB v1 can be left
		// answering "interrupted" after many operations cancelled mid-way.
		Timeout: sweepTimeout,
		Sweep:   s.DeleteExpired,
		Report: func(n int, err error) {
			switch {
			case err != nil:
				s.logger.Warn("mongostore: sweep expired sessions", "collection", s.coll.Name(), "err", err)
			case n > 0:
				s.logger.Debug("mongostore: swept expired sessions", "collection", s.coll.Name(), "deleted", n)
			}
		},
	})
	return s, nil
}

// createIndexes creates the user-key index and settles how expired
// documents go: through a TTL index on the expiry already there (such as
// connect-mongo's own "expires_1"), one it creates, or — when the server
// refuses TTL indexes, or a plain index on the expiry is in the way — the
// sweeper. It sets s.ttl, s.ttlIndex and, without a TTL index, s.noTTL.
func (s *Store) createIndexes(ctx context.Context) error {
	_, err := s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: fieldUser, Value: 1}},
		Options: options.Index().SetName(indexUser),
	})
	if err != nil {
		return fmt.Errorf("mongostore: create index %s on %s: %w", indexUser, s.coll.Name(), err)
	}
	plan, err := s.expiryPlan(ctx)
	if err != nil {
		return err
	}
	if plan.ttl != "" {
		s.ttl, s.ttlIndex, s.ttlAfter = true, plan.ttl, plan.after
		return nil
	}
	_, err = s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: fieldExpires, Value: 1}},
		Options: options.Index().SetName(indexExpires).SetExpireAfterSeconds(0),
	})
	var cmdErr mongo.CommandError
	switch {
	case err == nil:
		s.ttl, s.ttlIndex = true, indexExpires
		return nil
	case errors.As(err, &cmdErr) && (cmdErr.Code == codeIndexOptionsConflict || cmdErr.Code == codeIndexKeySpecsConflict):
		// An index on the same keys is in the way, or another process
		// (connect-mongo, another instance) created one since we looked.
		if plan, lerr := s.expiryPlan(ctx); lerr != nil {
			return lerr
		} else if plan.ttl != "" {
			s.ttl, s.ttlIndex, s.ttlAfter = true, plan.ttl, plan.after
		} else if plan.plain != "" {
			s.noTTL = fmt.Errorf("the collection has an index on %s without expireAfterSeconds (%q), and a TTL index cannot be added beside it; drop that index to let the server delete expired sessions (%w)", fieldExpires, plan.plain, err)
		} else {
			s.noTTL = fmt.Errorf("the TTL index %q could not be created: %w", indexExpires, err)
		}
		return nil
	case errors.As(err, &cmdErr) && !mongo.IsNetworkError(err) && !mongo.IsTimeout(err):
		// The server answered no (FerretDB v1 says NotImplemented).
		// Reads filter on the expiry anyway, so sweeping is enough.
		s.noTTL = fmt.Errorf("the server refused the TTL index: %w", err)
		if plan.plain != "" {
			return nil
		}
		// Reads and the sweeper still want an index on the expiry.
		_, err = s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: fieldExpires, Value: 1}},
			Options: options.Index().SetName("expires"),
		})
		if err != nil && (!errors.As(err, &cmdErr) || mongo.IsNetworkError(err) || mongo.IsTimeout(err)) {
			return fmt.Errorf("mongostore: create index on %s.%s: %w", s.coll.Name(), fieldExpires, err)
		}
		return nil
	default:
		return fmt.Errorf("mongostore: create TTL index on %s: %w", s.coll.Name(), err)
	}
}

// expiryPlan lists the collection's indexes and plans the expiry index.
func (s *Store) expiryPlan(ctx context.Context) (expiryPlan, error) {
	specs, err := s.coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return expiryPlan{}, fmt.Errorf("mongostore: list indexes of %s: %w", s.coll.Name(), err)
	}
	return planExpiryIndex(specs), nil
}

// Server error codes createIndexes tells apart.
const (
	codeIndexOptionsConflict  = 85 // the same keys exist under another name or options
	codeIndexKeySpecsConflict = 86 // the name exists with other keys
)

// expiryPlan is what planExpiryIndex found among a collection's indexes.
type expiryPlan struct {
	ttl   string // an existing TTL index on the expiry alone, to use
	after int32  // its expireAfterSeconds
	plain string // else an existing index on the expiry alone without a TTL
}

// planExpiryIndex looks for an index on the expiry field alone (ascending
// or descending). A TTL index there is compatible whatever its
// expireAfterSeconds — reads filter expired documents anyway, so a delay
// only keeps them on disk longer — and the one with the shortest delay
// wins. A plain one means a TTL index on the same keys cannot be created.
// Neither means the store creates its own.
func planExpiryIndex(specs []mongo.IndexSpecification) expiryPlan {
	var p expiryPlan
	for _, spec := range specs {
		if !onExpiryAlone(spec.KeysDocument) {
			continue
		}
		if after := spec.ExpireAfterSeconds; after != nil && *after >= 0 {
			if p.ttl == "" || *after < p.after {
				p.ttl, p.after = spec.Name, *after
			}
			continue
		}
		if p.plain == "" {
			p.plain = spec.Name
		}
	}
	if p.ttl != "" {
		p.plain = ""
	}
	return p
}

// onExpiryAlone reports whether an index's key document is {expires: 1}
// or {expires: -1}, however the number is typed.
func onExpiryAlone(keys bson.Raw) bool {
	elems, err := keys.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != fieldExpires {
		return false
	}
	v := elems[0].Value()
	var n float64
	switch v.Type {
	case bson.TypeInt32:
		n = float64(v.Int32())
	case bson.TypeInt64:
		n = float64(v.Int64())
	case bson.TypeDouble:
		n = v.Double()
	default:
		return false // "hashed", "2dsphere", ...: not a TTL-able index
	}
	return n == 1 || n == -1
}

// Collection returns the collection the store uses.
func (s *Store) Collection() *mongo.Collection { return s.coll }

// TTL reports whether the server deletes expired documents itself (a TTL
// index is in place). When false, the background sweeper or DeleteExpired
// does it.
func (s *Store) TTL() bool { return s.ttl }

// TTLIndex returns the name of the TTL index in use ("" without one):
// the store's own, or one that was already on the collection, such as
// connect-mongo's "expires_1".
func (s *Store) TTLIndex() string { return s.ttlIndex }

// live and expired are the conditions on the expiry field.
func live(now time.Time) bson.D    { return bson.D{{Key: "$gt", Value: now}} }
func expired(now time.Time) bson.D { return bson.D{{Key: "$lte", Value: now}} }

// Load implements sessionkit.Store.
func (s *Store) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	if s.layout == LayoutConnectMongo {
		return s.cmLoad(ctx, key)
	}
	var doc document
	err := s.coll.FindOne(ctx, bson.D{
		{Key: "_id", Value: key},
		{Key: fieldExpires, Value: live(time.Now())},
	}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	if err != nil {
		return sessionkit.Record{}, fmt.Errorf("mongostore: load %s: %w", key, err)
	}
	return doc.entry().Record, nil
}

// Save implements sessionkit.Store. An update replaces the document only
// if it is live and still carries rec.Version. A new session (rec.Version
// 0) is an upsert that matches only an expired document under the key, so
// it fails on the duplicate _id (ErrConflict) when a live session exists
// and takes the place of an expired one.
func (s *Store) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if s.layout == LayoutConnectMongo {
		return s.cmSave(ctx, key, rec)
	}
	if len(rec.Data) > MaxDataSize {
		return 0, fmt.Errorf("mongostore: save %s: %d bytes: %w", key, len(rec.Data), sessionkit.ErrTooLarge)
	}
	if rec.Version > math.MaxInt64 {
		return 0, fmt.Errorf("mongostore: save %s: version %d was never stored: %w", key, rec.Version, sessionkit.ErrConflict)
	}
	doc := document{Key: key, Data: rec.Data, Expires: rec.Expiry, User: rec.UserKey}
	if doc.Data == nil {
		doc.Data = []byte{}
	}
	var err error
	switch {
	case rec.Version == 0:
		// A fresh random start keeps a recreated session's versions apart
		// from those of the one it replaces; updates then count up.
		doc.Version = rand.Int64N(1<<62) + 1
		if s.guarded {
			err = s.createGuarded(ctx, &doc)
		} else {
			err = s.create(ctx, &doc)
		}
	default:
		old := int64(rec.Version)
		doc.Version = old + 1
		if doc.Version <= 0 { // wrapped: start again from the bottom
			doc.Version = 1
		}
		if s.guarded {
			err = s.updateGuarded(ctx, old, &doc)
		} else {
			err = s.update(ctx, old, &doc)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("mongostore: save %s: %w", key, err)
	}
	return uint64(doc.Version), nil
}

var (
	errLive     = fmt.Errorf("a live session exists: %w", sessionkit.ErrConflict)
	errVersion  = fmt.Errorf("the stored version is another: %w", sessionkit.ErrConflict)
	errClaimed  = fmt.Errorf("another writer is updating it: %w", sessionkit.ErrConflict)
	errNotFound = sessionkit.ErrNotFound
)

// create stores doc if no live document has its key: one upsert whose
// filter matches only an expired document.
func (s *Store) create(ctx context.Context, doc *document) error {
	_, err := s.coll.ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: doc.Key}, {Key: fieldExpires, Value: expired(time.Now())}},
		doc, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return errLive
	}
	return err
}

// update replaces the live document that has version old with doc.
func (s *Store) update(ctx context.Context, old int64, doc *document) error {
	res, err := s.coll.ReplaceOne(ctx, bson.D{
		{Key: "_id", Value: doc.Key},
		{Key: fieldVersion, Value: old},
		{Key: fieldExpires, Value: live(time.Now())},
	}, doc)
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return errVersion
	}
	return nil
}

// Touch implements sessionkit.Store: it sets the expiry of a live document
// and nothing else.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	var err error
	if s.guarded {
		err = s.touchGuarded(ctx, key, expiry)
	} else {
		var res *mongo.UpdateResult
		res, err = s.coll.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: key}, {Key: fieldExpires, Value: live(time.Now())}},
			bson.D{{Key: "$set", Value: bson.D{{Key: fieldExpires, Value: expiry}}}},
		)
		if err == nil && res.MatchedCount == 0 {
			err = errNotFound
		}
	}
	switch {
	case errors.Is(err, errNotFound):
		return err
	case err != nil:
		return fmt.Errorf("mongostore: touch %s: %w", key, err)
	}
	return nil
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	var err error
	if s.guarded {
		_, _, err = s.deleteGuarded(ctx, key, nil)
	} else {
		_, err = s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	}
	if err != nil {
		return fmt.Errorf("mongostore: delete %s: %w", key, err)
	}
	return nil
}

// UserSessions implements sessionkit.UserIndex. The empty user key names
// no user and yields no sessions.
func (s *Store) UserSessions(ctx context.Context, userKey string) ([]sessionkit.Entry, error) {
	if s.layout == LayoutConnectMongo {
		return nil, errNoIndex
	}
	if userKey == "" {
		return []sessionkit.Entry{}, nil
	}
	cur, err := s.coll.Find(ctx, bson.D{
		{Key: fieldUser, Value: userKey},
		{Key: fieldExpires, Value: live(time.Now())},
	})
	if err != nil {
		return nil, fmt.Errorf("mongostore: sessions of user %s: %w", userKey, err)
	}
	var docs []document
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongostore: sessions of user %s: %w", userKey, err)
	}
	entries := make([]sessionkit.Entry, 0, len(docs))
	for i := range docs {
		entries = append(entries, docs[i].entry())
	}
	return entries, nil
}

// DeleteUserSessions implements sessionkit.UserIndex. It also deletes the
// user's expired documents, but counts only the live ones.
func (s *Store) DeleteUserSessions(ctx context.Context, userKey string) (int, error) {
	if s.layout == LayoutConnectMongo {
		return 0, errNoIndex
	}
	if userKey == "" {
		return 0, nil
	}
	var n int
	var err error
	if s.guarded {
		n, _, err = s.deleteManyGuarded(ctx, bson.D{{Key: fieldUser, Value: userKey}}, func(d *document) bool {
			return d.User == userKey
		})
	} else {
		n, err = s.deleteMany(ctx, bson.D{{Key: fieldUser, Value: userKey}})
	}
	if err != nil {
		return n, fmt.Errorf("mongostore: delete sessions of user %s: %w", userKey, err)
	}
	return n, nil
}

// deleteMany deletes the documents matching filter and returns how many of
// them were live.
func (s *Store) deleteMany(ctx context.Context, filter bson.D) (int, error) {
	now := time.Now()
	res, err := s.coll.DeleteMany(ctx, append(filter, bson.E{Key: fieldExpires, Value: live(now)}))
	if err != nil {
		return 0, err
	}
	if _, err := s.coll.DeleteMany(ctx, append(filter, bson.E{Key: fieldExpires, Value: expired(now)})); err != nil {
		return int(res.DeletedCount), err
	}
	return int(res.DeletedCount), nil
}

// All implements sessionkit.Iterator. It reads the live documents in _id
// order, one page of Options.PageSize per query, so no cursor or lock is
// held between pages.
func (s *Store) All(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	if s.layout == LayoutConnectMongo {
		return s.cmAll(ctx)
	}
	return allPages(ctx, s, func(d *document) string { return d.Key }, (*document).entry)
}

// allPages yields the live documents of s's collection, decoded as D, in
// _id order, one page of s.pageSize per query. key returns a document's
// _id and entry its Entry; both layouts iterate through it.
func allPages[D any](ctx context.Context, s *Store, key func(*D) string, entry func(*D) sessionkit.Entry) iter.Seq2[sessionkit.Entry, error] {
	return func(yield func(sessionkit.Entry, error) bool) {
		var after *string
		for {
			filter := bson.D{{Key: fieldExpires, Value: live(time.Now())}}
			if after != nil {
				filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: *after}}})
			}
			cur, err := s.coll.Find(ctx, filter, options.Find().
				SetSort(bson.D{{Key: "_id", Value: 1}}).
				SetLimit(int64(s.pageSize)))
			if err != nil {
				yield(sessionkit.Entry{}, fmt.Errorf("mongostore: iterate: %w", err))
				return
			}
			var docs []D
			if err := cur.All(ctx, &docs); err != nil {
				yield(sessionkit.Entry{}, fmt.Errorf("mongostore: iterate: %w", err))
				return
			}
			for i := range docs {
				if !yield(entry(&docs[i]), nil) {
					return
				}
			}
			if len(docs) < s.pageSize {
				return
			}
			last := key(&docs[len(docs)-1])
			after = &last
		}
	}
}

// DeleteExpired implements sessionkit.Sweeper: it deletes the documents
// expired at the time of the call, whether or not a TTL index exists (the
// server's TTL monitor runs only about once a minute).
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	now := time.Now()
	var n int
	var err error
	if s.guarded {
		_, n, err = s.deleteManyGuarded(ctx, bson.D{{Key: fieldExpires, Value: expired(now)}}, func(d *document) bool {
			return !d.Expires.After(now)
		})
		if err == nil {
			err = s.deleteStaleClaims(ctx, now)
		}
	} else {
		var res *mongo.DeleteResult
		res, err = s.coll.DeleteMany(ctx, bson.D{{Key: fieldExpires, Value: expired(now)}})
		if err == nil {
			n = int(res.DeletedCount)
		}
	}
	if err != nil {
		return n, fmt.Errorf("mongostore: delete expired: %w", err)
	}
	return n, nil
}

// Close stops the background sweeper and waits for it, and disconnects the
// client if Open created it. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.sweeper.Stop()
		if s.ownsClient {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.client.Disconnect(ctx); err != nil {
				s.closeErr = fmt.Errorf("mongostore: disconnect: %w", err)
			}
		}
	})
	return s.closeErr
}
