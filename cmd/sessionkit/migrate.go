package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

func (a *app) migrateCommand() *cobra.Command {
	var (
		from, to string
		dryRun   bool
		workers  = 8
		progress bool
		ex       = expressMigration{ttl: express.DefaultTTL, userField: string(auth.DefaultUserKeyField)}
	)
	cmd := &cobra.Command{
		Use:   "migrate --from URL --to URL",
		Short: "Copy live sessions from one store to another",
		Long: `migrate copies every live session from the --from store to the --to store,
keeping each session's key, data, expiry and user (so the target's user
index is filled too). Sessions are created on the target only where it has
no live session under the same key; those already there are left as they
are and counted, so running migrate again is safe and copies only what is
missing. Sessions that expire while the copy runs are skipped.

The target's table or file is created if missing. With --dry-run nothing is
written: migrate reports what it would copy.

A progress bar with the count, rate and ETA goes to stderr when stderr is a
terminal (or with --progress). For the ETA the source is counted first:
with one cheap query on SQL and MongoDB stores, a key-only SCAN on Redis,
and a pass over the records on bolt files and in-memory stores. Without a
progress bar nothing is counted ahead.

Keep the application running on the source while migrating, then switch it
to the target and run migrate again to copy sessions created meanwhile.

From an express-session store — a --from URL with layout=connect-redis,
layout=connect-pg-simple or layout=connect-mongo — to a native store,
migrate makes a native copy of every live express session for
compat/express's Importer, which signs its user in natively on their next
request: the values, with Passport's passport.user as the owner (per-user
index) and under --user-field; the idle timeout and persistence of the
express cookie (--ttl for browser-session cookies: the Node store's ttl);
the expiry; created now, which is where the native absolute lifetime
counts from. Copies are keyed by a hash of the express ID that only the
Importer derives (compat/express.MigratedKey). It may run while Node still
serves, and as often as needed: a copy is written where none exists,
rewritten where the express session changed since, and left alone
otherwise; a session that ends while it is copied loses its copy, and once
a pass has read the whole source, copies of sessions that ended since an
earlier pass are removed. A run that stops (error, Ctrl-C) removes nothing
and can simply be run again. It reports sessions read, written, updated,
unchanged, skipped (expired, not an express-session record, ended during
the copy) and copies removed. See docs/migrating-from-express.md.`,
		Example: `  sessionkit migrate --from redis://127.0.0.1:6379/0 --to postgres://app@db/app?table=sessions
  sessionkit migrate --from bolt://sessions.db --to redis://cache:6379 --dry-run
  sessionkit migrate --from 'redis://cache:6379/0?layout=connect-redis' --to 'redis://cache:6379/0'
  sessionkit migrate --from 'postgres://app@db/app?layout=connect-pg-simple' --to 'postgres://app@db/app?table=sessions'
  sessionkit migrate --from 'mongodb://db/app?layout=connect-mongo' --to 'mongodb://db/app?collection=native' --ttl 336h`,
		Args: exactArgs(0, "no arguments (use --from and --to)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case from == "":
				return usageError("migrate needs --from URL")
			case to == "":
				return usageError("migrate needs --to URL")
			case workers < 1:
				return usageError("--workers must be at least 1")
			}
			show := a.stderrIsTTY && !a.json
			if cmd.Flags().Changed("progress") {
				show = progress
			}
			layout, err := migrateLayouts(from, to)
			if err != nil {
				return err
			}
			if layout != "" {
				return a.migrateExpress(cmd.Context(), layout, from, to, ex, dryRun, workers, show)
			}
			if cmd.Flags().Changed("ttl") || cmd.Flags().Changed("user-field") {
				return usageError("--ttl and --user-field apply to a source in an express layout (?layout=connect-redis, connect-pg-simple or connect-mongo)")
			}
			return a.migrate(cmd.Context(), from, to, dryRun, workers, show)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "source store URL")
	f.StringVar(&to, "to", "", "target store URL")
	f.BoolVar(&dryRun, "dry-run", false, "write nothing; report what would be copied")
	f.IntVar(&workers, "workers", workers, "concurrent writes to the target")
	f.BoolVar(&progress, "progress", false, "show a progress bar (default: when stderr is a terminal)")
	f.DurationVar(&ex.ttl, "ttl", ex.ttl, "express source: how long the Node store keeps a session with a browser-session cookie (its ttl option; connect-mongo's default is 336h)")
	f.StringVar(&ex.userField, "user-field", ex.userField, "express source: the session value the native auth package keeps the user in")
	return cmd
}

type migrateResult struct {
	DryRun         bool    `json:"dry_run"`
	Copied         int64   `json:"copied"`
	AlreadyPresent int64   `json:"already_present"`
	Expired        int64   `json:"expired"`
	Seconds        float64 `json:"seconds"`
}

