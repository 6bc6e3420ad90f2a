// Command gorillamux is sessionkit with gorilla/mux
// (github.com/gorilla/mux). gorilla/mux speaks net/http, so
// Manager.Handler is ordinary mux middleware (Router.Use), and handlers
// reach the session with sessionkit.From(r.Context()) as anywhere else.
//
//	go run . -addr 127.0.0.1:8080
//	curl -c jar -b jar -X POST 'http://127.0.0.1:8080/notes/todo?text=milk'
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

	"github.com/gorilla/mux"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// New returns the app: short notes kept in the session, by name.
func New(sessions *sessionkit.Manager) http.Handler {
	r := mux.NewRouter()
	r.Use(http.NewCrossOriginProtection().Handler) // refuse cross-site POSTs before any session work
	r.Use(sessions.Handler)                        // mux.MiddlewareFunc is func(http.Handler) http.Handler
	r.HandleFunc("/notes/{name}", func(w http.ResponseWriter, r *http.Request) {
		note, err := sessionkit.Get[string](sessionkit.From(r.Context()), "note:"+mux.Vars(r)["name"])
		if err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, note)
	}).Methods(http.MethodGet)
	r.HandleFunc("/notes/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("note:"+mux.Vars(r)["name"], r.URL.Query().Get("text")); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}).Methods(http.MethodPost)
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
