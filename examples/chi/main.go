// Command chi is sessionkit with the chi router (github.com/go-chi/chi/v5).
// chi speaks net/http, so Manager.Handler (or auth.Auth.Handler, which
// includes it) is ordinary chi middleware, and handlers reach the session
// with sessionkit.From(r.Context()) as anywhere else.
//
//	go run . -addr 127.0.0.1:8080
//	curl -c jar -b jar -X POST 'http://127.0.0.1:8080/visits'
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// New returns the app: a visit counter per session.
func New(sessions *sessionkit.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(http.NewCrossOriginProtection().Handler) // refuse cross-site POSTs before any session work
	r.Use(sessions.Handler)                        // every route below has a session
	r.Get("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok") // never touches the session: no store call, no cookie
	})
	r.Route("/visits", func(r chi.Router) {
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "visits")
			if err != nil {
				http.Error(w, "session unavailable", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintf(w, "%d visits\n", n)
		})
		r.Post("/", func(w http.ResponseWriter, r *http.Request) {
			// Update, not Get then Set: concurrent posts all count.
			n, err := sessionkit.Update(sessionkit.From(r.Context()), "visits", func(n int) (int, error) { return n + 1, nil })
			if err != nil {
				http.Error(w, "session unavailable", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintf(w, "%d visits\n", n)
		})
	})
	return r
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(addr string) error {
	store := memstore.New(memstore.Options{MaxEntries: 100_000})
	defer store.Close()
	srv := &http.Server{Addr: addr, Handler: New(sessionkit.New(store)), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Printf("listening on http://%s/", addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}
