package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "sqlitestore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data", "sessions.db")

	// Open creates data/, the file and the table, and starts a sweeper
	// that deletes expired sessions every 10 minutes until Close.
	store, err := sqlitestore.Open(path, sqlitestore.WithSweepInterval(10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	_, err = store.Save(ctx, "session-key", sessionkit.Record{
		Data:    []byte(`{"n":1}`),
		Expiry:  time.Now().Add(24 * time.Hour),
		UserKey: "alice",
	})
	if err != nil {
		log.Fatal(err)
	}

	// Another Store on the same file — in this process here, but it
	// could be another process, such as the sessionkit CLI — sees the
	// session and can revoke it while the first one is open.
	other, err := sqlitestore.Open(path, sqlitestore.WithSweepInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	sessions, err := other.UserSessions(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(sessions), "session for alice:", string(sessions[0].Record.Data))
	if _, err := other.DeleteUserSessions(ctx, "alice"); err != nil {
		log.Fatal(err)
	}

	_, err = store.Load(ctx, "session-key")
	fmt.Println(err == nil)
	// Output:
	// 1 session for alice: {"n":1}
	// false
}
