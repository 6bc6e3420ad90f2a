package testenv

import (
	"bufio"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRedisServer(t *testing.T) {
	if _, err := FindBinary("redis-server", ""); err != nil {
		SkipOrFail(t, "redis-server is not installed (Debian package redis-server)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := StartRedis(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	set := func() error {
		_, err := redisDo(ctx, s.Addr, "SET", "k", "v")
		return err
	}
	if err := set(); err != nil {
		t.Fatal(err)
	}

	// Paused: connections are accepted but nothing answers. Pause returns
	// only once every server thread has stopped.
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if tid, running := runningThread(s.proc.cmd.Process.Pid); running {
		t.Errorf("thread %d of the paused server is not stopped", tid)
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = redisDo(short, s.Addr, "PING")
	cancelShort()
	if err == nil {
		t.Fatal("PING answered while paused")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if v, err := redisDo(ctx, s.Addr, "GET", "k"); err != nil || v != "v" {
		t.Fatalf("GET after Resume = %v, %v", v, err)
	}

	// Killed, then restarted on the same address with no data.
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := set(); err == nil {
		t.Fatal("SET succeeded while the server was killed")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := redisDo(ctx, s.Addr, "GET", "k"); err != nil || v != nil {
		t.Fatalf("GET after restart = %v, %v; want nil (nothing persisted)", v, err)
	}
	// Stopping twice is fine; Restart refuses a running server.
	if err := s.Restart(ctx); err == nil {
		t.Error("Restart of a running server succeeded")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestReadRESP(t *testing.T) {
	tests := []struct {
		in      string
		want    any
		wantErr bool
	}{
		{"+OK\r\n", "OK", false},
		{"-ERR nope\r\n", nil, true},
		{":42\r\n", int64(42), false},
		{"$3\r\nfoo\r\n", "foo", false},
		{"$0\r\n\r\n", "", false},
		{"$-1\r\n", nil, false},
		{"*2\r\n$1\r\na\r\n:1\r\n", []any{"a", int64(1)}, false},
		{"*0\r\n", []any{}, false},
		{"$5\r\nab", nil, true},
		{"?\r\n", nil, true},
		{"", nil, true},
	}
	for _, tc := range tests {
		got, err := readRESP(bufio.NewReader(strings.NewReader(tc.in)))
		if (err != nil) != tc.wantErr || (!tc.wantErr && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("readRESP(%q) = %#v, %v; want %#v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
