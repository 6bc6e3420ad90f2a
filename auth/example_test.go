package auth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/auth/password"
	"github.com/sessionkit/sessionkit/store/memstore"
)

type Account struct {
	ID, Name, Hash string
}

func Example() {
	// A tiny user database.
	hash, _ := password.Params{Memory: 64, Time: 1, Threads: 1}.Hash("s3cret")
	accounts := map[string]*Account{"7": {ID: "7", Name: "ada", Hash: hash}}
	byName := func(_ context.Context, name string) (*Account, string, error) {
		for _, a := range accounts {
			if a.Name == name {
				return a, a.Hash, nil
			}
		}
		return nil, "", auth.ErrUserNotFound
	}

	store := memstore.New(memstore.Options{})
	defer store.Close()
	users := auth.New(sessionkit.New(store),
		func(a *Account) string { return a.ID },
		func(_ context.Context, id string) (*Account, error) {
			if a, ok := accounts[id]; ok {
				return a, nil
			}
			return nil, auth.ErrUserNotFound
		})

	mux := http.NewServeMux()
	mux.Handle("/login", &auth.FormLogin[*Account]{
		Auth:   users,
		Verify: auth.PasswordVerifier(password.Params{Memory: 64, Time: 1, Threads: 1}, byName, nil),
	})
	mux.Handle("GET /account", users.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := users.User(r)
		list, err := users.Sessions(r)
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "hello %s, %d session(s), current first: %v", a.Name, len(list), list[0].Current)
	})))
	srv := httptest.NewServer(users.Handler(mux))
	defer srv.Close()

	// A browser.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func(resp *http.Response, err error) string {
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Request.URL.Path + ": " + strings.TrimSpace(string(b))
	}

	page := get(browser.Get(srv.URL + "/account"))
	fmt.Println(strings.Contains(page, "Sign in"), strings.Contains(page, `value="/account"`))
	fmt.Println(get(browser.PostForm(srv.URL+"/login", url.Values{
		"username": {"ada"}, "password": {"s3cret"}, "return_to": {"/account"},
	})))
	// Output:
	// true true
	// /account: hello ada, 1 session(s), current first: true
}
