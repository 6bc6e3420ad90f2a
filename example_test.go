package sessionkit_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// A visit counter: the session is loaded on first use and saved, with its
// cookie, before the response goes out.
func Example() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	sessions := sessionkit.New(store)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, err := sessionkit.Get[int](s, "visits")
		if err != nil {
			http.Error(w, "bad session value", http.StatusInternalServerError)
			return
		}
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	})
	srv := httptest.NewServer(sessions.Handler(mux))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar} // a browser: keeps the cookie
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// visit 1
	// visit 2
	// visit 3
}

// A flash message: set before a redirect, read once on the next page.
func ExamplePop() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	sessions := sessionkit.New(store)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /save", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("flash", "Saved.")
		http.Redirect(w, r, "/", http.StatusSeeOther) // the session is saved first
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		msg, _ := sessionkit.Pop[string](sessionkit.From(r.Context()), "flash")
		fmt.Fprintf(w, "flash: %q", msg)
	})
	srv := httptest.NewServer(sessions.Handler(mux))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	show := func(resp *http.Response, err error) {
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	show(client.Post(srv.URL+"/save", "", nil)) // follows the redirect
	show(client.Get(srv.URL + "/"))
	// Output:
	// flash: "Saved."
	// flash: ""
}

// A counter that concurrent requests cannot lose: Update's function is
// called again on the merged value when commits meet, where Get then Set
// would keep only one of two concurrent increments.
func ExampleUpdate() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	sessions := sessionkit.New(store)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /like", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if _, err := sessionkit.Update(s, "likes", func(n int) (int, error) { return n + 1, nil }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /likes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "likes")
		fmt.Fprintf(w, "%d likes", n)
	})
	srv := httptest.NewServer(sessions.Handler(mux))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Post(srv.URL+"/like", "", nil) // creates the session
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	var wg sync.WaitGroup
	for range 50 { // 50 at once, on the same session
		wg.Go(func() {
			if resp, err := client.Post(srv.URL+"/like", "", nil); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	resp, err = client.Get(srv.URL + "/likes")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output:
	// 51 likes
}
