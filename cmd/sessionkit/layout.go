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
	m.Now = a.now
	m.IdleTimeout, m.Lifetime = a.idleTimeout, a.lifetime
	if a.expressLayout() != "" {
		m.RawKeys = true
		m.Codec = expressView{}
	}
	return m
}

// sessionInfo is m.Info(rec) with the last use the CLI can vouch for. The
// Manager infers a use that wrote nothing (a touch) from the expiry and
// its idle timeout, but the CLI's Manager has --idle-timeout (default the
// Manager's default), which may not be the application's: when the
// application's is longer (the demo's is three days), that use would lie
// in the future and Info reports now. The last write, which the record
// keeps, is then the last use known.
func sessionInfo(m *sessionkit.Manager, rec sessionkit.Record) (sessionkit.Info, error) {
	in, err := m.Info(rec)
	if err != nil || in.IdleTimeout <= 0 || !rec.Expiry.Add(-in.IdleTimeout).After(m.Now()) {
		return in, err
	}
	st, err := m.Codec.Decode(rec.Data)
	if err != nil {
		return in, nil
	}
	in.LastActive = st.LastActive
	return in, nil
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
