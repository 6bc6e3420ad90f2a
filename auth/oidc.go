package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// authTimeSkew is the clock difference allowed when checking auth_time
// against max_age.
const authTimeSkew = 10 * time.Second

// OIDC is the OpenID Connect strategy (passport-openidconnect, "Sign in
// with Google"): the authorization code flow with PKCE (S256) against a
// provider found by discovery, with github.com/coreos/go-oidc and
// golang.org/x/oauth2.
//
// A request without state, code or error query parameters starts a login:
// OIDC keeps a fresh state, nonce and PKCE verifier in the session and
// redirects to the provider. The provider's answer (a top-level GET, so
// the SameSite=Lax session cookie arrives with it) is the callback: the
// state must name a login in progress of this session, and is then used
// up, whatever follows; the code is exchanged for tokens; the ID token is
// verified — signature against the provider's JWKS, issuer, audience
// (and azp when there are several), expiry, the nonce, at_hash when
// present — and MapUser maps the issuer and subject, with the claims, to
// the application's user. With the MaxAgeParam query parameter (which
// RequireRecent sets) or MaxAge, the provider is asked for max_age and an
// ID token whose auth_time is missing or older is refused; the login's
// AuthAt is the provider's auth_time.
//
// Mount one Authenticator over it on the start route and the callback
// route (they may be the same path), with FailureRedirect set, and
// SuccessRedirect too when it has a Next handler, so that the callback
// ends with a redirect that drops code and state from the address bar (a
// success that goes on to Next is answered at the callback's URL).
// RedirectURL is the callback's absolute URL, from configuration: the
// request's Host is never used. The token endpoint's client
// authentication is AuthStyle, or else taken from discovery
// (token_endpoint_auth_methods_supported: client_secret_basic when
// listed or when the list is absent, else client_secret_post), never
// guessed by retrying.
//
// Faults: a missing, unknown, expired or replayed state fails (400,
// MsgLoginExpired); error=access_denied fails (401, MsgLoginCancelled);
// an ID token that does not verify, a nonce mismatch or a stale auth_time
// fails (401); a provider that is down or slower than the HTTP client's
// timeout (default DefaultProviderTimeout) is an error (503). Discovery
// happens at the first login and is retried after a failure. No token,
// code or state reaches a log or a message, and none is put in a cookie
// other than the session's own.
type OIDC[U any] struct {
	// Name identifies the strategy in the session and in LoginInfo.Method
	// (default "oidc").
	Name string
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document says ("https://accounts.google.com").
	Issuer string
	// ClientID and ClientSecret are the client's credentials.
	ClientID, ClientSecret string
	// RedirectURL is the absolute URL of the callback route, as
	// registered at the provider.
	RedirectURL string
	// Scopes to ask for (default openid, profile and email; openid is
	// always included).
	Scopes []string
	// AuthStyle overrides how the client authenticates at the token
	// endpoint (default: from discovery, see above).
	AuthStyle oauth2.AuthStyle
	// MaxAge, if set, asks for max_age on every login.
	MaxAge time.Duration
	// UserInfo also fetches the UserInfo endpoint and merges its claims
	// (its subject must match the ID token's).
	UserInfo bool
	// AuthParams are more authorization request parameters (prompt,
	// login_hint, hd, …).
	AuthParams url.Values
	// MapUser finds, links or creates the application's user for an
	// identity, or returns ErrUserNotFound to refuse it (403,
	// MsgNoAccount). Key users by Identity.Issuer and Identity.Subject,
	// never by e-mail alone.
	MapUser func(ctx context.Context, id Identity) (U, error)
	// HTTPClient makes the calls to the provider (default: one with a
	// DefaultProviderTimeout timeout).
	HTTPClient *http.Client
	// Now is the clock used for the ID token and the login's lifetime
	// (default time.Now).
	Now func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
	config   *oauth2.Config
	verifier *oidc.IDTokenVerifier
	client   *http.Client
}

func (o *OIDC[U]) name() string { return orDefault(o.Name, "oidc") }

func (o *OIDC[U]) clock() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// discover returns the provider and the client's configuration, running
// discovery the first time (and again after a failure).
func (o *OIDC[U]) discover(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, o.config, nil
	}

	if o.Issuer == "" || o.ClientID == "" || o.MapUser == nil {
		return nil, nil, errors.New("auth: OIDC needs Issuer, ClientID and MapUser")
	}
	if u, err := url.Parse(o.RedirectURL); err != nil || !u.IsAbs() {
		return nil, nil, errors.New("auth: OIDC RedirectURL must be an absolute URL")
	}
	client := providerClient(o.HTTPClient)
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), timeoutOf(client))
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: OpenID Connect discovery for %s: %w", o.Issuer, redactURLError(err))
	}
	ep := p.Endpoint()
	ep.AuthStyle = o.AuthStyle
	if ep.AuthStyle == oauth2.AuthStyleAutoDetect {
		var meta struct {
			Methods []string `json:"token_endpoint_auth_methods_supported"`
		}
		_ = p.Claims(&meta)
		switch {
		case len(meta.Methods) == 0 || slices.Contains(meta.Methods, "client_secret_basic"):
			ep.AuthStyle = oauth2.AuthStyleInHeader
		case slices.Contains(meta.Methods, "client_secret_post"):
			ep.AuthStyle = oauth2.AuthStyleInParams
		default:
			return nil, nil, fmt.Errorf("auth: OpenID provider %s supports neither client_secret_basic nor client_secret_post (%v); set AuthStyle", o.Issuer, meta.Methods)
		}
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	} else if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	// The key set is fetched once and refreshed when a token names an
	// unknown key.
	o.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), client),
		&oidc.Config{ClientID: o.ClientID, Now: o.clock})
	o.provider, o.client = p, client
	o.config = &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: ep,
		RedirectURL: o.RedirectURL, Scopes: scopes}
	return o.provider, o.config, nil
}

