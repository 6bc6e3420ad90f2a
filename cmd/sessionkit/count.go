package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
)

// counter is implemented by stores that can count their live records
// cheaply; countLive prefers it when a store has it.
type counter interface {
	Count(ctx context.Context) (int, error)
}

// countLive returns the number of live sessions in s, or an estimate of
// it, as cheaply as the store allows: a Count method, one query on SQL
// (SQLite too) and MongoDB stores, a key-only SCAN on Redis, and otherwise (bolt files,
// the memory store's entries include expired ones) a pass over the
// records. It is used for the progress bar only.
func (a *app) countLive(ctx context.Context, s sessionkit.Store) (int64, error) {
	octx, cancel := context.WithTimeout(ctx, 10*a.timeout)
	defer cancel()
	now := a.now()
	switch st := s.(type) {
	case counter:
		n, err := st.Count(octx)
		return int64(n), err
	case *pgstore.Store:
		ident := pgx.Identifier(strings.Split(st.Table(), ".")).Sanitize()
		var n int64
		err := st.Pool().QueryRow(octx, `SELECT count(*) FROM `+ident+` WHERE expiry > $1`, now).Scan(&n)
		return n, err
	case *mysqlstore.Store:
		parts := strings.Split(st.Table(), ".")
		for i, p := range parts {
			parts[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
		}
		var n int64
		err := st.DB().QueryRowContext(octx, "SELECT COUNT(*) FROM "+strings.Join(parts, ".")+" WHERE `expiry` > ?", now.UnixMilli()).Scan(&n)
		return n, err
	case *sqlitestore.Store:
		var n int64
		err := st.DB().QueryRowContext(octx, `SELECT count(*) FROM "`+st.Table()+`" WHERE expiry > ?`, now.UnixMilli()).Scan(&n)
		return n, err
	case *mongostore.Store:
		return st.Collection().CountDocuments(octx, bson.D{{Key: "expires", Value: bson.D{{Key: "$gt", Value: now}}}})
	case *memstore.Store:
		n, _ := st.Stats()
		return int64(n), nil
	case *redisstore.Store:
		return countRedisKeys(octx, st)
	}
	var n int64
	err := a.each(ctx, s, func(sessionkit.Entry) error { n++; return nil })
	return n, err
}

// countRedisKeys counts the store's record keys with SCAN on every master,
// without reading the records.
func countRedisKeys(ctx context.Context, s *redisstore.Store) (int64, error) {
	prefix := strings.TrimSuffix(s.RecordKey(""), "{}")
	pattern := globEscape(prefix) + "{*"
	var n atomic.Int64
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			n.Add(1)
		}
		return it.Err()
	}
	var err error
	switch c := s.Client().(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		return 0, fmt.Errorf("count: unsupported Redis client %T", c)
	}
	return n.Load(), err
}

// globEscape escapes Redis glob metacharacters.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
