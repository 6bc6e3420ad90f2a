package sqlitestore

import (
	"context"
	"database/sql"
	"sync"
)

// preparer is a *sql.DB or a *sql.Conn.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmts runs queries through statements prepared once, on first use:
// SQLite spends about as long compiling one of the store's statements as
// running it. It implements execer. A statement that cannot be prepared
// (the table is missing, say) is not kept: the query then runs unprepared
// and fails with the same error, and is prepared again next time.
type stmts struct {
	on    preparer
	mu    sync.Mutex
	cache map[string]*sql.Stmt
}

func newStmts(on preparer) *stmts {
	return &stmts{on: on, cache: map[string]*sql.Stmt{}}
}

func (c *stmts) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.cache[query]; ok {
		return st
	}
	st, err := c.on.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.cache[query] = st
	return st
}

func (c *stmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.get(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.on.ExecContext(ctx, query, args...)
}

func (c *stmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.on.QueryContext(ctx, query, args...)
}

func (c *stmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.on.QueryRowContext(ctx, query, args...)
}

// close closes the prepared statements.
func (c *stmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.cache {
		st.Close()
		delete(c.cache, q)
	}
}
