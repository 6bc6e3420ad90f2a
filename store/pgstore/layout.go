package pgstore

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit"
)

// Layout is a table layout.
type Layout int

const (
	// LayoutNative is the store's own table (see the package
	// documentation): versioned records with a per-user index.
	LayoutNative Layout = iota
	// LayoutConnectPgSimple is connect-pg-simple's table
	// session(sid varchar, sess json, expire timestamp), keyed by the raw
	// session ID, for sharing sessions with an Express app. Record.Data
	// is the sess JSON as text (kept byte for byte: the json type stores
	// its input verbatim), and the version is a hash of it. See the
	// package documentation for what this layout cannot do.
	LayoutConnectPgSimple
)

// DefaultConnectPgSimpleTable is connect-pg-simple's default table name.
const DefaultConnectPgSimpleTable = "session"

// pgSimpleQueries replaces the native queries. expire is a timestamp
// without time zone that connect-pg-simple writes with to_timestamp(), so
// it holds the session time zone's wall clock: Go instants are converted
// the same way in SQL ($n::timestamptz::timestamp), which keeps both sides
// consistent and lets the expire index serve the sweeper.
func (s *Store) pgSimpleQueries() {
	t := s.ident
	const ts = `::timestamptz::timestamp`
	s.q.load = `SELECT sess::text, expire::timestamptz FROM ` + t + ` WHERE sid = $1 AND expire > $2` + ts
	// A new session may take the place of an expired row only.
	s.q.insert = `INSERT INTO ` + t + ` AS s (sid, sess, expire) VALUES ($1, $2::text::json, $3` + ts + `)
ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire
WHERE s.expire <= $4` + ts + `
RETURNING 1`
	// Compare-and-swap on the hash of the stored text.
	s.q.update = `UPDATE ` + t + ` SET sess = $2::text::json, expire = $3` + ts + `
WHERE sid = $1 AND expire > $5` + ts + ` AND left(md5(sess::text), 16) = $4
RETURNING 1`
	s.q.touch = `UPDATE ` + t + ` SET expire = $2` + ts + ` WHERE sid = $1 AND expire > $3` + ts
	s.q.del = `DELETE FROM ` + t + ` WHERE sid = $1`
	const cols = `sid, sess::text, expire::timestamptz`
	s.q.firstPage = `SELECT ` + cols + ` FROM ` + t + ` WHERE expire > $1` + ts + ` ORDER BY sid LIMIT $2`
	s.q.page = `SELECT ` + cols + ` FROM ` + t + ` WHERE sid > $3 AND expire > $1` + ts + ` ORDER BY sid LIMIT $2`
	s.q.sweep = `DELETE FROM ` + t + ` WHERE sid IN (
SELECT sid FROM ` + t + ` WHERE expire <= $1` + ts + ` LIMIT $2 FOR UPDATE SKIP LOCKED)`
	s.q.user, s.q.deleteUser = "", ""
}

// pgSimpleSchema is connect-pg-simple's table.sql, made idempotent.
func (s *Store) pgSimpleSchema() []string {
	// Constraint and index names follow connect-pg-simple's
	// ("session_pkey", "IDX_session_expire") for the table's base name.
	base := s.table[strings.LastIndexByte(s.table, '.')+1:]
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + s.ident + ` (
	"sid" varchar NOT NULL COLLATE "default",
	"sess" json NOT NULL,
	"expire" timestamp(6) NOT NULL,
	CONSTRAINT ` + pgx.Identifier{base + "_pkey"}.Sanitize() + ` PRIMARY KEY ("sid")
)`,
		`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{"IDX_" + base + "_expire"}.Sanitize() + ` ON ` + s.ident + ` ("expire")`,
	}
}

// textVersion is the version of a record in a hashed layout: the first 8
// bytes of the MD5 of its text, which SQL computes as
// left(md5(sess::text), 16).
func textVersion(data []byte) uint64 {
	sum := md5.Sum(data)
	return binary.BigEndian.Uint64(sum[:8])
}

func (s *Store) pgSimpleLoad(ctx context.Context, key string) (sessionkit.Record, error) {
	var (
		rec  sessionkit.Record
		text string
	)
	err := s.pool.QueryRow(ctx, s.q.load, key, time.Now()).Scan(&text, &rec.Expiry)
	if errors.Is(err, pgx.ErrNoRows) {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	if err != nil {
		return sessionkit.Record{}, s.wrap("load", key, err)
	}
	rec.Data = []byte(text)
	rec.Version = textVersion(rec.Data)
	if s.userKeyOf != nil {
		rec.UserKey = s.userKeyOf(rec.Data)
	}
	return rec, nil
}

func (s *Store) pgSimpleSave(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	now := time.Now()
	var (
		one int
		err error
	)
	text := string(rec.Data)
	if rec.Version == 0 {
		err = s.pool.QueryRow(ctx, s.q.insert, key, text, rec.Expiry, now).Scan(&one)
	} else {
		old := fmt.Sprintf("%016x", rec.Version)
		err = s.pool.QueryRow(ctx, s.q.update, key, text, rec.Expiry, old, now).Scan(&one)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, sessionkit.ErrConflict
	}
	if err != nil {
		return 0, s.saveError(key, err)
	}
	return textVersion(rec.Data), nil
}

// scan reads a row of All in the store's layout.
func (s *Store) scan(rows pgx.Rows, e *sessionkit.Entry) error {
	if s.layout != LayoutConnectPgSimple {
		return scanEntry(rows, e)
	}
	var text string
	if err := rows.Scan(&e.Key, &text, &e.Record.Expiry); err != nil {
		return err
	}
	e.Record.Data = []byte(text)
	e.Record.Version = textVersion(e.Record.Data)
	if s.userKeyOf != nil {
		e.Record.UserKey = s.userKeyOf(e.Record.Data)
	}
	return nil
}
