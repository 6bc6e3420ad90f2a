package testenv

// backends is the runner's list. Add one line per backend; keep each
// backend's code in its own file (redis.go, postgres.go, ...).
var backends = []Backend{
	redisBackend,
	redisSentinelBackend,
	redisClusterBackend,
	mongoBackend,
	postgresBackend,
	mysqlBackend,
	nodeBackend,
}
