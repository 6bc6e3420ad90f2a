package sessionkit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/cookiestore"
)

// startBody sends GET path with q's client in the background and yields
// its status and body.
func (q *queueEnv) startBody(path string) <-chan [2]string {
	ch := make(chan [2]string, 1)
	go func() {
		resp, err := q.client.Get(q.srv.URL + path)
		if err != nil {
			q.t.Errorf("GET %s: %v", path, err)
			ch <- [2]string{"0", ""}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		ch <- [2]string{strconv.Itoa(resp.StatusCode), string(body)}
	}()
	return ch
}

// adder returns add, whose functions add d and count their calls.
func adder(calls *atomic.Int64) (add func(d int) func(int) (int, error)) {
	return func(d int) func(int) (int, error) {
		return func(n int) (int, error) {
			calls.Add(1)
			return n + d, nil
		}
	}
}

// TestOutsiderUpdateMergedWithOtherChanges: a request whose commit waits
// behind another one's is merged with it, its change log applied in order
// to what the other saved. Its Update is computed again there, among the
// request's own Set, Delete, Clear and Destroy of the same key, in the
// order the handler made them; and "Each request learns the merged result
// (its later reads see it ...)" (doc.go, "No lost updates").
func TestOutsiderUpdateMergedWithOtherChanges(t *testing.T) {
	tests := []struct {
		name  string
		do    func(s *sessionkit.Session, add func(int) func(int) (int, error)) error
		calls int64  // fn calls in the merged request: the first, and one per merge
		want  string // n as stored afterwards ("-" for none) and as read after Save
		// noCommit: the request commits nothing, so it does not wait; it
		// reads n as it loaded it (1).
		noCommit bool
	}{
		{"update", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			_, err := sessionkit.Update(s, "n", add(1))
			return err
		}, 2, "12", false},
		{"update twice", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			sessionkit.Update(s, "n", add(1))
			_, err := sessionkit.Update(s, "n", add(2))
			return err
		}, 4, "14", false},
		{"update then set", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			sessionkit.Update(s, "n", add(1))
			return s.Set("n", 100)
		}, 2, "100", false},
		{"set then update", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			s.Set("n", 100)
			_, err := sessionkit.Update(s, "n", add(1))
			return err
		}, 2, "101", false},
		{"delete then update", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			s.Delete("n")
			_, err := sessionkit.Update(s, "n", add(1))
			return err
		}, 2, "1", false},
		{"update then delete", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			sessionkit.Update(s, "n", add(1))
			s.Delete("n")
			return nil
		}, 2, "-", false},
		{"clear then update", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			s.Clear()
			_, err := sessionkit.Update(s, "n", add(1))
			return err
		}, 2, "1", false},
		{"update of another key", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			_, err := sessionkit.Update(s, "m", add(5))
			return err
		}, 2, "11", false},
		// "A result equal (in its JSON form) to the value read is not a
		// change": nothing is committed, the other request's value stays.
		{"update to the same value", func(s *sessionkit.Session, add func(int) func(int) (int, error)) error {
			_, err := sessionkit.Update(s, "n", add(0))
			return err
		}, 1, "11", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueueEnv(t)
			var calls atomic.Int64
			q.handle("GET /upd/{d}", func(w http.ResponseWriter, r *http.Request) {
				var held atomic.Int64
				if _, err := sessionkit.Update(sessionkit.From(r.Context()), "n", adder(&held)(atoi(r.PathValue("d")))); err != nil {
					http.Error(w, err.Error(), 500)
				}
			})
			q.handle("GET /case", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if _, err := sessionkit.Get[int](s, "n"); err != nil { // load before the held commit is saved
					t.Error(err)
				}
				err := tt.do(s, adder(&calls))
				if err == nil {
					err = s.Save()
				}
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				if !s.Has("n") {
					fmt.Fprint(w, "-")
					return
				}
				n, _ := sessionkit.Get[int](s, "n")
				fmt.Fprint(w, n)
			})
			q.handle("GET /n", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if !s.Has("n") {
					fmt.Fprint(w, "-")
					return
				}
				n, _ := sessionkit.Get[int](s, "n")
				fmt.Fprint(w, n)
			})
			q.get("/inc") // n = 1
			held := q.hold("/upd/10")
			merged := q.startBody("/case")
			if tt.noCommit {
				if r := <-merged; r[0] != "200" || r[1] != "1" {
					t.Errorf("request: %s, read %q after Save; want 200 and 1", r[0], r[1])
				}
			} else {
				q.waitQueued(1)
			}
			q.gated.release()
			if c := <-held; c != 200 {
				t.Errorf("held request: %d", c)
			}
			if !tt.noCommit {
				if r := <-merged; r[0] != "200" || r[1] != tt.want {
					t.Errorf("merged request: %s, read %q after Save; want 200 and %s", r[0], r[1], tt.want)
				}
			}
			if _, n, _ := q.get("/n"); n != tt.want {
				t.Errorf("n = %s afterwards, want %s", n, tt.want)
			}
			if c := calls.Load(); c != tt.calls {
				t.Errorf("the merged request's functions were called %d times, want %d (once each, once more on the merge)", c, tt.calls)
			}
			q.checkNoErrors()
		})
	}
}

