package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// Exit codes (documented in doc.go and docs/CLI.md).
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitNotFound = 3
)

// storeEnv names the variable that supplies --store's default.
const storeEnv = "SESSIONKIT_STORE"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries the exit code a command failed with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

func notFoundError(format string, args ...any) error {
	return &exitError{exitNotFound, fmt.Errorf(format, args...)}
}

// app holds what every command shares: global flags and output streams.
type app struct {
	stdout, stderr io.Writer
	storeURL       string
	timeout        time.Duration
	json           bool
	verbose        bool
	now            func() time.Time
	stderrIsTTY    bool
	// idleTimeout and lifetime are the application's Manager.IdleTimeout
	// and Lifetime as list and show take them (--idle-timeout,
	// --lifetime); the Manager's defaults for every other command.
	idleTimeout, lifetime time.Duration
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	defaults := sessionkit.New(nil)
	a := &app{stdout: stdout, stderr: stderr, now: time.Now, idleTimeout: defaults.IdleTimeout, lifetime: defaults.Lifetime}
	if f, ok := stderr.(*os.File); ok {
		a.stderrIsTTY = term.IsTerminal(int(f.Fd()))
	}
	// go-redis logs connection retries through a process-wide logger;
	// route them to --verbose output instead of the terminal.
	redis.SetLogger(redisLogger{a})
	root := a.rootCommand()
	root.SetArgs(keyOperands(root, args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// Errors that did not come from a command's RunE are cobra's
		// argument and flag parsing errors.
		ee = &exitError{exitUsage, err}
	}
	fmt.Fprintf(stderr, "sessionkit: %v\n", err)
	if ee.code == exitUsage {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ee.code
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "sessionkit",
		Short: "Inspect, revoke, purge and migrate sessionkit sessions",
		Long: `sessionkit is the operator's tool for sessionkit session stores.

The store is named by a URL, given with --store or the SESSIONKIT_STORE
environment variable:

  sqlite://PATH             a SQLite file (relative, or sqlite:///absolute/path);
                            readable and writable while the application runs
  bolt://PATH               a bbolt file (relative, or bolt:///absolute/path);
                            one process at a time: stop the application first
  memory://                 an empty in-process store (demos only)
  redis://HOST[:PORT][/DB]  Redis; also rediss://, redis+sentinel://, redis+cluster://
  postgres://USER@HOST/DB   PostgreSQL (?table=NAME)
  mysql://USER@HOST/DB      MySQL or MariaDB (?table=NAME)
  mongodb://HOST/DB         MongoDB (?collection=NAME)

Redis, PostgreSQL and MongoDB URLs take ?layout=connect-redis,
connect-pg-simple or connect-mongo for the stores of an Express app
(express-session), which migrate turns into native sessions.

Exit codes: 0 ok, 1 the operation failed, 2 usage error (bad flag,
argument or URL), 3 not found.`,
		Example: `  sessionkit --store sqlite://data/sessions.sqlite stats
  sessionkit --store redis://127.0.0.1:6379/0 list --user alice
  sessionkit show 2jmj7l5rSw0yVb_vlWAYkK_YBwk... --json
  sessionkit revoke --user alice
  sessionkit migrate --from redis://old:6379 --to postgres://app@db/app
  sessionkit migrate --from 'redis://cache:6379?layout=connect-redis' --to redis://cache:6379
  sessionkit doctor postgres://app@db/app`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// A bare "sessionkit" prints help; an unknown subcommand is an error.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVarP(&a.storeURL, "store", "s", os.Getenv(storeEnv), "store URL (default $"+storeEnv+")")
	pf.DurationVar(&a.timeout, "timeout", 10*time.Second, "bound on connecting and on each store operation; iterations fail when the store stops answering for this long")
	pf.BoolVar(&a.json, "json", false, "print JSON instead of tables")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "log the stores' informational messages to stderr")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%v", err)
	})
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if a.timeout <= 0 {
			return usageError("--timeout must be positive")
		}
		return nil
	}
	root.AddCommand(
		a.statsCommand(),
		a.listCommand(),
		a.showCommand(),
		a.revokeCommand(),
		a.purgeCommand(),
		a.migrateCommand(),
		a.doctorCommand(),
	)
	// Errors a command returns without an exit code mean the operation
	// failed (exit 1); anything else that reaches run is cobra's usage
	// error.
	for _, c := range root.Commands() {
		if c.RunE == nil {
			continue
		}
		runE := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := runE(cmd, args)
			var ee *exitError
			if err != nil && !errors.As(err, &ee) {
				return &exitError{exitFailed, err}
			}
			return err
		}
	}
	return root
}

