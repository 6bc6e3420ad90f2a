package reliability

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// boltChildEnv, when set in the environment of this test binary, makes it
// run a boltstore-backed HTTP server instead of the tests (see
// TestBoltKilledMidWrite). Its value is "ADDR FILE".
const boltChildEnv = "SESSIONKIT_RELIABILITY_BOLT_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(boltChildEnv); spec != "" {
		os.Exit(boltChild(spec))
	}
	// go-redis logs every failed dial; the fault tests cause thousands.
	redis.SetLogger(discardRedisLog{})
	os.Exit(m.Run())
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}
