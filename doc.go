// Package sessionkit provides HTTP sessions for net/http: a middleware that
// loads a session lazily, records what a request changed, and commits it
// before the response headers go out, over pluggable stores.
//
// # Quick start
//
//	store := memstore.New(memstore.Options{})
//	defer store.Close()
//	sessions := sessionkit.New(store)
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
//		s := sessionkit.From(r.Context())
//		n, err := sessionkit.Get[int](s, "visits")
//		if err != nil {
//			http.Error(w, "bad session value", http.StatusInternalServerError)
//			return
//		}
//		s.Set("visits", n+1)
//		fmt.Fprintf(w, "visit %d\n", n+1)
//	})
//	http.ListenAndServe(":8080", http.NewCrossOriginProtection().Handler(sessions.Handler(mux)))
//
// Session cookies are SameSite=Lax, which stops most cross-site requests
// from carrying them, but not all (sibling subdomains are "same site").
// Wrap the application's handlers with the standard library's
// http.CrossOriginProtection, as above, so that every unsafe request
// (POST, PUT, DELETE, …) from another origin is refused before it can
// change a session; the auth package's handlers refuse them on their own.
//
// # What happens when
//
// A request that never touches its session costs no store call. The first
// Get, Set, Has or similar loads it. A new session is stored (and its cookie
// sent) only once it holds data, unless Manager.SaveUninitialized is set
// (then as soon as it is loaded; an untouched one is still never stored).
// An unmodified session is never rewritten; its idle expiry is extended by
// a cheap Touch (see Session lifetime).
//
// A token whose session is gone (expired, revoked, logged out elsewhere,
// or never issued) reads as a new, empty session, and the response leaves
// the client's cookie alone unless the request stores a new session: only
// a request that ends the session itself (Destroy, or Regenerate with
// nothing left to store) clears it, and only when it came with a token: a
// Destroy on a request without one sends no Set-Cookie (or, with a
// HeaderTransport, no empty token header). A request sent with the old
// cookie before a login and answered after it therefore cannot sign the
// user out again, and a client's stale cookie goes on its own Max-Age, as
// with express-session.
//
// Changes are committed when the handler first writes headers (WriteHeader,
// Write or Flush), calls Session.Save, or returns. If the commit fails, the
// handler's response is replaced by Manager.ErrorHandler's (default 503) and
// the cause is logged; nothing the handler wrote reaches the client. A change
// made after the headers went out is still saved when no new cookie is
// needed, and otherwise reported (ErrHeadersSent) through the Logger and the
// Observer.
//
// # Session lifetime
//
// Every session has two limits, and ends at whichever comes first:
//
//   - the idle timeout: it ends when it has not been used for this long.
//     The default is Manager.IdleTimeout (2h); Session.SetIdleTimeout
//     gives one session its own, as express-session's
//     req.session.cookie.maxAge and koa-session's ctx.session.maxAge do.
//   - the absolute deadline: it ends then however busy it is. The default
//     is its creation time plus Manager.Lifetime (24h); Session.SetDeadline
//     moves it for one session. Lifetime 0 means no absolute deadline
//     (express-session and koa-session have none); a Manager needs at least
//     one of the two.
//
// A session's own idle timeout and deadline are saved with it, so every
// later request, every store, the cookie and every process sharing the
// store honour them. Session.IdleTimeout and Session.Deadline report the
// values in force, Session.Expires the resulting expiry.
//
// How use extends the idle expiry is Manager.Rolling's choice:
//
//   - RollingThrottled (the default): every use extends it. A write saves
//     the new expiry with the data; a request that only reads moves it
//     with a Touch at most once per touch interval, which is the smaller
//     of Manager.TouchInterval (1m) and a quarter of the session's idle
//     timeout. A session last used at T ends between T + idle − interval
//     and T + idle.
//   - RollingAlways: every request that uses the session extends it
//     exactly (a write or a touch each time) and the cookie is sent on
//     every such response; express-session's and koa-session's rolling:
//     true.
//   - RollingNever: the expiry is fixed at creation, Created + idle
//     timeout.
//   - RollingOnWrite: only a request that changes the session extends
//     it (and sends a persistent cookie again); reads do not.
//     koa-session's, koa-generic-session's and cookie-session's default.
//
// Session.Touch extends a session on a request that does not read it.
// Whenever the store's expiry moves, a persistent cookie is sent with the
// new expiry (Max-Age and Expires), so the browser keeps the cookie exactly
// as long as the server keeps the session. Except under RollingAlways, an
// expiry that does not move sends no cookie: a write to a session whose
// expiry is already capped by its absolute deadline leaves the browser the
// cookie it holds, which expires then too. Session.RememberMe chooses a
// persistent cookie (the default, Manager.Persistent) or a browser-session
// cookie, which the browser drops when it closes while the server still
// applies the idle timeout. A touch the store refuses (say, Redis is out of
// memory) is logged and observed, and the request is answered with the
// session and its earlier expiry; a write the store refuses fails the
// request.
//
// # Shared caches
//
// When the handler used its session, the response gets Vary: Cookie (or
// the header transport's request header). Only a use before the response
// headers go out (WriteHeader, the first Write or Flush) can be told: a
// handler that first reads its session after them gets no Vary, so it
// must not mark its response publicly cacheable (or must read the session
// first). When it sets or clears the session's token, the Manager keeps
// shared caches from storing it: a response with no Cache-Control gets
// "private"; one whose Cache-Control allows shared caching gets
// private="Set-Cookie" (with a HeaderTransport, its response header:
// private="Session-Token") added, which caches either honour (they drop
// the header) or read as plain private. The handler's own directives are
// never removed. A custom Transport names its headers by implementing
// TokenHeaderer (CookieTransport and HeaderTransport do, so a Transport
// embedding one of them is covered); one that does not gets no Vary.
//
// # Several sessions, and sessions outside a request
//
// Several Managers can wrap one handler, each with its own cookie name and
// lifetime (a long login session beside a short checkout one); each
// Manager's From returns its own session, the package-level From the
// innermost. Nested Managers that would write the same cookie (or, with
// HeaderTransports, read or write the same header) refuse every request
// instead of overwriting each other.
//
// A WebSocket or server-sent events handler keeps using the request's
// session after the upgrade or the first flush; Save commits what changes
// then. A background job acts on a session by its ID or store key with
// Manager.Load or Manager.LoadKey and commits with Save, under the same
// compare-and-swap, lifetime and size rules (a background change does not
// extend the session's idle expiry). Session.Status tells a handler
// whether its request changed or destroyed the session so far.
//
// # No lost updates
//
// The Session records each change (set key, delete key, clear, owner,
// remember-me, lifetime). Stores save with compare-and-swap on a version.
// Commits to one session from one Manager meet in the Manager first: while
// one is being saved, the others wait behind it, and are then saved
// together, their changes applied in arrival order to what was just saved,
// with one compare-and-swap. Each request learns the merged result (its
// later reads see it, and its cookie carries the expiry that was saved), so
// any number of concurrent writers in one process are all answered and
// none of them conflicts. When a writer elsewhere (another process, or
// another Manager over the same store) saved first, the Manager reloads the
// record, replays the changes and tries again, after a short random
// backoff from the second conflict on, up to Manager.MaxRetries times. Two
// concurrent requests that change different keys therefore both win.
//
// Replaying a Set stores the value its request computed, so of two
// concurrent requests that each read a counter and Set it one higher, one
// increment is lost: the same key is last-writer-wins. Update records the
// function instead of its result, and calls it again on the value stored
// whenever its change is merged or replayed, so concurrent increments,
// appends to a list and other read-modify-writes of one value all count,
// in one process or across several (not in a client-side session, which
// has nothing to merge with, nor one committed in the instant between
// another request's Regenerate checking the old record and deleting it;
// see Update and Session.Regenerate).
//
// A session destroyed or revoked meanwhile stays gone: its changes are
// dropped, and a Regenerate does not bring its values back under a new ID
// (see Session.Regenerate).
//
// A request waiting in the queue is bounded by its own context, not by
// OpTimeout (which bounds each store call): if its context ends while it
// waits, it returns at once and its changes are not saved. A batch's store
// calls go on as long as any of its requests still waits for them.
//
// # Security defaults
//
// IDs are 256 bits from crypto/rand. Stores see only the SHA-256 of an ID
// (Manager.RawKeys turns that off for layouts shared with other software).
// Tokens that are not well-formed are ignored without a store call, and an
// unknown ID is never adopted. Cookies are HttpOnly, SameSite=Lax, Path=/,
// and Secure when the request is HTTPS (directly, or through a
// TLS-terminating proxy listed in Manager.Proxies that sends
// X-Forwarded-Proto: https). Sessions have an idle timeout and an absolute lifetime;
// call Session.Regenerate when privileges change (the auth package does so on
// login). Cookies can additionally be signed (CookieTransport.Signer).
//
// # Stores
//
// A Store keeps opaque records under keys, with compare-and-swap versions and
// expiry; optional interfaces add a per-user index (UserIndex), iteration
// (Iterator), explicit sweeping (Sweeper) and Close (Closer). The package
// store/storetest is the conformance suite every store runs. Client-side
// sessions (store/cookiestore) plug in through NewClientSide and ClientStore.
package sessionkit
