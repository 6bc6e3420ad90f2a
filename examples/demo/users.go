package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/sessionkit/auth"
)

// usersBucket is the top-level bbolt bucket that holds the accounts, one
// JSON value per user under the user's key.
const usersBucket = "demo_users"

// ErrUserExists is returned by Users.Create for a taken username.
var ErrUserExists = errors.New("demo: username already taken")

// User is an account of the demo.
type User struct {
	Name    string    `json:"name"` // as typed at sign-up
	Hash    string    `json:"hash"` // argon2id PHC string (auth/password)
	Created time.Time `json:"created"`
}

// Key is the user's stable key: the lower-cased name. It is what the
// session keeps and what the per-user session index is keyed by.
func (u User) Key() string { return userKey(u.Name) }

func userKey(name string) string { return strings.ToLower(name) }

// Users keeps accounts in a bbolt database: the session store's own file
// when the sessions are in bolt, or a small file of its own otherwise.
// Every write is one bbolt transaction, so it is atomic and durable.
type Users struct {
	db  *bbolt.DB
	own bool // Close closes db
}

// OpenUsers opens (creating if needed) a users database of its own at path.
func OpenUsers(path string) (*Users, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("demo: open users database %s: %w", path, err)
	}
	u, err := NewUsers(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	u.own = true
	return u, nil
}

// NewUsers keeps accounts in a bucket of db, which stays the caller's to
// close.
func NewUsers(db *bbolt.DB) (*Users, error) {
	err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(usersBucket))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo: create users bucket: %w", err)
	}
	return &Users{db: db}, nil
}

// Close closes the database if OpenUsers opened it.
func (u *Users) Close() error {
	if !u.own {
		return nil
	}
	return u.db.Close()
}

// Create adds a user, or fails with ErrUserExists.
func (u *Users) Create(ctx context.Context, user User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	val, err := json.Marshal(user)
	if err != nil {
		return fmt.Errorf("demo: encode user: %w", err)
	}
	err = u.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(usersBucket))
		if b.Get([]byte(user.Key())) != nil {
			return ErrUserExists
		}
		return b.Put([]byte(user.Key()), val)
	})
	if err != nil && !errors.Is(err, ErrUserExists) {
		return fmt.Errorf("demo: create user %q: %w", user.Key(), err)
	}
	return err
}

// Get returns the user with the given key (or name, in any case), or an
// error wrapping auth.ErrUserNotFound.
func (u *Users) Get(ctx context.Context, key string) (User, error) {
	var user User
	if err := ctx.Err(); err != nil {
		return user, err
	}
	err := u.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket([]byte(usersBucket)).Get([]byte(userKey(key)))
		if v == nil {
			return auth.ErrUserNotFound
		}
		return json.Unmarshal(v, &user)
	})
	if err != nil {
		return User{}, fmt.Errorf("demo: user %q: %w", userKey(key), err)
	}
	return user, nil
}

// SetHash replaces a user's password hash (after a parameter upgrade).
func (u *Users) SetHash(ctx context.Context, key, hash string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := u.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(usersBucket))
		v := b.Get([]byte(userKey(key)))
		if v == nil {
			return auth.ErrUserNotFound
		}
		var user User
		if err := json.Unmarshal(v, &user); err != nil {
			return err
		}
		user.Hash = hash
		val, err := json.Marshal(user)
		if err != nil {
			return err
		}
		return b.Put([]byte(userKey(key)), val)
	})
	if err != nil {
		return fmt.Errorf("demo: update user %q: %w", userKey(key), err)
	}
	return nil
}
