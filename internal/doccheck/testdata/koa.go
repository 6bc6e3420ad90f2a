// Declarations the docs/migrating-from-koa.md fragments assume.
package koa

import (
	"context"
	"net/http"
)

type User struct {
	ID int
}

var (
	ctx          context.Context
	accountPages http.Handler
	lookupUser   func(ctx context.Context, key string) (*User, error)
	serialize    func(*User) string
	deserialize  func(ctx context.Context, key string) (*User, error)
	keys         []string
	key32        []byte
)
