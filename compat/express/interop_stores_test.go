package express_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func TestInteropPostgres(t *testing.T) {
	t.Parallel()
	pgURL := testenv.Getenv(t, testenv.PostgresURLEnv)
	nodeModulesOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	table := uniqueName("sk_express_")
	store, err := pgstore.Open(ctx, pgURL, pgstore.Options{
		Table:           table,
		Layout:          pgstore.LayoutConnectPgSimple,
		UserKeyOf:       express.UserKey,
		CleanupInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.DropTable(context.Background())
		store.Close()
	})
	runInterop(t, store, startNode(t, "pg", pgURL, table))
}
