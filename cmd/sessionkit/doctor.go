package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// maxSkew is the clock difference doctor warns about where the server's
// clock decides when sessions disappear.
const maxSkew = time.Second

func (a *app) doctorCommand() *cobra.Command {
	var fix, noWrite bool
	cmd := &cobra.Command{
		Use:   "doctor [URL]",
		Short: "Check that a store is reachable, set up and usable",
		Long: `doctor checks a store (the URL argument, else --store): that the URL is
valid, that the server answers within --timeout, its version, that the
table or indexes exist, the clock difference between this machine and the
server where the server's clock decides when sessions expire (Redis,
MongoDB TTL indexes), and that a probe session can be written, read and
deleted (skip that with --no-write). It prints one line per check and
exits 1 if any check failed.

With --fix it creates a missing table (PostgreSQL, MySQL, SQLite) or a
missing SQLite or bolt file.`,
		Example: `  sessionkit doctor redis://127.0.0.1:6379/0
  sessionkit doctor postgres://app@db/app?table=sessions --fix
  sessionkit --store sqlite://data/sessions.sqlite doctor --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError("doctor takes at most one store URL (got %s)", plural(len(args), "argument", "arguments"))
			}
			url := a.storeURL
			if len(args) == 1 {
				url = args[0]
			}
			if url == "" {
				return usageError("doctor needs a store URL (argument, --store or %s)", storeEnv)
			}
			return a.doctor(cmd.Context(), url, fix, noWrite)
		},
	}
	cmd.Flags().BoolVar(&fix, "fix", false, "create a missing table, or a missing SQLite or bolt file")
	cmd.Flags().BoolVar(&noWrite, "no-write", false, "do not write the probe session")
	return cmd
}

type checkResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, warn, fail, skip
	Detail string `json:"detail"`
}

type doctorReport struct {
	URL    string        `json:"url"`
	OK     bool          `json:"ok"`
	Checks []checkResult `json:"checks"`
}

func (r *doctorReport) add(name, status, format string, args ...any) {
	r.Checks = append(r.Checks, checkResult{name, status, fmt.Sprintf(format, args...)})
	if status == "fail" {
		r.OK = false
	}
}

func (a *app) doctor(ctx context.Context, rawURL string, fix, noWrite bool) error {
	rep := &doctorReport{URL: storeurl.Redact(rawURL), OK: true}
	if err := storeurl.Check(rawURL); err != nil {
		return &exitError{exitUsage, err}
	}
	rep.add("url", "ok", "%s store", storeurl.Scheme(rawURL))

	start := time.Now()
	s, err := a.open(ctx, "URL", rawURL, false)
	// A bolt file without the store's bucket, or a MongoDB database
	// without the collection: the store's missing table.
	noBucket := errors.Is(err, boltstore.ErrNoBucket) || errors.Is(err, mongostore.ErrNoCollection)
	created := false
	if err != nil && fix && (errors.Is(err, fs.ErrNotExist) || noBucket) {
		// A missing bolt or SQLite file, or bolt bucket: --fix creates it
		// (and SQLite's table), as migrate does for its target.
		s, err = a.open(ctx, "URL", rawURL, true)
		created = err == nil
	}
	if err != nil {
		if noBucket {
			rep.add("connect", "ok", "answered in %s", time.Since(start).Round(time.Millisecond))
			rep.add("schema", "fail", "%v: run `sessionkit doctor --fix` or open the store from the application", err)
			rep.add("write", "skip", "the store is not set up")
			return a.doctorDone(rep)
		}
		rep.add("connect", "fail", "%v", err)
		return a.doctorDone(rep)
	}
	defer a.closeStore(s)
	rep.add("connect", "ok", "answered in %s", time.Since(start).Round(time.Millisecond))
	if created {
		switch st := s.(type) {
		case *sqlitestore.Store:
			rep.add("fix", "ok", "created file %s and table %s", st.Path(), st.Table())
		case *boltstore.Store:
			if noBucket {
				rep.add("fix", "ok", "created the buckets in %s", st.DB().Path())
			} else {
				rep.add("fix", "ok", "created file %s", st.DB().Path())
			}
		case *mongostore.Store:
			rep.add("fix", "ok", "created collection %s.%s", st.Collection().Database().Name(), st.Collection().Name())
		default:
			rep.add("fix", "ok", "created the store")
		}
	}

	schemaOK := a.doctorServer(ctx, rep, s, fix)
	switch {
	case noWrite:
		rep.add("write", "skip", "--no-write")
	case !schemaOK:
		rep.add("write", "skip", "the store is not set up")
	default:
		a.doctorProbe(ctx, rep, s)
	}
	return a.doctorDone(rep)
}

func (a *app) doctorDone(rep *doctorReport) error {
	if a.json {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		tw := a.table()
		for _, c := range rep.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(c.Status), c.Name, c.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if !rep.OK {
		return &exitError{exitFailed, errors.New("doctor: some checks failed")}
	}
	return nil
}

// skewOf estimates how far the server's clock (read between before and
// after on this machine) is ahead of this machine's.
func skewOf(server, before, after time.Time) time.Duration {
	mid := before.Add(after.Sub(before) / 2)
	return server.Sub(mid)
}

func (a *app) reportSkew(rep *doctorReport, skew time.Duration, matters bool, why string) {
	abs := time.Duration(math.Abs(float64(skew)))
	switch {
	case !matters:
		rep.add("clock", "ok", "server clock differs by %s (%s)", skew.Round(time.Millisecond), why)
	case abs > maxSkew:
		rep.add("clock", "warn", "server clock differs by %s: %s, so sessions will disappear that much early or late; sync the clocks (NTP)", skew.Round(time.Millisecond), why)
	default:
		rep.add("clock", "ok", "server clock differs by %s", skew.Round(time.Millisecond))
	}
}

// doctorServer runs the store-specific checks and reports whether the
// store is set up (its table exists).
func (a *app) doctorServer(ctx context.Context, rep *doctorReport, s sessionkit.Store, fix bool) bool {
	octx, cancel := a.op(ctx)
	defer cancel()
	switch st := s.(type) {
	case *memstore.Store:
		rep.add("store", "ok", "in-process memory store (empty, gone when this command exits)")
	case *boltstore.Store:
		path := st.DB().Path()
		size := "?"
		if fi, err := os.Stat(path); err == nil {
			size = bytesHuman(fi.Size())
		}
		rep.add("store", "ok", "bolt file %s (%s); buckets present", path, size)
	case *sqlitestore.Store:
		return a.doctorSQLite(octx, rep, st, fix)
	case *redisstore.Store:
		c := st.Client()
		info, err := c.Info(octx, "server").Result()
		if err != nil {
			rep.add("server", "fail", "INFO: %v", err)
			return false
		}
		version := infoField(info, "redis_version")
		mode := infoField(info, "redis_mode")
		if _, ok := c.(*redis.ClusterClient); ok {
			mode = "cluster"
		}
		status := "ok"
		if major := strings.SplitN(version, ".", 2)[0]; major < "5" && len(major) == 1 {
			status = "fail"
			version += " (redisstore needs 5.0 or later)"
		}
		rep.add("server", status, "Redis %s, %s", version, orDash(mode))
		before := time.Now()
		t, err := c.Time(octx).Result()
		after := time.Now()
		if err != nil {
			rep.add("clock", "fail", "TIME: %v", err)
		} else {
			a.reportSkew(rep, skewOf(t, before, after), true, "Redis expires sessions by its own clock")
		}
		rep.add("schema", "ok", "none needed (key prefix %s)", strings.TrimSuffix(st.RecordKey(""), "{}"))
		return status == "ok"
	case *pgstore.Store:
		return a.doctorPostgres(octx, rep, st, fix)
	case *mysqlstore.Store:
		return a.doctorMySQL(octx, rep, st, fix)
	case *mongostore.Store:
		return a.doctorMongo(octx, rep, st)
	default:
		rep.add("store", "ok", "%T", s)
	}
	return true
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

func (a *app) doctorPostgres(ctx context.Context, rep *doctorReport, st *pgstore.Store, fix bool) bool {
	pool := st.Pool()
	var version string
	var now time.Time
	before := time.Now()
	err := pool.QueryRow(ctx, `SELECT current_setting('server_version'), clock_timestamp()`).Scan(&version, &now)
	after := time.Now()
	if err != nil {
		rep.add("server", "fail", "%v", err)
		return false
	}
	rep.add("server", "ok", "PostgreSQL %s", version)
	a.reportSkew(rep, skewOf(now, before, after), false, "informational: expiries are compared with the application's clock")

	ident := pgx.Identifier(strings.Split(st.Table(), ".")).Sanitize()
	var indexes []string
	lookup := func() (bool, error) {
		indexes = nil
		var present bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, ident).Scan(&present); err != nil || !present {
			return false, err
		}
		rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass($1) ORDER BY 1`, ident)
		if err != nil {
			return true, err
		}
		indexes, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return true, err
	}
	if !checkTable(rep, st.Table(), fix, lookup, func() error { return st.Migrate(ctx) }, "let the application's Migrate create it") {
		return false
	}
	if !readsTable(ctx, rep, st, st.Table()) {
		return false
	}
	// The primary key's index and those Migrate creates for the layout
	// (connect-pg-simple's table has no user index).
	want := 1
	for _, stmt := range st.Schema() {
		if strings.HasPrefix(stmt, "CREATE INDEX") {
			want++
		}
	}
	status := "ok"
	if len(indexes) < want {
		status = "warn"
	}
	rep.add("schema", status, "table %s, indexes: %s", st.Table(), strings.Join(indexes, ", "))
	return true
}

