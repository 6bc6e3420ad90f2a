package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/auth"
)

// OIDCConfig turns on the "Sign in with …" button: an OpenID Connect
// provider the demo is registered at.
type OIDCConfig struct {
	// Name labels the button ("Sign in with Name").
	Name string
	// Issuer, ClientID and ClientSecret identify the provider and the
	// demo's registration there.
	Issuer, ClientID, ClientSecret string
	// RedirectURL is the demo's callback, http(s)://HOST/auth/oidc/callback,
	// as registered at the provider.
	RedirectURL string
}

// linksBucket maps a provider's issuer and subject to the demo account
// they signed in as: accounts are keyed by issuer + subject, never by
// e-mail address.
const linksBucket = "demo_oidc_links"

var notUsername = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Link returns the account linked to the identity, creating one (named
// after the provider's preferred username, made unique) on first sign-in.
func (u *Users) Link(ctx context.Context, id auth.Identity) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	link := []byte(id.Issuer + "\x00" + id.Subject)
	base := notUsername.ReplaceAllString(cmpOr(id.Username, id.Name, strings.SplitN(id.Email, "@", 2)[0], "user"), "-")
	base = strings.Trim(base, ".-_")
	if len(base) > 24 {
		base = base[:24]
	}
	for len(base) < 3 {
		base += "x"
	}
	var user User
	err := u.db.Update(func(tx *bbolt.Tx) error {
		links, err := tx.CreateBucketIfNotExists([]byte(linksBucket))
		if err != nil {
			return err
		}
		users := tx.Bucket([]byte(usersBucket))
		if key := links.Get(link); key != nil {
			v := users.Get(key)
			if v == nil {
				return auth.ErrUserNotFound // account deleted: do not recreate silently
			}
			return json.Unmarshal(v, &user)
		}
		name := base
		for i := 2; users.Get([]byte(userKey(name))) != nil; i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		user = User{Name: name, Created: time.Now().UTC()}
		val, err := json.Marshal(user)
		if err != nil {
			return err
		}
		if err := users.Put([]byte(user.Key()), val); err != nil {
			return err
		}
		return links.Put(link, []byte(user.Key()))
	})
	if err != nil && !errors.Is(err, auth.ErrUserNotFound) {
		return User{}, fmt.Errorf("demo: link %s account: %w", id.Provider, err)
	}
	return user, err
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// oidcRoutes mounts the provider's start and callback routes.
func (a *app) oidcRoutes(mux *http.ServeMux, cfg *OIDCConfig) {
	signIn := a.auth.Authenticate(auth.Options[User]{
		SuccessRedirect: "/", SuccessReturnTo: true, SuccessFlash: true,
		SuccessMessage:  "Signed in with " + cfg.Name + ".",
		FailureRedirect: "/login", FailureFlash: true,
	}, &auth.OIDC[User]{
		Name: "oidc", Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		RedirectURL: cfg.RedirectURL, UserInfo: true,
		MapUser: a.users.Link,
	})
	mux.Handle("GET /auth/oidc", signIn)
	mux.Handle("GET /auth/oidc/callback", signIn)
}
