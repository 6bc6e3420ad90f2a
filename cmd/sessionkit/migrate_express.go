package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// expressMigration holds the flags of migrate that apply when the source
// is an express-session store.
type expressMigration struct {
	ttl       time.Duration
	userField string
}

// migrateLayouts decides how --from is copied to --to: "" for a copy of
// the records as they are, or the express layout of the source when its
// sessions are to become native ones.
func migrateLayouts(from, to string) (string, error) {
	src, err := storeurl.Layout(from)
	if err != nil {
		return "", &exitError{exitUsage, fmt.Errorf("--from: %w", err)}
	}
	dst, err := storeurl.Layout(to)
	if err != nil {
		return "", &exitError{exitUsage, fmt.Errorf("--to: %w", err)}
	}
	switch {
	case src != "" && dst == "":
		return src, nil
	case src == "" && dst != "":
		return "", usageError("--to is in the %s layout: migrate writes native sessions there only from a store in that layout (express-session cannot read native records)", dst)
	}
	return "", nil // native to native, or between express layouts: a plain copy
}

type expressResult struct {
	DryRun            bool    `json:"dry_run"`
	Layout            string  `json:"layout"`
	Read              int64   `json:"read"`
	Written           int64   `json:"written"`
	Updated           int64   `json:"updated"`
	Unchanged         int64   `json:"unchanged"`
	SkippedExpired    int64   `json:"skipped_expired"`
	SkippedUnreadable int64   `json:"skipped_unreadable"`
	SkippedEnded      int64   `json:"skipped_ended"`
	Removed           int64   `json:"removed"`
	Complete          bool    `json:"complete"`
	Seconds           float64 `json:"seconds"`
}

// add counts n sessions with outcome o.
func (r *expressResult) add(o express.Outcome, n int64) {
	r.Read += n
	switch o {
	case express.MigrateWritten:
		r.Written += n
	case express.MigrateUpdated:
		r.Updated += n
	case express.MigrateUnchanged:
		r.Unchanged += n
	case express.MigrateExpired:
		r.SkippedExpired += n
	case express.MigrateUnreadable:
		r.SkippedUnreadable += n
	case express.MigrateEnded:
		r.SkippedEnded += n
	}
}

