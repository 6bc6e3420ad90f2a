package sessionkit

// Hooks for the external tests (package sessionkit_test).

// WaitingCommits returns how many commits wait in m's queue for key
// behind the one in flight.
func WaitingCommits(m *Manager, key string) int {
	q := m.backend.commitQueues()
	sh := q.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return len(sh.queues[key].waiting)
}

// CommitQueuesIdle reports whether m's commit queues hold no entry.
func CommitQueuesIdle(m *Manager) bool {
	return m.backend.commitQueues().idle()
}
