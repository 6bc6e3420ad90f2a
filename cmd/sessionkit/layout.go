package main

import (
	"errors"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// manager returns the Manager the inspecting commands read the --store
// store's records with: the native one, or, for a store in an
// express-session layout (?layout=connect-redis, ...), one that reads
// express-session's records and keys sessions by their raw ID.
func (a *app) manager(s sessionkit.Store) *sessionkit.Manager {
	m := sessionkit.New(s)
	if a.expressLayout() != "" {
		m.RawKeys = true
		m.Codec = expressView{}
	}
	return m
}

// expressLayout returns the express layout --store names, or "".
func (a *app) expressLayout() string {
	layout, err := storeurl.Layout(a.storeURL)
	if err != nil {
		return ""
	}
	return layout
}

// expressView decodes express-session records for display. They carry no
// creation time, so Created is unknown (zero); LastActive is known only
// for a persistent cookie (expires - originalMaxAge).
type expressView struct{}

func (expressView) Decode(data []byte) (sessionkit.State, error) {
	st, err := (&express.Codec{}).Decode(data)
	if err != nil {
		return st, err
	}
	st.Created = time.Time{}
	if !st.Persistent {
		st.LastActive = time.Time{}
	}
	st.Opaque = nil
	return st, nil
}

func (expressView) Encode(*sessionkit.State) ([]byte, error) {
	return nil, errors.New("sessionkit: the express layout is read-only here")
}