// checkTable reports whether a SQL store's session table exists (lookup
// says, and may note its indexes for the caller). With fix, a missing
// table is created with migrate and looked up again; otherwise the report
// tells how to create it (remedy, after "run `sessionkit doctor --fix` or").
func checkTable(rep *doctorReport, table string, fix bool, lookup func() (bool, error), migrate func() error, remedy string) bool {
	present, err := lookup()
	if err != nil {
		rep.add("schema", "fail", "look up table %s: %v", table, err)
		return false
	}
	if !present && fix {
		if err := migrate(); err != nil {
			rep.add("schema", "fail", "create table %s: %v", table, err)
			return false
		}
		rep.add("fix", "ok", "created table %s", table)
		if present, err = lookup(); err != nil {
			rep.add("schema", "fail", "look up table %s: %v", table, err)
			return false
		}
	}
	if !present {
		rep.add("schema", "fail", "table %s does not exist: run `sessionkit doctor --fix` or %s", table, remedy)
		return false
	}
	return true
}

// readsTable reports, as an error, that a SQL store's table exists but is
// not one it can read: another application's table of the same name, or
// the other layout's. It loads a key no session has, which reads every
// column the layout needs.
func readsTable(ctx context.Context, rep *doctorReport, s sessionkit.Store, table string) bool {
	_, err := s.Load(ctx, "sessionkit-doctor-absent")
	if err == nil || errors.Is(err, sessionkit.ErrNotFound) {
		return true
	}
	rep.add("schema", "fail", "table %s is not this store's session table (wrong layout, or another application's table?): %v", table, err)
	return false
}

