package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
)

// TestRawConn drives the measured loop's client against net/http's server
// through each kind of answer it must read, on one connection where the
// server allows it.
func TestRawConn(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			fmt.Fprintf(w, "cookie=%s", r.Header.Get("Cookie"))
		case "/chunked":
			w.Write([]byte("part1,"))
			w.(http.Flusher).Flush() // forces chunked encoding
			w.Write([]byte("part2"))
		case "/cookies":
			http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Path: "/", HttpOnly: true})
			http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
			w.Write([]byte("ok"))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		default:
			http.Error(w, "nope", http.StatusNotFound)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c, err := newRawConn(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, tc := range []struct {
		path, cookies string
		code          int
		body          string
		setCookies    []string
	}{
		{"/length", "sid=x; t=y", 200, "cookie=sid=x; t=y", nil},
		{"/length", "", 200, "cookie=", nil},
		{"/chunked", "", 200, "part1,part2", nil},
		{"/cookies", "", 200, "ok", []string{"a=1", "b=2"}},
		{"/missing", "", 404, "nope\n", nil},
		{"/close", "", 200, "bye", nil},
		{"/length", "after=close", 200, "cookie=after=close", nil}, // reconnects
	} {
		code, body, setCookies, err := c.do(t.Context(), tc.path, tc.cookies)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		if code != tc.code || string(body) != tc.body || !slices.Equal(setCookies, tc.setCookies) {
			t.Errorf("GET %s = %d %q %q; want %d %q %q", tc.path, code, body, setCookies, tc.code, tc.body, tc.setCookies)
		}
	}
	// One connection until /close, one after: keep-alive works and a
	// closed connection is replaced.
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections; want 2", n)
	}
}
