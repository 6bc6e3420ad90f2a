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
//	http.ListenAndServe(":8080", sessions.Handler(mux))
//
// # What happens when
//
// A request that never touches its session costs no store call. The first
// Get, Set, Has or similar loads it. A new session is stored (and its cookie
// sent) only once it holds data, unless Manager.SaveUninitialized is set. An
// unmodified session is never rewritten; its idle expiry is extended by a
// cheap Touch at most once per Manager.TouchInterval.
//
// Changes are committed when the handler first writes headers (WriteHeader,
// Write or Flush), calls Session.Save, or returns. If the commit fails, the
// handler's response is replaced by Manager.ErrorHandler's (default 503) and
// the cause is logged; nothing the handler wrote reaches the client. A change
// made after the headers went out is still saved when no new cookie is
// needed, and otherwise reported (ErrHeadersSent) through the Logger and the
// Observer.
//
// # No lost updates
//
// The Session records each change (set key, delete key, clear, owner,
// remember-me). Stores save with compare-and-swap on a version; when another
// request saved first, the Manager reloads the record, replays this request's
// changes and tries again (up to Manager.MaxRetries). Two concurrent requests
// that change different keys therefore both win. A session destroyed or
// revoked meanwhile stays gone: its changes are dropped.
//
// # Security defaults
//
// IDs are 256 bits from crypto/rand. Stores see only the SHA-256 of an ID
// (Manager.RawKeys turns that off for layouts shared with other software).
// Tokens that are not well-formed are ignored without a store call, and an
// unknown ID is never adopted. Cookies are HttpOnly, SameSite=Lax, Path=/,
// and Secure when the request is HTTPS (directly, or through a proxy listed
// in Manager.Proxies). Sessions have an idle timeout and an absolute lifetime;
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
