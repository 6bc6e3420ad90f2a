package redisstore_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/store/redisstore"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want redis.UniversalOptions // ContextTimeoutEnabled is always expected
		tls  string                 // expected TLS ServerName, "" for no TLS
	}{
		{url: "redis://localhost", want: redis.UniversalOptions{Addrs: []string{"localhost:6379"}}},
		{url: "redis://127.0.0.1:7000/3", want: redis.UniversalOptions{Addrs: []string{"127.0.0.1:7000"}, DB: 3}},
		{url: "redis://[::1]:7000/", want: redis.UniversalOptions{Addrs: []string{"[::1]:7000"}}},
		{url: "redis://[::1]", want: redis.UniversalOptions{Addrs: []string{"[::1]:6379"}}},
		{url: "redis://:p%40ss@h:1", want: redis.UniversalOptions{Addrs: []string{"h:1"}, Password: "p@ss"}},
		{url: "redis://user:pw@h", want: redis.UniversalOptions{Addrs: []string{"h:6379"}, Username: "user", Password: "pw"}},
		{url: "rediss://cache.example:6380", want: redis.UniversalOptions{Addrs: []string{"cache.example:6380"}}, tls: "cache.example"},
		{
			url: "redis://h?dial_timeout=1s&read_timeout=250ms&write_timeout=-1s&pool_timeout=2s&pool_size=9&min_idle_conns=2&max_retries=-1&protocol=2&client_name=app",
			want: redis.UniversalOptions{Addrs: []string{"h:6379"}, DialTimeout: time.Second, ReadTimeout: 250 * time.Millisecond,
				WriteTimeout: -1, PoolTimeout: 2 * time.Second, PoolSize: 9, MinIdleConns: 2, MaxRetries: -1, Protocol: 2, ClientName: "app"},
		},
		{
			url:  "redis+sentinel://s1,s2:5000,s3/mymaster",
			want: redis.UniversalOptions{Addrs: []string{"s1:26379", "s2:5000", "s3:26379"}, MasterName: "mymaster"},
		},
		{
			url: "rediss+sentinel://u:pw@s1:26379/mymaster/4?sentinel_username=su&sentinel_password=sp",
			want: redis.UniversalOptions{Addrs: []string{"s1:26379"}, MasterName: "mymaster", DB: 4, Username: "u", Password: "pw",
				SentinelUsername: "su", SentinelPassword: "sp"},
			tls: "s1",
		},
		{
			url:  "redis+cluster://n1:7000,n2:7001,n3",
			want: redis.UniversalOptions{Addrs: []string{"n1:7000", "n2:7001", "n3:6379"}, IsClusterMode: true},
		},
		{
			url:  "REDIS+CLUSTER://n1:7000/",
			want: redis.UniversalOptions{Addrs: []string{"n1:7000"}, IsClusterMode: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			got, err := redisstore.ParseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if !got.ContextTimeoutEnabled {
				t.Error("ContextTimeoutEnabled is off")
			}
			switch {
			case tc.tls == "" && got.TLSConfig != nil:
				t.Errorf("TLS on for %s", tc.url)
			case tc.tls != "" && (got.TLSConfig == nil || got.TLSConfig.ServerName != tc.tls):
				t.Errorf("TLS config %+v, want ServerName %q", got.TLSConfig, tc.tls)
			}
			got.ContextTimeoutEnabled = false
			got.TLSConfig = nil
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, u := range []string{
		"",
		"localhost:6379",
		"http://h",
		"redis://",
		"redis://a,b",
		"redis://h/1/2",
		"redis://h/x",
		"redis://h/-1",
		"redis://h:0",
		"redis://h:99999",
		"redis://h:port",
		"redis://::1",
		"redis://h?bogus=1",
		"redis://h?pool_size=0",
		"redis://h?dial_timeout=5",
		"redis://h?dial_timeout=-1s", // every dial would time out at once
		"redis://h?pool_timeout=-1s", // every wait for a connection likewise
		"redis://h?protocol=4",
		"redis://h?sentinel_password=x",
		"redis://h#frag",
		"redis+sentinel://s1",
		"redis+sentinel://s1/",
		"redis+sentinel://s1/m/x",
		"redis+sentinel://s1/m/1/2",
		"redis+cluster://n1/0",
		"redis+cluster://n1,,n2",
	} {
		if o, err := redisstore.ParseURL(u); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", u, o)
		}
	}
}

func TestParseURLErrorsHidePassword(t *testing.T) {
	_, err := redisstore.ParseURL("redis://user:hunter2@h?bogus=1")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v must exist and not contain the password", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://h:1":                       "redis://h:1",
		"redis://u:pw@h:1/2":                "redis://u:xxxxx@h:1/2",
		"redis://:pw@h":                     "redis://:xxxxx@h",
		"redis://u@h":                       "redis://u@h",
		"redis+sentinel://:p@a,b/m?x=y@z":   "redis+sentinel://:xxxxx@a,b/m?x=y@z",
		"redis://h?sentinel_password=x":     "redis://h?sentinel_password=xxxxx",
		"redis://h?a=1&sentinel_password=x": "redis://h?a=1&sentinel_password=xxxxx",
		"not a url":                         "not a url",
		// A password with an unescaped '/', '?' or '#' is hidden too.
		"redis://u:ab/cd/ef@h:1/2":      "redis://u:xxxxx@h:1/2",
		"redis://:12/cd@h":              "redis://:xxxxx@h",
		"redis://u:ab?cd#ef@h/0":        "redis://u:xxxxx@h/0",
		"redis://h:1/0?client_name=a@b": "redis://h:1/0?client_name=a@b",
	} {
		if got := redisstore.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"redis://u:p@h:1/2?pool_size=3", "redis+sentinel://a,b:2/m/1", "rediss+cluster://a,[::1]:3", "redis://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := redisstore.ParseURL(s)
		if err != nil {
			return
		}
		if len(o.Addrs) == 0 {
			t.Fatalf("ParseURL(%q) succeeded with no address", s)
		}
		_ = redisstore.Redact(s)
	})
}