// minKeyOperand is the shortest argument keyOperands takes for a session
// ID or store key: express-session's IDs have 32 characters, sessionkit's
// IDs and hashed keys 43; no flag name is that long.
const minKeyOperand = 32

// keyOperands returns args with the session IDs and store keys given to
// show and revoke that begin with "-" moved behind "--". They are base64url
// text, which begins with "-" once in 64 times; the flag parser would
// otherwise take one for a cluster of short flags and fail on it.
func keyOperands(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || (cmd.Name() != "show" && cmd.Name() != "revoke") {
		return args
	}
	flags := pflag.NewFlagSet(cmd.Name(), pflag.ContinueOnError)
	flags.AddFlagSet(cmd.Flags())
	flags.AddFlagSet(root.PersistentFlags())
	takesValue := func(arg string) bool { // arg is a flag whose value is the next argument
		var f *pflag.Flag
		switch {
		case strings.HasPrefix(arg, "--") && !strings.Contains(arg, "="):
			f = flags.Lookup(arg[2:])
		case len(arg) == 2 && arg[0] == '-':
			f = flags.ShorthandLookup(arg[1:])
		}
		return f != nil && f.NoOptDefVal == ""
	}
	var kept, moved []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			break
		}
		if len(arg) >= minKeyOperand && arg[0] == '-' && isBase64URL(arg) {
			moved = append(moved, arg)
			continue
		}
		kept = append(kept, arg)
		if takesValue(arg) && i+1 < len(args) {
			i++
			kept = append(kept, args[i])
		}
	}
	if len(moved) == 0 {
		return args
	}
	rest := []string{"--"}
	if n := len(kept) + len(moved); n < len(args) { // args had a "--"
		rest = args[n:]
	}
	return slices.Concat(kept, rest[:1], moved, rest[1:])
}

func isBase64URL(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// args returns a cobra argument validator that reports a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("%s takes %s (got %s)", cmd.Name(), what, plural(len(args), "argument", "arguments"))
		}
		return nil
	}
}

func (a *app) logger() *slog.Logger {
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// redisLogger passes go-redis's messages to the --verbose log.
type redisLogger struct{ a *app }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.a.logger().DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// open connects to the store named by rawURL within --timeout. Stores are
// opened without background sweepers; create says whether missing files
// and tables may be created.
func (a *app) open(ctx context.Context, flag, rawURL string, create bool) (storeurl.Store, error) {
	if rawURL == "" {
		return nil, usageError("no store: give %s URL or set %s", flag, storeEnv)
	}
	if err := storeurl.Check(rawURL); err != nil {
		return nil, &exitError{exitUsage, err}
	}
	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	s, err := storeurl.Open(cctx, rawURL, storeurl.Options{NoCreate: !create, NoSweeper: true, Logger: a.logger()})
	if err != nil {
		if errors.Is(err, storeurl.ErrBadURL) {
			return nil, &exitError{exitUsage, err}
		}
		if cctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%w (no answer within --timeout %s)", err, a.timeout)
		}
		return nil, err
	}
	return s, nil
}

