// Package oidcop runs a real OpenID provider in process on loopback for
// tests: zitadel/oidc's op package (an OpenID Certified implementation)
// with its example in-memory storage and login page. It is a nested module
// so that zitadel/oidc and its dependencies stay out of sessionkit's
// go.mod; its own tests run package auth's OpenID Connect flows against
// it, and the demo's browser test signs in through it in Chromium.
package oidcop

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"
)

// The one account of the provider and the client it knows.
const (
	Username     = "alice@example.com"
	Password     = "correct horse battery"
	Subject      = "alice-subject-1"
	ClientID     = "sessionkit-test"
	ClientSecret = "sessionkit-test-secret"
)

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is its issuer URL, http://127.0.0.1:PORT.
	Issuer string
	srv    *http.Server
	done   chan error
}

// Start starts a provider on a free loopback port that lets the client
// ClientID (secret ClientSecret, client_secret_basic) redirect to
// redirectURIs. Close stops it.
func Start(redirectURIs ...string) (*Provider, error) {
	if len(redirectURIs) == 0 {
		return nil, errors.New("oidcop: at least one redirect URI is needed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oidcop: %w", err)
	}
	issuer := "http://" + ln.Addr().String()
	st := storage.NewStorageWithClients(users{}, map[string]*storage.Client{
		ClientID: storage.WebClient(ClientID, ClientSecret, redirectURIs...),
	})
	router := exampleop.SetupServer(issuer, st, nil, false)
	p := &Provider{Issuer: issuer, done: make(chan error, 1),
		srv: &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}}
	go func() { p.done <- p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the provider and waits for it.
func (p *Provider) Close() error {
	err := p.srv.Close()
	if serr := <-p.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// users is the provider's user database: one account.
type users struct{}

var alice = &storage.User{
	ID: Subject, Username: Username, Password: Password,
	FirstName: "Alice", LastName: "Liddell", Email: Username, EmailVerified: true,
	PreferredLanguage: language.English,
}

func (users) GetUserByID(id string) *storage.User {
	if id == Subject {
		return alice
	}
	return nil
}

func (users) GetUserByUsername(name string) *storage.User {
	if name == Username {
		return alice
	}
	return nil
}

func (users) ExampleClientID() string { return "service" }
