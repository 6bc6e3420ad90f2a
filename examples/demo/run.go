package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// shutdownTimeout bounds how long Run waits for requests in flight once
// its context is done.
const shutdownTimeout = 10 * time.Second

// Run parses the command line, opens the stores, serves the demo until ctx
// is done, then shuts the server down gracefully and closes the stores
// (releasing the files for the next start). It prints the URL to stdout
// and logs to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	dataDir := fs.String("data", "data", "directory for the data files (created if missing)")
	store := fs.String("store", "", "session store URL: sqlite://PATH, bolt://PATH, memory://, redis://HOST, postgres://HOST/DB, mysql://HOST/DB, mongodb://HOST/DB (default sqlite://DATA/sessions.sqlite)")
	secure := fs.String("secure-cookies", "auto", "when cookies get the Secure attribute: auto (over HTTPS only), always or never")
	var oidc OIDCConfig
	fs.StringVar(&oidc.Issuer, "oidc-issuer", "", "OpenID Connect provider issuer URL; turns on the \"Sign in with …\" button")
	fs.StringVar(&oidc.ClientID, "oidc-client-id", "", "the demo's client ID at the provider")
	fs.StringVar(&oidc.ClientSecret, "oidc-client-secret", os.Getenv("DEMO_OIDC_CLIENT_SECRET"), "the demo's client secret (default $DEMO_OIDC_CLIENT_SECRET)")
	fs.StringVar(&oidc.Name, "oidc-name", "your provider", "the provider's name on the button")
	fs.StringVar(&oidc.RedirectURL, "oidc-redirect-url", "", "the callback URL registered at the provider (default http://ADDR/auth/oidc/callback)")
	withMetrics := fs.Bool("metrics", false, "serve the session metrics on /metrics (Prometheus text format)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: demo [flags]\n\nThe sessionkit demo web app.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	mode, err := parseSecure(*secure)
	if err != nil {
		return err
	}
	if oidc.Issuer != "" && oidc.ClientID == "" {
		return errors.New("demo: -oidc-issuer needs -oidc-client-id")
	}
	if *store != "" {
		// Refused before the data directory is made.
		if err := storeurl.Check(*store); err != nil {
			return fmt.Errorf("demo: open session store: %w", err)
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("demo: create data directory: %w", err)
	}
	if *store == "" {
		*store = fileURL("sqlite", filepath.Join(*dataDir, "sessions.sqlite"))
	}
	st, err := storeurl.Open(ctx, *store, storeurl.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("demo: open session store: %w", err)
	}
	defer st.Close()

	// Accounts go into the session store's bolt file when the sessions
	// are in bolt, else into a small bolt file of their own (only the demo
	// opens it; the sessions' file is the one other processes share).
	var users *Users
	if bs, ok := st.(*boltstore.Store); ok {
		users, err = NewUsers(bs.DB())
	} else {
		users, err = OpenUsers(filepath.Join(*dataDir, "users.db"))
	}
	if err != nil {
		return err
	}
	defer users.Close()

	cfg := Config{
		Store:     st,
		Users:     users,
		StoreName: storeName(*store),
		Secure:    mode,
		Logger:    logger,
	}
	if oidc.Issuer != "" {
		if oidc.RedirectURL == "" {
			oidc.RedirectURL = "http://" + *addr + "/auth/oidc/callback"
		}
		cfg.OIDC = &oidc
	}
	var met *metrics
	if *withMetrics {
		met = newMetrics()
		cfg.Observer = met.observe
	}
	handler, err := New(cfg)
	if err != nil {
		return err
	}
	if met != nil {
		handler = met.mount(handler)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "sessionkit demo listening on %s (sessions: %s)\n", siteURL(ln.Addr()), storeurl.Redact(*store))
	logger.Info("demo started", "addr", ln.Addr().String(), "store", storeurl.Redact(*store), "data", *dataDir)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("demo: serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("demo shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("demo: shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("demo: serve: %w", err)
	}
	return nil
}

func parseSecure(s string) (sessionkit.SecureMode, error) {
	switch s {
	case "auto":
		return sessionkit.SecureAuto, nil
	case "always":
		return sessionkit.SecureAlways, nil
	case "never":
		return sessionkit.SecureNever, nil
	}
	return 0, fmt.Errorf("demo: -secure-cookies %q: want auto, always or never", s)
}

// fileURL returns the scheme:// URL (sqlite, bolt) of a file path.
func fileURL(scheme, path string) string {
	return scheme + "://" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath()
}

// storeName describes a store URL for the page footer.
func storeName(rawURL string) string {
	switch s := storeurl.Scheme(rawURL); {
	case s == "sqlite":
		return "a SQLite file"
	case s == "bolt":
		return "a bolt file"
	case s == "memory":
		return "memory"
	case strings.HasPrefix(s, "redis"):
		return "Redis"
	case strings.HasPrefix(s, "postgres"):
		return "PostgreSQL"
	case s == "mysql" || s == "mariadb":
		return "MySQL"
	case strings.HasPrefix(s, "mongodb"):
		return "MongoDB"
	default:
		return s
	}
}

// siteURL is the address to print for a listener: unspecified hosts
// (":8080", "[::]:8080") become localhost.
func siteURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