func (a *app) migrate(ctx context.Context, from, to string, dryRun bool, workers int, showProgress bool) error {
	// Check both URLs before connecting to either.
	for _, u := range []struct{ flag, url string }{{"--from", from}, {"--to", to}} {
		if _, err := a.checkURL(u.flag, u.url); err != nil {
			return err
		}
	}
	src, err := a.open(ctx, "--from", from, false)
	if err != nil {
		return fmt.Errorf("migrate: source: %w", err)
	}
	defer a.closeStore(src)
	if _, ok := src.(sessionkit.Iterator); !ok {
		return fmt.Errorf("migrate: the source store cannot list its sessions (no sessionkit.Iterator)")
	}
	dst, err := a.open(ctx, "--to", to, !dryRun)
	switch {
	case err == nil:
		defer a.closeStore(dst)
	case dryRun && errors.Is(err, fs.ErrNotExist):
		dst = nil // a bolt or SQLite file that does not exist yet: empty
	default:
		return fmt.Errorf("migrate: target: %w", err)
	}

	var bar *progress
	if showProgress {
		total, err := a.countLive(ctx, src)
		if err != nil {
			return fmt.Errorf("migrate: count the source: %w", err)
		}
		bar = newProgress(a, total, "migrating")
	}

	start := time.Now()
	var copied, present, expired atomic.Int64
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
				state, err := a.copyOne(gctx, dst, e, dryRun)
				if err != nil {
					return err
				}
				switch state {
				case copiedState:
					copied.Add(1)
				case presentState:
					present.Add(1)
				case expiredState:
					expired.Add(1)
				}
				bar.tick()
			}
			return nil
		})
	}
	err = g.Wait()
	bar.finish(a, err)
	res := migrateResult{
		DryRun:         dryRun,
		Copied:         copied.Load(),
		AlreadyPresent: present.Load(),
		Expired:        expired.Load(),
		Seconds:        time.Since(start).Seconds(),
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "migrate stopped after copying %s (%d already present, %d expired); running it again resumes safely\n",
			plural(int(res.Copied), "session", "sessions"), res.AlreadyPresent, res.Expired)
		return fmt.Errorf("migrate: %w", err)
	}
	if a.json {
		return a.printJSON(res)
	}
	verb := "copied"
	if dryRun {
		verb = "would copy"
	}
	tw := a.table()
	fmt.Fprintf(tw, "%s\t%d\n", verb, res.Copied)
	fmt.Fprintf(tw, "already present (left as is)\t%d\n", res.AlreadyPresent)
	fmt.Fprintf(tw, "expired during the copy (skipped)\t%d\n", res.Expired)
	rate := 0.0
	if res.Seconds > 0 {
		rate = float64(res.Copied+res.AlreadyPresent+res.Expired) / res.Seconds
	}
	fmt.Fprintf(tw, "took\t%s (%.0f sessions/s)\n", time.Duration(res.Seconds*float64(time.Second)).Round(time.Millisecond), rate)
	return tw.Flush()
}

// checkURL validates a URL flag without connecting.
func (a *app) checkURL(flag, rawURL string) (string, error) {
	if rawURL == "" {
		return "", usageError("%s needs a store URL", flag)
	}
	if err := storeurl.Check(rawURL); err != nil {
		return "", &exitError{exitUsage, fmt.Errorf("%s: %w", flag, err)}
	}
	return rawURL, nil
}

type copyState int

const (
	copiedState copyState = iota
	presentState
	expiredState
)

// copyOne creates e on dst unless dst has a live record under its key.
// dst is nil in a dry run whose target does not exist yet.
func (a *app) copyOne(ctx context.Context, dst sessionkit.Store, e sessionkit.Entry, dryRun bool) (copyState, error) {
	if !e.Record.Expiry.After(a.now()) {
		return expiredState, nil
	}
	if dst == nil {
		return copiedState, nil
	}
	octx, cancel := a.op(ctx)
	defer cancel()
	if dryRun {
		_, err := dst.Load(octx, e.Key)
		switch {
		case err == nil:
			return presentState, nil
		case errors.Is(err, sessionkit.ErrNotFound), errors.Is(err, pgstore.ErrNoTable), errors.Is(err, mysqlstore.ErrNoTable):
			return copiedState, nil
		}
		return 0, fmt.Errorf("look up %s on the target: %w", e.Key, err)
	}
	rec := sessionkit.Record{Data: e.Record.Data, Expiry: e.Record.Expiry, UserKey: e.Record.UserKey}
	_, err := dst.Save(octx, e.Key, rec)
	switch {
	case err == nil:
		return copiedState, nil
	case errors.Is(err, sessionkit.ErrConflict):
		return presentState, nil
	}
	return 0, fmt.Errorf("save %s on the target: %w", e.Key, err)
}