func (a *app) doctorMySQL(ctx context.Context, rep *doctorReport, st *mysqlstore.Store, fix bool) bool {
	db := st.DB()
	var version string
	var unix float64
	before := time.Now()
	err := db.QueryRowContext(ctx, `SELECT VERSION(), UNIX_TIMESTAMP(NOW(6))`).Scan(&version, &unix)
	after := time.Now()
	if err != nil {
		rep.add("server", "fail", "%v", err)
		return false
	}
	rep.add("server", "ok", "MySQL/MariaDB %s", version)
	server := time.Unix(0, int64(unix*1e9))
	a.reportSkew(rep, skewOf(server, before, after), false, "informational: expiries are compared with the application's clock")

	var schema sql.NullString
	table := st.Table()
	if db, t, ok := strings.Cut(table, "."); ok {
		schema, table = sql.NullString{String: db, Valid: true}, t
	}
	var indexes int
	lookup := func() (bool, error) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`, schema, table).Scan(&n)
		if err != nil || n == 0 {
			return false, err
		}
		err = db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`, schema, table).Scan(&indexes)
		return true, err
	}
	if !checkTable(rep, st.Table(), fix, lookup, func() error { return st.Migrate(ctx) }, "let the application's Migrate create it") {
		return false
	}
	if !readsTable(ctx, rep, st, st.Table()) {
		return false
	}
	status := "ok"
	if indexes < 3 {
		status = "warn"
	}
	rep.add("schema", status, "table %s, %s", st.Table(), plural(indexes, "index", "indexes"))
	return true
}

