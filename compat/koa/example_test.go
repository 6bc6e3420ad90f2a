package koa_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/koa"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// koa-session's default, cookie mode:
//
//	app.keys = [process.env.KEY, process.env.OLD_KEY];
//	app.use(session({ maxAge: 7 * 86400000 }, app));
func ExampleNewCookieMode() {
	m, err := koa.NewCookieMode(koa.Options{
		Keys:   []string{"the current key", "keyboard cat"},
		MaxAge: 7 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = m.Handler // wrap the app's mux
}

// koa-session with koa-redis as its external store:
//
//	app.use(session({ store: redisStore({ url }), prefix: 'sess:' }, app));
func ExampleConfigureStore() {
	ctx := context.Background()
	store, err := redisstore.NewFromURL(ctx, os.Getenv("REDIS_URL"), redisstore.Options{
		Layout:    redisstore.LayoutConnectRedis,
		NoPrefix:  true, // the Redis key is koa-session's external key
		UserKeyOf: express.UserKey,
	})
	if err != nil {
		log.Fatal(err)
	}
	m := sessionkit.New(koa.NewExternalStore(store)) // renewals move "_expire" too
	if err := koa.ConfigureStore(m, koa.Options{Keys: []string{"the current key"}, Prefix: "sess:"}); err != nil {
		log.Fatal(err)
	}
}

// koa-generic-session with koa-redis:
//
//	app.use(session({ store: redisStore({ url }), cookie: { maxAge: 3600000 } }));
func ExampleConfigureGeneric() {
	ctx := context.Background()
	store, err := redisstore.NewFromURL(ctx, os.Getenv("REDIS_URL"), redisstore.Options{
		Layout:    redisstore.LayoutConnectRedis,
		Prefix:    koa.DefaultGenericPrefix, // "koa:sess:"
		UserKeyOf: express.UserKey,
	})
	if err != nil {
		log.Fatal(err)
	}
	m := sessionkit.New(store)
	if err := koa.ConfigureGeneric(m, koa.GenericOptions{Keys: []string{"the current key"}, MaxAge: time.Hour}); err != nil {
		log.Fatal(err)
	}
}

// The way forward from cookie mode: sessions sealed and encrypted by
// cookiestore, each koa-session cookie taken over on its next request.
func ExampleNewCookieImporter() {
	sealed, err := cookiestore.New("session", []byte(os.Getenv("SESSION_KEY_32_BYTES")))
	if err != nil {
		log.Fatal(err)
	}
	m := sessionkit.NewClientSide(sealed)
	imp, err := koa.NewCookieImporter(koa.Options{Keys: []string{"the current key", "keyboard cat"}})
	if err != nil {
		log.Fatal(err)
	}
	m.Import = imp
	// With auth: users.Field = express.PassportField{}, where the
	// imported passport.user is.
}
