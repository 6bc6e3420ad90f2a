package sessionkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestUpdate covers Update within one request: what fn is given, what is
// recorded, and the errors that leave the session unchanged.
func TestUpdate(t *testing.T) {
	errFn := errors.New("fn refused")
	tests := []struct {
		name    string
		stored  any // the value under "v" before the request; nil: none
		fn      func(int) (int, error)
		want    int
		wantErr error // errors.Is; nil: none
		decErr  bool  // the stored value does not decode into an int
		changed bool  // the request changed the session
		after   string
	}{
		{name: "missing key gives the zero value", fn: func(n int) (int, error) { return n + 1, nil }, want: 1, changed: true, after: "1"},
		{name: "stored value", stored: 41, fn: func(n int) (int, error) { return n + 1, nil }, want: 42, changed: true, after: "42"},
		{name: "same value is no change", stored: 7, fn: func(n int) (int, error) { return n, nil }, want: 7, after: "7"},
		{name: "fn's error changes nothing", stored: 7, fn: func(int) (int, error) { return 0, errFn }, wantErr: errFn, after: "7"},
		{name: "undecodable stored value", stored: "seven", fn: func(n int) (int, error) { return n + 1, nil }, decErr: true, after: `"seven"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.handle("GET /seed", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if tt.stored != nil {
					s.Set("v", tt.stored)
				} else {
					s.Set("other", true)
				}
			})
			e.handle("GET /update", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				calls := 0
				got, err := sessionkit.Update(s, "v", func(n int) (int, error) {
					calls++
					return tt.fn(n)
				})
				switch {
				case tt.decErr:
					if err == nil || calls != 0 {
						t.Errorf("Update over %v = %v, %v after %d calls; want a decode error and no call", tt.stored, got, err, calls)
					}
				case tt.wantErr != nil:
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("Update = %v, %v; want %v", got, err, tt.wantErr)
					}
				case err != nil || got != tt.want:
					t.Errorf("Update = %v, %v; want %v", got, err, tt.want)
				}
				if calls > 1 {
					t.Errorf("fn called %d times in a lone request, want at most 1", calls)
				}
				if c := s.Status() == sessionkit.Modified; c != tt.changed {
					t.Errorf("Status() == Modified is %v, want %v", c, tt.changed)
				}
			})
			e.handle("GET /raw", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				v, err := sessionkit.Get[any](s, "v")
				if err != nil {
					t.Error(err)
				}
				b, _ := json.Marshal(v)
				w.Write(b)
			})
			e.get("/seed")
			e.get("/update")
			if _, body, _ := e.get("/raw"); body != tt.after {
				t.Errorf("stored after = %s, want %s", body, tt.after)
			}
		})
	}
}

func TestUpdateNilSession(t *testing.T) {
	if _, err := sessionkit.Update(nil, "n", func(n int) (int, error) { return n + 1, nil }); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("Update on no session: %v, want ErrNoSession", err)
	}
}

// TestUpdateAfterSetInOneRequest: a Set after an Update of the same key in
// one request wins, and an Update after a Set starts from the set value.
func TestUpdateAfterSetInOneRequest(t *testing.T) {
	e := newEnv(t)
	e.handle("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("a", 10)
		if v, err := sessionkit.Update(s, "a", func(n int) (int, error) { return n * 2, nil }); err != nil || v != 20 {
			t.Errorf("Update after Set = %v, %v; want 20", v, err)
		}
		sessionkit.Update(s, "b", func(n int) (int, error) { return n + 1, nil })
		s.Set("b", 5)
	})
	e.handle("GET /read", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		a, _ := sessionkit.Get[int](s, "a")
		b, _ := sessionkit.Get[int](s, "b")
		fmt.Fprintf(w, "%d %d", a, b)
	})
	e.get("/")
	if _, body, _ := e.get("/read"); body != "20 5" {
		t.Errorf("a b = %s, want 20 5", body)
	}
}

// TestUpdateMergedCommits: increments lined up behind a held commit are
// merged into one save and none is lost, although each request read the
// same value.
func TestUpdateMergedCommits(t *testing.T) {
	q := newQueueEnv(t)
	q.handle("GET /add", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if _, err := sessionkit.Get[int](s, "count"); err != nil { // load before the held commit is saved
			t.Error(err)
		}
		if _, err := sessionkit.Update(s, "count", func(n int) (int, error) { return n + 1, nil }); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	q.handle("GET /count", func(w http.ResponseWriter, r *http.Request) {
		n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "count")
		fmt.Fprint(w, n)
	})
	q.get("/inc")
	saves := q.store.saves.Load()
	held := q.hold("/add")
	const n = 32
	codes := make([]<-chan int, n)
	for i := range n {
		codes[i] = q.start("/add")
	}
	q.waitQueued(n)
	q.gated.release()
	if c := <-held; c != 200 {
		t.Errorf("held request: %d", c)
	}
	for i, ch := range codes {
		if c := <-ch; c != 200 {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if got := q.store.saves.Load() - saves; got != 2 {
		t.Errorf("%d saves, want 2 (one held, one merged)", got)
	}
	if _, body, _ := q.get("/count"); body != strconv.Itoa(n+1) {
		t.Errorf("count = %s after %d concurrent increments, want %d", body, n+1, n+1)
	}
	q.checkNoErrors()
}

// TestUpdateTwoManagers: two Managers over one store (two processes) whose
// requests read the same version and both increment: the one that loses
// the compare-and-swap calls fn again on the value the other saved.
// A request whose fn fails when called again stores the value it computed,
// as Set would.
func TestUpdateTwoManagers(t *testing.T) {
	for _, failAgain := range []bool{false, true} {
		t.Run(fmt.Sprintf("failAgain=%v", failAgain), func(t *testing.T) {
			mem := memstore.New(memstore.Options{})
			defer mem.Close()
			var loaded sync.WaitGroup
			loaded.Add(2)
			var calls atomic.Int64
			newServer := func(delta int) *httptest.Server {
				m := sessionkit.New(mem)
				m.Logger = discardLogger()
				mux := http.NewServeMux()
				mux.HandleFunc("GET /new", func(w http.ResponseWriter, r *http.Request) {
					sessionkit.From(r.Context()).Set("n", 1)
				})
				mux.HandleFunc("GET /add", func(w http.ResponseWriter, r *http.Request) {
					s := sessionkit.From(r.Context())
					if _, err := sessionkit.Get[int](s, "n"); err != nil {
						t.Error(err)
					}
					loaded.Done()
					loaded.Wait() // both requests hold the same version
					first := true
					_, err := sessionkit.Update(s, "n", func(n int) (int, error) {
						calls.Add(1)
						if !first && failAgain {
							return 0, errors.New("refused on replay")
						}
						first = false
						return n + delta, nil
					})
					if err == nil {
						err = s.Save()
					}
					if err != nil {
						http.Error(w, err.Error(), 500)
					}
				})
				mux.HandleFunc("GET /n", func(w http.ResponseWriter, r *http.Request) {
					n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
					fmt.Fprint(w, n)
				})
				srv := httptest.NewServer(m.Handler(mux))
				t.Cleanup(srv.Close)
				return srv
			}
			a, b := newServer(10), newServer(100)
			resp, err := http.Get(a.URL + "/new")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cookie := sessionCookie(resp, "session")
			get := func(srv *httptest.Server, path string) (int, string) {
				return getWithCookie(t, srv.URL+path, cookie.Value)
			}
			var wg sync.WaitGroup
			for _, srv := range []*httptest.Server{a, b} {
				wg.Go(func() {
					if code, body := get(srv, "/add"); code != 200 {
						t.Errorf("/add: %d %s", code, body)
					}
				})
			}
			wg.Wait()
			if c := calls.Load(); c != 3 {
				t.Errorf("fn called %d times, want 3 (once each, once more for the loser of the compare-and-swap)", c)
			}
			_, n := get(a, "/n")
			if !failAgain {
				if n != "111" {
					t.Errorf("n = %s, want 111 (1 + 10 + 100: no increment lost)", n)
				}
				return
			}
			// The loser stored what it computed from n = 1.
			if n != "11" && n != "101" {
				t.Errorf("n = %s, want 11 or 101 (the loser's own result, as Set would store)", n)
			}
		})
	}
}

// landThenFail is a store whose Save of a record holding marker stores
// it and then fails, once: a timeout that struck after the write reached
// the store.
type landThenFail struct {
	sessionkit.Store
	marker []byte
	failed atomic.Bool
}

func (l *landThenFail) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	v, err := l.Store.Save(ctx, key, rec)
	if err == nil && bytes.Contains(rec.Data, l.marker) && l.failed.CompareAndSwap(false, true) {
		return 0, context.DeadlineExceeded
	}
	return v, err
}

// TestUpdateSaveFailedAfterStoring: a Save that fails although the store
// stored it leaves the changes pending, and they are committed again when
// the headers go out (Session.Save). An Update among them must not count
// twice: the commit finds its first attempt stored and saves only what
// changed since. Alone, after a change made since the failed Save, and
// merged with a held commit.
func TestUpdateSaveFailedAfterStoring(t *testing.T) {
	tests := []struct {
		name   string
		merged bool // the failing save is a merged one, behind a held commit
		after  bool // the handler sets a key after the failed Save
		want   string
	}{
		{name: "alone", want: "2"},
		{name: "alone, changed since", after: true, want: "2 after"},
		{name: "merged", merged: true, want: "12"},
		{name: "merged, changed since", merged: true, after: true, want: "12 after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memstore.New(memstore.Options{})
			defer mem.Close()
			lf := &landThenFail{Store: mem, marker: []byte(`"fail"`)}
			gated := newGatedStore(lf)
			m := sessionkit.New(gated)
			m.Logger = discardLogger()
			q := &queueEnv{errs: make(chan error, 16), gated: gated}
			q.env = &env{t: t, mem: mem, m: m, mux: http.NewServeMux()}
			q.srv = httptest.NewServer(m.Handler(q.mux))
			defer q.srv.Close()
			q.client = q.newClient()
			q.counterRoutes()
			saveErr := make(chan error, 1)
			q.handle("GET /add/{d}", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if _, err := sessionkit.Get[int](s, "n"); err != nil { // load before the held commit is saved
					t.Error(err)
				}
				d := atoi(r.PathValue("d"))
				if _, err := sessionkit.Update(s, "n", func(n int) (int, error) { return n + d, nil }); err != nil {
					t.Error(err)
				}
				if d == 10 {
					return // the held request
				}
				s.Set("fail", true)
				err := s.Save()
				saveErr <- err
				if tt.after {
					s.Set("after", true)
				}
				if err != nil {
					// The answer's headers commit the changes again.
					http.Error(w, "try again", http.StatusServiceUnavailable)
				}
			})
			q.handle("GET /state", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				n, _ := sessionkit.Get[int](s, "n")
				fmt.Fprint(w, n)
				if s.Has("after") {
					fmt.Fprint(w, " after")
				}
			})
			q.get("/inc") // n = 1
			var held <-chan int
			if tt.merged {
				held = q.hold("/add/10")
			}
			code := q.start("/add/1")
			if tt.merged {
				q.waitQueued(1)
				q.gated.release()
				if c := <-held; c != 200 {
					t.Errorf("held: %d", c)
				}
			}
			if err := <-saveErr; !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Save = %v, want the store's error", err)
			}
			if c := <-code; c != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503 (the handler's answer to the failed Save)", c)
			}
			if _, got, _ := q.get("/state"); got != tt.want {
				t.Errorf("after a Save stored but failed, then committed again: %q, want %q (the increment counted once)", got, tt.want)
			}
		})
	}
}
