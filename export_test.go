package sessionkit

// Hooks for the external tests (package sessionkit_test).

// WaitingCommits returns how many commits wait in m's queue for key
// behind the one in flight.
func WaitingCommits(m *Manager, key string) int {
	sh := m.backend.commitQueues().shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i := sh.find(key); i >= 0 {
		return len(sh.queues[i].waiting)
	}
	return 0
}

// CommitQueuesIdle reports whether m's commit queues hold no entry.
func CommitQueuesIdle(m *Manager) bool {
	return m.backend.commitQueues().idle()
}
