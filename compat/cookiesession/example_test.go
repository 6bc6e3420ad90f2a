package cookiesession_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/cookiesession"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// app.use(cookieSession({ keys: [process.env.KEY, process.env.OLD_KEY], maxAge: 24 * 3600 * 1000 }))
func ExampleNew() {
	m, err := cookiesession.New(cookiesession.Options{
		Keys:   []string{"the current key", "keyboard cat"},
		MaxAge: 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = m.Handler // wrap the app's mux
}

// The way forward: a server-side store, each cookie-session cookie taken
// over on its next request.
func ExampleNewImporter() {
	store, err := redisstore.NewFromURL(context.Background(), os.Getenv("REDIS_URL"), redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	m := sessionkit.New(store)
	imp, err := cookiesession.NewImporter(cookiesession.Options{Keys: []string{"the current key"}, MaxAge: 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	m.Import = imp
}