// TestOutsiderUpdateDetached: a session loaded outside a request
// (Manager.Load, Manager.LoadKey) "works as in a handler, with the same
// compare-and-swap" (Manager.Load): its Update, saved while a request's
// commit is in flight, is merged with it and both increments count.
func TestOutsiderUpdateDetached(t *testing.T) {
	for _, byKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("byKey=%v", byKey), func(t *testing.T) {
			q := newQueueEnv(t)
			q.handle("GET /upd", func(w http.ResponseWriter, r *http.Request) {
				if _, err := sessionkit.Update(sessionkit.From(r.Context()), "n", func(n int) (int, error) { return n + 10, nil }); err != nil {
					http.Error(w, err.Error(), 500)
				}
			})
			q.get("/inc") // n = 1
			id := q.jarCookie(q.client)
			ctx := context.Background()
			var s *sessionkit.Session
			var err error
			if byKey {
				s, err = q.m.LoadKey(ctx, q.m.KeyOf(id))
			} else {
				s, err = q.m.Load(ctx, id)
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, err := sessionkit.Update(s, "n", func(n int) (int, error) { return n + 1, nil }); err != nil || v != 2 {
				t.Fatalf("Update on the loaded session = %v, %v; want 2", v, err)
			}
			held := q.hold("/upd")
			saved := make(chan error, 1)
			go func() { saved <- s.Save() }()
			q.waitQueued(1)
			q.gated.release()
			if c := <-held; c != 200 {
				t.Errorf("held request: %d", c)
			}
			if err := <-saved; err != nil {
				t.Fatalf("Save of the loaded session: %v", err)
			}
			if n, _ := sessionkit.Get[int](s, "n"); n != 12 {
				t.Errorf("the loaded session reads n = %d after Save, want 12 (the merged result)", n)
			}
			if _, body, _ := q.get("/inc"); body != "13" {
				t.Errorf("n = %s after both increments and one more, want 13", body)
			}
		})
	}
}

