package redisstore

import (
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/redislua"
)

// The store's Lua scripts; their text and what each does are in
// internal/redislua.
var (
	saveScript     = redis.NewScript(redislua.Save)
	touchScript    = redis.NewScript(redislua.Touch)
	deleteScript   = redis.NewScript(redislua.Delete)
	indexAddScript = redis.NewScript(redislua.IndexAdd)
	unindexScript  = redis.NewScript(redislua.Unindex)
	membersScript  = redis.NewScript(redislua.Members)
)