// timeoutOf returns the client's timeout, or DefaultProviderTimeout.
func timeoutOf(c *http.Client) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultProviderTimeout
}

// Authenticate implements Strategy.
func (o *OIDC[U]) Authenticate(r *http.Request) Result[U] {
	f := flow{name: o.name(), now: o.Now}
	if !isCallback(r) {
		_, cfg, err := o.discover(r.Context())
		if err != nil {
			return Error[U](err)
		}
		maxAge := int64(o.MaxAge / time.Second)
		if n := maxAgeParam(r); n > 0 && (maxAge == 0 || n < maxAge) {
			maxAge = n
		}
		p, err := f.begin(r, true, maxAge)
		if err != nil {
			return Error[U](fmt.Errorf("auth: start %s login: %w", o.name(), err))
		}
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(p.Verifier), oidc.Nonce(p.Nonce)}
		if maxAge > 0 {
			opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(maxAge, 10)))
		}
		for k, vs := range o.AuthParams {
			for _, v := range vs {
				opts = append(opts, oauth2.SetAuthURLParam(k, v))
			}
		}
		return Redirect[U](cfg.AuthCodeURL(p.State, opts...))
	}
	p, code, bad := finish[U](f, r)
	if bad != nil {
		return *bad
	}
	provider, cfg, err := o.discover(r.Context())
	if err != nil {
		return Error[U](err)
	}
	client := o.client
	ctx, cancel := context.WithTimeout(r.Context(), timeoutOf(client))
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	tok, bad := exchange[U](ctx, cfg, code, p)
	if bad != nil {
		return *bad
	}
	notVerified := func(err error) Result[U] {
		res := Failure[U](http.StatusUnauthorized, MsgNotVerified)
		res.Err = err
		return res
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return notVerified(errors.New("token response has no id_token"))
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return notVerified(fmt.Errorf("ID token: %w", err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return notVerified(errors.New("ID token nonce does not match the login's"))
	}
	var claims struct {
		AuthTime          json.Number `json:"auth_time"`
		AZP               string      `json:"azp"`
		Email             string      `json:"email"`
		EmailVerified     any         `json:"email_verified"`
		Name              string      `json:"name"`
		PreferredUsername string      `json:"preferred_username"`
	}
	var rawClaims json.RawMessage
	if err := idt.Claims(&rawClaims); err != nil {
		return notVerified(fmt.Errorf("ID token claims: %w", err))
	}
	if err := json.Unmarshal(rawClaims, &claims); err != nil {
		return notVerified(fmt.Errorf("ID token claims: %w", err))
	}
	if len(idt.Audience) > 1 && claims.AZP != o.ClientID {
		return notVerified(errors.New("ID token has several audiences and azp is not this client"))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return notVerified(errors.New("ID token at_hash does not match the access token"))
		}
	}
	authTime := time.Unix(0, 0) // unknown: never counts as recent
	if claims.AuthTime != "" {
		secs, err := claims.AuthTime.Float64()
		if err != nil {
			return notVerified(errors.New("ID token auth_time is not a number"))
		}
		authTime = time.Unix(int64(secs), 0)
	}
	if p.MaxAge > 0 {
		if claims.AuthTime == "" {
			return notVerified(errors.New("max_age was asked for but the ID token has no auth_time"))
		}
		if o.clock().Sub(authTime) > time.Duration(p.MaxAge)*time.Second+authTimeSkew {
			res := Failure[U](http.StatusUnauthorized, MsgNotRecent)
			res.Err = fmt.Errorf("ID token auth_time is older than max_age=%d", p.MaxAge)
			return res
		}
	}
	id := Identity{
		Provider: o.name(), Issuer: idt.Issuer, Subject: idt.Subject,
		Email: claims.Email, EmailVerified: claims.EmailVerified == true || claims.EmailVerified == "true",
		Name: claims.Name, Username: claims.PreferredUsername,
		Claims: rawClaims, Token: tok,
	}
	if claims.AuthTime != "" {
		id.AuthTime = authTime
	}
	if o.UserInfo && provider.UserInfoEndpoint() != "" {
		ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return Error[U](fmt.Errorf("auth: %s userinfo: %w", o.name(), redactURLError(err)))
		}
		if ui.Subject != idt.Subject {
			return notVerified(errors.New("UserInfo subject differs from the ID token's"))
		}
		var extra map[string]any
		if err := ui.Claims(&extra); err == nil {
			var merged map[string]any
			_ = json.Unmarshal(rawClaims, &merged)
			for k, v := range extra {
				if _, ok := merged[k]; !ok {
					merged[k] = v
				}
			}
			if b, err := json.Marshal(merged); err == nil {
				id.Claims = b
			}
			if id.Email == "" {
				id.Email, id.EmailVerified = ui.Email, ui.EmailVerified
			}
			if s, ok := merged["name"].(string); ok && id.Name == "" {
				id.Name = s
			}
			if s, ok := merged["preferred_username"].(string); ok && id.Username == "" {
				id.Username = s
			}
		}
	}
	res := mapUser(r.Context(), o.MapUser, id, o.name())
	if res.Outcome == Succeeded {
		res.AuthTime = authTime
	}
	return res
}