// TestOutsiderUpdateRolling: an Update is a write like Set. Under
// RollingOnWrite "only a request that changes the session extends it (and
// sends a persistent cookie again)", under RollingAlways the cookie is
// sent on every response, under the default every write saves the new
// expiry and "whenever the store's expiry moves, a persistent cookie is
// sent with the new expiry" (doc.go). Update and Set send the same
// cookie; an Update that changes nothing sends what a read sends.
func TestOutsiderUpdateRolling(t *testing.T) {
	for _, mode := range []sessionkit.Rolling{sessionkit.RollingThrottled, sessionkit.RollingOnWrite, sessionkit.RollingAlways} {
		for _, persistent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/persistent=%v", mode, persistent), func(t *testing.T) {
				clk := newClock()
				e := newEnv(t, func(m *sessionkit.Manager) {
					m.Now = clk.Now
					m.Rolling = mode
				})
				e.handle("GET /new", func(w http.ResponseWriter, r *http.Request) {
					s := sessionkit.From(r.Context())
					s.RememberMe(persistent)
					s.Set("n", 1)
				})
				e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
					s := sessionkit.From(r.Context())
					n, _ := sessionkit.Get[int](s, "n")
					s.Set("n", n+1)
				})
				e.handle("GET /update/{d}", func(w http.ResponseWriter, r *http.Request) {
					s := sessionkit.From(r.Context())
					sessionkit.Update(s, "n", func(n int) (int, error) { return n + atoi(r.PathValue("d")), nil })
				})
				e.get("/new")
				maxAge := func(path string) string {
					clk.Advance(10 * time.Minute)
					_, _, resp := e.get(path)
					c := sessionCookie(resp, "session")
					if c == nil {
						return "none"
					}
					return strconv.Itoa(c.MaxAge)
				}
				set, upd, same := maxAge("/set"), maxAge("/update/1"), maxAge("/update/0")
				if upd != set {
					t.Errorf("Update's cookie Max-Age %s, Set's %s: want the same", upd, set)
				}
				// A browser-session cookie carries no Max-Age (0 here).
				wantWrite, wantSame := "none", "none"
				switch {
				case persistent:
					wantWrite = "7200"
				case mode == sessionkit.RollingAlways:
					wantWrite = "0"
				}
				if mode == sessionkit.RollingAlways || (mode == sessionkit.RollingThrottled && persistent) {
					wantSame = wantWrite // sent again, or a read's touch moved the expiry
				}
				if upd != wantWrite {
					t.Errorf("Update's cookie Max-Age %s, want %s", upd, wantWrite)
				}
				if same != wantSame {
					t.Errorf("an Update that changes nothing: cookie Max-Age %s, want %s", same, wantSame)
				}
			})
		}
	}
}