// migrateExpress turns the sessions of an express-session store into
// native sessions on the target (see express.Migrator): one pass over the
// source, then, if it completed, the removal of the copies of sessions
// that ended since an earlier pass.
func (a *app) migrateExpress(ctx context.Context, layout, from, to string, o expressMigration, dryRun bool, workers int, showProgress bool) error {
	if o.ttl <= 0 {
		return usageError("--ttl must be positive")
	}
	if o.userField == "" || o.userField == "passport" || o.userField == "cookie" {
		return usageError("--user-field %q: want the session value the native auth package keeps the user in (default _user)", o.userField)
	}
	if place, ok := samePlace(from, to); ok {
		return usageError("--to names the express store's own %s: give the native sessions their own (see docs/migrating-from-express.md, section 5, step 1)", place)
	}
	src, err := a.open(ctx, "--from", from, false)
	if err != nil {
		return fmt.Errorf("migrate: source: %w", err)
	}
	defer a.closeStore(src)
	dst, err := a.open(ctx, "--to", to, !dryRun)
	switch {
	case err == nil:
		defer a.closeStore(dst)
	case dryRun && errors.Is(err, fs.ErrNotExist):
		dst = nil // a bolt file that does not exist yet: empty
	default:
		return fmt.Errorf("migrate: target: %w", err)
	}
	var target sessionkit.Store = dst
	if dst == nil {
		empty := memstore.New(memstore.Options{SweepInterval: -1})
		defer empty.Close()
		target = empty
	} else if dryRun {
		target = missingTableIsEmpty{dst}
	}
	if _, ok := target.(sessionkit.Iterator); !ok {
		return fmt.Errorf("migrate: the target store cannot list its sessions (no sessionkit.Iterator), so copies of ended sessions could not be found")
	}
	mg := &express.Migrator{
		From:      src,
		To:        target,
		TTL:       o.ttl,
		UserField: auth.ValueField(o.userField),
		DryRun:    dryRun,
		Now:       a.now,
	}

	var bar *progress
	if showProgress {
		total, err := a.countExpress(ctx, src)
		if err != nil {
			return fmt.Errorf("migrate: count the source: %w", err)
		}
		bar = newProgress(a, total, "migrating")
	}

	start := time.Now()
	res := expressResult{DryRun: dryRun, Layout: layout}
	var counts [express.MigrateEnded + 1]atomic.Int64
	entries := make(chan sessionkit.Entry, 4*workers)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(entries)
		return a.each(gctx, src, func(e sessionkit.Entry) error {
			select {
			case entries <- e:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	for range workers {
		g.Go(func() error {
			for e := range entries {
				octx, cancel := a.op(gctx)
				outcome, err := mg.Copy(octx, e)
				cancel()
				if err != nil {
					return err
				}
				counts[outcome].Add(1)
				bar.tick()
			}
			return nil
		})
	}
	err = g.Wait()
	bar.finish(a, err)
	for o := range counts {
		res.add(express.Outcome(o), counts[o].Load())
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "migrate stopped after reading %d sessions (%d written, %d updated, %d unchanged, %d skipped); no copies were removed; running it again resumes safely\n",
			res.Read, res.Written, res.Updated, res.Unchanged, res.SkippedExpired+res.SkippedUnreadable+res.SkippedEnded)
		return fmt.Errorf("migrate: %w", err)
	}

	// The pass is complete: copies it did not see are of sessions that
	// ended since an earlier pass. A source without one express session
	// (empty, or holding only other applications' records) is more likely
	// a wrong --from, or a retired express store, than every session
	// ended: its copies are kept.
	if res.Read == res.SkippedUnreadable {
		res.Complete = true
		res.Seconds = time.Since(start).Seconds()
		fmt.Fprintln(a.stderr, "migrate: the source holds no express sessions; no copies were removed (check --from; once every express session has been taken over or has ended, the Importer is no longer needed)")
		if a.json {
			return a.printJSON(res)
		}
		return a.printExpress(res)
	}
	if showProgress {
		fmt.Fprintln(a.stderr, "looking for copies of sessions that have ended...")
	}
	err = a.each(ctx, target, func(e sessionkit.Entry) error {
		if !mg.Stale(e) {
			return nil
		}
		res.Removed++
		if dryRun {
			return nil
		}
		octx, cancel := a.op(ctx)
		defer cancel()
		if err := target.Delete(octx, e.Key); err != nil {
			return fmt.Errorf("remove the copy %s of an ended session: %w", e.Key, err)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(a.stderr, "migrate copied every session (%d written, %d updated, %d unchanged) but stopped while removing the copies of ended sessions (%d removed); running it again finishes the job\n",
			res.Written, res.Updated, res.Unchanged, res.Removed)
		return fmt.Errorf("migrate: %w", err)
	}
	res.Complete = true
	res.Seconds = time.Since(start).Seconds()
	if a.json {
		return a.printJSON(res)
	}
	return a.printExpress(res)
}

func (a *app) printExpress(res expressResult) error {
	would := ""
	if res.DryRun {
		would = "would be "
	}
	tw := a.table()
	fmt.Fprintf(tw, "read (%s)\t%d\n", res.Layout, res.Read)
	fmt.Fprintf(tw, "%swritten (new native copies)\t%d\n", would, res.Written)
	fmt.Fprintf(tw, "%supdated (changed since the last run)\t%d\n", would, res.Updated)
	fmt.Fprintf(tw, "unchanged (copy up to date)\t%d\n", res.Unchanged)
	fmt.Fprintf(tw, "skipped: expired\t%d\n", res.SkippedExpired)
	fmt.Fprintf(tw, "skipped: not an express-session record\t%d\n", res.SkippedUnreadable)
	fmt.Fprintf(tw, "skipped: ended during the copy\t%d\n", res.SkippedEnded)
	fmt.Fprintf(tw, "%sremoved (copies of sessions that ended)\t%d\n", would, res.Removed)
	rate := 0.0
	if res.Seconds > 0 {
		rate = float64(res.Read) / res.Seconds
	}
	fmt.Fprintf(tw, "took\t%s (%.0f sessions/s)\n", time.Duration(res.Seconds*float64(time.Second)).Round(time.Millisecond), rate)
	return tw.Flush()
}

// countExpress counts the live sessions of a store in an express layout,
// for the progress bar.
func (a *app) countExpress(ctx context.Context, s sessionkit.Store) (int64, error) {
	octx, cancel := context.WithTimeout(ctx, 10*a.timeout)
	defer cancel()
	switch st := s.(type) {
	case *pgstore.Store:
		ident := pgx.Identifier(strings.Split(st.Table(), ".")).Sanitize()
		var n int64
		err := st.Pool().QueryRow(octx, `SELECT count(*) FROM `+ident+` WHERE expire > $1::timestamptz::timestamp`, a.now()).Scan(&n)
		return n, err
	case *redisstore.Store:
		return countRedisPrefix(octx, st, st.RecordKey(""))
	}
	return a.countLive(ctx, s) // connect-mongo: the native query fits
}

// countRedisPrefix counts the keys that start with prefix, with SCAN on
// every master.
func countRedisPrefix(ctx context.Context, s *redisstore.Store, prefix string) (int64, error) {
	pattern := globEscape(prefix) + "*"
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

// missingTableIsEmpty is a dry run's view of a SQL target whose table does
// not exist yet: it holds nothing.
type missingTableIsEmpty struct{ storeurl.Store }

func noTable(err error) bool {
	return errors.Is(err, pgstore.ErrNoTable) || errors.Is(err, mysqlstore.ErrNoTable)
}

func (s missingTableIsEmpty) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	rec, err := s.Store.Load(ctx, key)
	if noTable(err) {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	return rec, err
}

func (s missingTableIsEmpty) All(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	it, _ := s.Store.(sessionkit.Iterator)
	return func(yield func(sessionkit.Entry, error) bool) {
		if it == nil {
			return
		}
		for e, err := range it.All(ctx) {
			if noTable(err) {
				return
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// samePlace reports whether to, a native store URL, names the place where
// from, a store URL in an express layout, keeps its sessions: the same
// server, database and MongoDB collection (both layouts default to
// "sessions"), PostgreSQL table, or overlapping Redis key prefix. The
// native copies would then be mixed with Node's records (and deleted with
// them at step 5). It compares the URLs as written: the same server
// spelled two ways is not detected.
func samePlace(from, to string) (string, bool) {
	f, err1 := url.Parse(from)
	t, err2 := url.Parse(to)
	if err1 != nil || err2 != nil {
		return "", false
	}
	scheme := func(u *url.URL) string {
		s := strings.ToLower(u.Scheme)
		s = strings.Replace(s, "postgresql", "postgres", 1)
		return strings.Replace(s, "rediss", "redis", 1)
	}
	if scheme(f) != scheme(t) || !strings.EqualFold(f.Host, t.Host) {
		return "", false
	}
	param := func(u *url.URL, name, def string) string {
		if v := u.Query().Get(name); v != "" {
			return v
		}
		return def
	}
	db := func(u *url.URL, def string) string {
		if p := strings.Trim(u.Path, "/"); p != "" {
			return p
		}
		return def
	}
	switch scheme(f) {
	case "mongodb", "mongodb+srv":
		fc, tc := param(f, "collection", "sessions"), param(t, "collection", "sessions")
		if db(f, "sessionkit") == db(t, "sessionkit") && fc == tc {
			return "collection " + strconv.Quote(fc), true
		}
	case "postgres":
		unqualified := func(table string) string { return strings.TrimPrefix(table, "public.") }
		ft, tt := unqualified(param(f, "table", "session")), unqualified(param(t, "table", "sessions"))
		if db(f, "") == db(t, "") && ft == tt {
			return "table " + strconv.Quote(ft), true
		}
	case "redis", "redis+sentinel", "redis+cluster":
		fp, tp := param(f, "prefix", "sess:"), param(t, "prefix", "sessionkit:")
		if db(f, "0") == db(t, "0") && (strings.HasPrefix(fp, tp) || strings.HasPrefix(tp, fp)) {
			return "key prefix " + strconv.Quote(fp), true
		}
	}
	return "", false
}
