package mysqlstore_test

import (
	neturl "net/url"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/store/mysqlstore"
)

// FuzzDSNFromURL checks that any input gives an error or a DSN the driver
// accepts, with the URL's user and password intact.
func FuzzDSNFromURL(f *testing.F) {
	for _, s := range []string{
		"mysql://root@127.0.0.1:3306/test",
		"mysql://u:p%40ss%2Fw:rd@db.example:3307/app?parseTime=true&loc=Europe%2FParis",
		"mariadb://u@[::1]/app?socket=/tmp/x.sock",
		"mysql:///app",
		"mysql://u:p@h/db?tls=skip-verify&timeout=5s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		dsn, err := mysqlstore.DSNFromURL(url)
		if err != nil {
			return
		}
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatalf("DSNFromURL(%q) = %q, which the driver rejects: %v", url, dsn, err)
		}
		again, err := mysqlstore.DSNFromURL(url)
		if err != nil || again != dsn {
			t.Fatalf("DSNFromURL is not deterministic: %q then %q, %v", dsn, again, err)
		}
		u, _ := neturl.Parse(url)
		pass, _ := u.User.Password()
		if cfg.User != u.User.Username() || cfg.Passwd != pass {
			t.Fatalf("DSNFromURL(%q) = %q: user %q password %q, want %q %q", url, dsn, cfg.User, cfg.Passwd, u.User.Username(), pass)
		}
	})
}