func (a *app) doctorSQLite(ctx context.Context, rep *doctorReport, st *sqlitestore.Store, fix bool) bool {
	db := st.DB()
	size := "?"
	if fi, err := os.Stat(st.Path()); err == nil {
		size = bytesHuman(fi.Size())
	}
	var version, mode string
	if err := db.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&version); err != nil {
		rep.add("store", "fail", "SQLite file %s: %v", st.Path(), err)
		return false
	}
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		rep.add("store", "fail", "SQLite file %s: journal mode: %v", st.Path(), err)
		return false
	}
	rep.add("store", "ok", "SQLite %s file %s (%s), journal mode %s: other processes may open it at the same time", version, st.Path(), size, mode)

	var indexes int
	lookup := func() (bool, error) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, st.Table()).Scan(&n)
		if err != nil || n == 0 {
			return false, err
		}
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`, st.Table()).Scan(&indexes)
		return true, err
	}
	if !checkTable(rep, st.Table(), fix, lookup, func() error { return st.Migrate(ctx) }, "open the store from the application") {
		return false
	}
	if !readsTable(ctx, rep, st, st.Table()) {
		return false
	}
	// The primary key's automatic index, the expiry and the user index.
	status := "ok"
	if indexes < 3 {
		status = "warn"
	}
	rep.add("schema", status, "table %s, %s", st.Table(), plural(indexes, "index", "indexes"))
	return true
}

func (a *app) doctorMongo(ctx context.Context, rep *doctorReport, st *mongostore.Store) bool {
	coll := st.Collection()
	admin := coll.Database().Client().Database("admin")
	var build struct {
		Version string `bson:"version"`
	}
	if err := admin.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&build); err != nil {
		rep.add("server", "fail", "buildInfo: %v", err)
		return false
	}
	rep.add("server", "ok", "MongoDB-compatible server %s", build.Version)
	var hello struct {
		LocalTime time.Time `bson:"localTime"`
	}
	before := time.Now()
	err := admin.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello)
	after := time.Now()
	switch {
	case err != nil:
		rep.add("clock", "warn", "hello: %v", err)
	case hello.LocalTime.IsZero():
		rep.add("clock", "skip", "the server does not report its time")
	case st.TTL():
		a.reportSkew(rep, skewOf(hello.LocalTime, before, after), true, "the TTL index deletes sessions by the server's clock")
	default:
		a.reportSkew(rep, skewOf(hello.LocalTime, before, after), false, "informational: no TTL index, the sweeper uses the application's clock")
	}
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		rep.add("schema", "fail", "list indexes of %s: %v", coll.Name(), err)
		return false
	}
	var idx []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &idx); err != nil {
		rep.add("schema", "fail", "list indexes of %s: %v", coll.Name(), err)
		return false
	}
	names := make([]string, len(idx))
	for i, x := range idx {
		names[i] = x.Name
	}
	expiry := "TTL index " + st.TTLIndex() + " (the server deletes expired sessions)"
	if !st.TTL() {
		expiry = "no TTL index: run `sessionkit purge` from cron or keep the application's sweeper on"
	}
	rep.add("schema", "ok", "collection %s.%s, indexes: %s; %s", coll.Database().Name(), coll.Name(), strings.Join(names, ", "), expiry)
	return true
}

// doctorProbe writes, reads back and deletes a short-lived probe session.
func (a *app) doctorProbe(ctx context.Context, rep *doctorReport, s sessionkit.Store) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	key := "sessionkit-doctor-" + hex.EncodeToString(b[:])
	data := []byte(`{"values":{"doctor":true}}`)
	rec := sessionkit.Record{Data: data, Expiry: a.now().Add(time.Minute)}
	octx, cancel := a.op(ctx)
	defer cancel()
	start := time.Now()
	if _, err := s.Save(octx, key, rec); err != nil {
		rep.add("write", "fail", "save probe session: %v", err)
		return
	}
	got, err := s.Load(octx, key)
	if err == nil && !bytes.Equal(got.Data, data) {
		err = fmt.Errorf("read back %q, wrote %q", got.Data, data)
	}
	if derr := s.Delete(octx, key); err == nil && derr != nil {
		err = fmt.Errorf("delete probe session: %w", derr)
	}
	if err != nil {
		rep.add("write", "fail", "probe session %s: %v", key, err)
		return
	}
	rep.add("write", "ok", "saved, read and deleted a probe session in %s", time.Since(start).Round(time.Millisecond))
}
