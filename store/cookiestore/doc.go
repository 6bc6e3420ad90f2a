// Package cookiestore keeps whole sessions in the client's cookie, sealed
// with XChaCha20-Poly1305, so that the server keeps no session state.
//
// A Store implements sessionkit.ClientStore. Give it to
// sessionkit.NewClientSide and use the Manager and Session API as with any
// server-side store: sessions are opened lazily, a new cookie is sent only
// when the session changed (or its idle expiry is due for extension, or
// its cookie was sealed with a retired key), and Regenerate, Destroy,
// RememberMe and the idle and absolute timeouts behave as documented
// there.
//
//	secret, _ := base64.StdEncoding.DecodeString(os.Getenv("SESSION_SECRET")) // 32+ random bytes
//	cs, err := cookiestore.New("session", secret)
//	if err != nil {
//		log.Fatal(err)
//	}
//	m := sessionkit.NewClientSide(cs)
//	m.Cookie.Name = cs.CookieName() // the name is bound into every token
//	m.Lifetime = 8 * time.Hour
//	m.IdleTimeout = 30 * time.Minute
//	http.ListenAndServe(":8080", http.NewCrossOriginProtection().Handler(m.Handler(mux)))
//
// # Keys and rotation
//
// Each secret must be at least MinSecretLen (32) bytes of random data;
// New refuses shorter ones with ErrShortSecret. A 256-bit key and a 4-byte
// key ID are derived from each secret with HKDF-SHA256, so secrets are
// never used as keys directly and the ID reveals nothing about the key.
//
// Secrets are listed newest first. Tokens are sealed with the first and
// open with any listed one; a token sealed with an older key is re-sealed
// with the newest on the next response to a request that uses its session
// (a read is enough; a request that never touches the session does not
// open its token), even when the session did not change (the Store implements sessionkit.ClientResealer). To rotate: put
// the new secret first, deploy, and drop the old secret once every token
// sealed with it has expired (after the Manager's Lifetime). A retired
// secret that is removed makes its tokens open as no session.
//
// Anyone who knows a secret can forge any session: keep secrets out of
// source control and rotate them if they leak.
//
// # Token format
//
// A token is the unpadded base64url encoding (RFC 4648 §5) of
//
//	version   1 byte   format version, 1
//	key ID    4 bytes  names the key that sealed the token
//	nonce    24 bytes  random, fresh for every token
//	sealed    n bytes  XChaCha20-Poly1305 ciphertext and 16-byte tag
//
// The associated data is the version byte, the key ID and the cookie name,
// so a token does not open under another cookie name or format. The sealed
// plaintext is
//
//	flags     1 byte   bit 0: body is deflate-compressed; others zero
//	expiry    8 bytes  big-endian Unix milliseconds
//	body               uvarint length of the user key, the user key,
//	                   then the session data (see sessionkit.Codec)
//
// Open refuses (as sessionkit.ErrNotFound, never a panic) any token that is
// malformed, truncated, tampered with, sealed with an unlisted key or for
// another cookie name (ErrInvalidToken), or whose sealed expiry has passed
// on the Store's clock (ErrExpired). Options.Now sets that clock; give it
// the Manager's when tests inject one.
//
// # Size
//
// Browsers silently drop cookies over about 4096 bytes. Seal reports
// sessionkit.ErrTooLarge for a token over Options.MaxTokenSize (default
// 4096) or a body over Options.MaxDataSize (default 64 KiB), and the
// Manager also checks the final cookie value against its CookieTransport's
// MaxSize; either way the request ends with the Manager's ErrorHandler
// (by default a 500), never with a cookie the browser will discard. A body
// of 256 bytes or more is compressed with deflate when that makes it
// smaller. Decompression stops at MaxDataSize, so a small token cannot
// expand into a large allocation. Sealed overhead is 54 bytes before
// base64 (72 characters after).
//
// # Limits of keeping no server state
//
//   - No server-side revocation: Destroy, logout and Regenerate only
//     replace or clear the cookie in the browser that made the request. A
//     copy of an older token (stolen, or kept by another device) stays
//     valid until its sealed expiry. Keep Lifetime and IdleTimeout short,
//     and rotate the secret to invalidate every session at once.
//   - Replay: for the same reason, an old token can be presented again
//     until it expires, bringing back the session as it was then (for
//     example a cart before checkout). Do not keep anything in a
//     client-side session whose rollback would matter, such as balances
//     or one-time tokens.
//   - No per-user list: the server cannot list or revoke one user's
//     sessions. Manager.Store returns nil for a client-side Manager, and
//     the auth package's per-user functions return
//     sessionkit.ErrNotSupported.
//   - The session travels with every request: keep it small (a user key
//     and a few preferences), and remember the client can see how large
//     it is, though not what it holds.
package cookiestore