// openStore opens the --store store for a command that only reads or
// deletes.
func (a *app) openStore(ctx context.Context) (storeurl.Store, error) {
	return a.open(ctx, "--store", a.storeURL, false)
}

// op bounds one store call by --timeout.
func (a *app) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.timeout)
}

// each iterates every live record of s. The iteration as a whole is not
// bounded, but it fails when the store yields nothing for --timeout.
func (a *app) each(ctx context.Context, s sessionkit.Store, fn func(sessionkit.Entry) error) error {
	it, ok := s.(sessionkit.Iterator)
	if !ok {
		return fmt.Errorf("this store cannot list its sessions (it does not implement sessionkit.Iterator)")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("the store sent nothing for --timeout %s", a.timeout)
	watchdog := time.AfterFunc(a.timeout, func() { cancel(stalled) })
	defer watchdog.Stop()
	for e, err := range it.All(ctx) {
		if err != nil {
			if context.Cause(ctx) == stalled {
				return fmt.Errorf("%w: %w", stalled, err)
			}
			return err
		}
		watchdog.Stop()
		if err := fn(e); err != nil {
			return err
		}
		watchdog.Reset(a.timeout)
	}
	return ctx.Err()
}

// resolve finds the session named by arg, which is a store key or a
// session ID: the key is tried first, then the key derived from the ID.
func (a *app) resolve(ctx context.Context, s sessionkit.Store, arg string) (string, sessionkit.Record, error) {
	if arg == "" {
		return "", sessionkit.Record{}, usageError("empty session ID or key")
	}
	load := func(key string) (sessionkit.Record, error) {
		octx, cancel := a.op(ctx)
		defer cancel()
		return s.Load(octx, key)
	}
	rec, err := load(arg)
	if err == nil {
		return arg, rec, nil
	}
	if !errors.Is(err, sessionkit.ErrNotFound) {
		return "", sessionkit.Record{}, err
	}
	key := a.manager(s).KeyOf(arg)
	if key != arg {
		rec, err = load(key)
		if err == nil {
			return key, rec, nil
		}
		if !errors.Is(err, sessionkit.ErrNotFound) {
			return "", sessionkit.Record{}, err
		}
	}
	return "", sessionkit.Record{}, notFoundError("no live session with key or ID %q", arg)
}

// closeStore closes s, reporting a failure on stderr.
func (a *app) closeStore(s storeurl.Store) {
	if err := s.Close(); err != nil {
		fmt.Fprintf(a.stderr, "sessionkit: %v\n", err)
	}
}

// printJSON prints v as indented JSON. Strings are written as they are:
// '<', '>' and '&' are not escaped for HTML ("< 1h", not "\u003c 1h").
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// marshalJSON is json.Marshal without HTML escaping, like printJSON.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (a *app) table() *tabwriter.Writer {
	return tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
}

// formatTime shows an instant in UTC, or "-" when it is unknown.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// stamp is a time and how long ago or ahead it is, "2026-01-02T15:04:05Z
// (in 3h)"; a single "-" when unknown.
func stamp(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return formatTime(t) + " (" + relative(t, now) + ")"
}

// jsonTime is a time for JSON output: RFC 3339 in UTC, null when unknown.
func jsonTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// human shows a duration the way people say it: 45s, 12m, 3h20m, 4d6h.
func human(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		s = fmt.Sprintf("%dh%02dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		s = fmt.Sprintf("%dd%dh", days, h)
	}
	if neg {
		return "-" + s
	}
	return s
}

// relative says how far t is from now: "in 2h00m" or "3d4h ago".
func relative(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if d := t.Sub(now); d >= 0 {
		return "in " + human(d)
	}
	return human(now.Sub(t)) + " ago"
}

// bytesHuman shows a byte count with a binary unit.
func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// plural says how many of something there are: "1 user", "2 users",
// "0 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// orDash shows "-" for an empty string in tables.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable makes s safe to show in a table cell: control characters are
// escaped.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}
