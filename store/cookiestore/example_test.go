package cookiestore_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/cookiestore"
)

func Example() {
	// In production, load the secret from configuration; never generate
	// it at start-up, or every restart logs everyone out.
	secret := make([]byte, 32)
	rand.Read(secret)

	cs, err := cookiestore.New("session", secret)
	if err != nil {
		log.Fatal(err)
	}
	m := sessionkit.NewClientSide(cs)
	m.Cookie.Name = cs.CookieName()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "visits")
		if err := s.Set("visits", n+1); err != nil {
			http.Error(w, "session error", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
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

// Rotating keys: the new secret goes first; the old one stays until the
// tokens it sealed have expired.
func ExampleNew_rotation() {
	oldSecret := []byte("an-old-secret-of-at-least-32-bytes!!")
	newSecret := []byte("a-new-secret-of-at-least-32-bytes!!!")
	cs, err := cookiestore.New("session", newSecret, oldSecret)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cs.CookieName())

	_, err = cookiestore.New("session", []byte("short"))
	fmt.Println(err)
	// Output:
	// session
	// cookiestore: secret too short: secret 0 is 5 bytes, need at least 32 (for example 32 bytes from crypto/rand)
}