// TestOutsiderUpdateClientSide: "A client-side store (the session in its
// cookie) cannot merge: the client keeps the last response's cookie, and
// with it that request's value" (Update). Two requests sent with the same
// cookie each count from it; the cookie kept holds one increment.
func TestOutsiderUpdateClientSide(t *testing.T) {
	cs, err := cookiestore.New("session", bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	m := sessionkit.NewClientSide(cs)
	m.Logger = discardLogger()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /add", func(w http.ResponseWriter, r *http.Request) {
		n, err := sessionkit.Update(sessionkit.From(r.Context()), "n", func(n int) (int, error) { return n + 1, nil })
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, n)
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(cookie string) (string, *http.Cookie) {
		req, _ := http.NewRequest("GET", srv.URL+"/add", nil)
		if cookie != "" {
			req.Header.Set("Cookie", "session="+cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body), sessionCookie(resp, "session")
	}
	_, first := get("")
	a, ca := get(first.Value) // two requests with the same cookie, as concurrent ones are sent
	b, cb := get(first.Value)
	if a != "2" || b != "2" || ca == nil || cb == nil {
		t.Fatalf("two requests from one cookie counted %s and %s (cookies %v, %v), want 2 each with a new cookie", a, b, ca, cb)
	}
	if n, _ := get(cb.Value); n != "3" {
		t.Errorf("after the last response's cookie: %s, want 3 (one increment of the two is in it)", n)
	}
}

// TestOutsiderUpdateReplayTooLarge: an Update computed again on the merged
// state can make the session exceed MaxDataSize although what its request
// computed fits. Only that request is refused, with the ErrTooLarge answer
// (500), as with a Set too large to merge; the others are saved.
func TestOutsiderUpdateReplayTooLarge(t *testing.T) {
	const item = 1000
	q := newQueueEnv(t, func(m *sessionkit.Manager) { m.MaxDataSize = 2*item + 600 })
	q.handle("GET /append/{c}", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if _, err := sessionkit.Get[[]string](s, "l"); err != nil { // load before the held commit is saved
			t.Error(err)
		}
		v := strings.Repeat(r.PathValue("c"), item)
		_, err := sessionkit.Update(s, "l", func(l []string) ([]string, error) { return append(l, v), nil })
		if err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	q.handle("GET /list", func(w http.ResponseWriter, r *http.Request) {
		l, _ := sessionkit.Get[[]string](sessionkit.From(r.Context()), "l")
		for _, v := range l {
			fmt.Fprint(w, v[:1])
		}
	})
	q.get("/inc")
	held := q.hold("/append/a")
	b := q.start("/append/b")
	q.waitQueued(1)
	c := q.start("/append/c")
	q.waitQueued(2)
	q.gated.release()
	if code := <-held; code != 200 {
		t.Errorf("held: %d", code)
	}
	if code := <-b; code != 200 {
		t.Errorf("second append: %d, want 200 (two items fit)", code)
	}
	if code := <-c; code != 500 {
		t.Errorf("third append: %d, want 500 (three items exceed MaxDataSize)", code)
	}
	if _, l, _ := q.get("/list"); l != "ab" {
		t.Errorf("list %q, want ab", l)
	}
	q.wantObserved(sessionkit.ErrTooLarge)
}

// TestOutsiderUpdateWithRegenerate: Regenerate "gives the session a new
// ID, keeping its values", so Updates before and after it in one request
// are both kept under the new ID. When the session was ended by another
// request meanwhile, the new session holds "only what the request wrote
// since Regenerate" (Session.Regenerate): an Update made after
// Regenerate is computed again on that new, empty session, whose counter
// starts from zero, and one made before it is dropped with the old values.
func TestOutsiderUpdateWithRegenerate(t *testing.T) {
	for _, endedMeanwhile := range []bool{false, true} {
		t.Run(fmt.Sprintf("endedMeanwhile=%v", endedMeanwhile), func(t *testing.T) {
			e := newEnv(t)
			e.counterRoutes()
			loaded, proceed := make(chan struct{}), make(chan struct{})
			e.handle("GET /login", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				sessionkit.Update(s, "before", add1)
				loaded <- struct{}{}
				<-proceed
				if err := s.Regenerate(); err != nil {
					t.Error(err)
				}
				if _, err := sessionkit.Update(s, "n", add1); err != nil {
					t.Error(err)
				}
			})
			e.handle("GET /logout", func(w http.ResponseWriter, r *http.Request) {
				sessionkit.From(r.Context()).Destroy()
			})
			e.handle("GET /state", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				n, _ := sessionkit.Get[int](s, "n")
				fmt.Fprintf(w, "n=%d before=%v", n, s.Has("before"))
			})
			e.get("/inc")
			e.get("/inc") // n = 2
			old := e.jarCookie(e.client)
			done := make(chan int, 1)
			go func() {
				code, _, _ := e.get("/login")
				done <- code
			}()
			<-loaded
			if endedMeanwhile {
				if code, _, _ := e.requestWithCookie("/logout", "session="+old); code != 200 {
					t.Fatalf("logout: %d", code)
				}
			}
			close(proceed)
			if code := <-done; code != 200 {
				t.Fatalf("login: %d", code)
			}
			if e.jarCookie(e.client) == old {
				t.Fatal("the login kept the old ID")
			}
			want := "n=3 before=true"
			if endedMeanwhile {
				want = "n=1 before=false"
			}
			if _, got, _ := e.get("/state"); got != want {
				t.Errorf("after the login: %s, want %s", got, want)
			}
		})
	}
}

func add1(n int) (int, error) { return n + 1, nil }
