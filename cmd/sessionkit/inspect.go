package main

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sessionkit/sessionkit"
)

// ageBuckets are the rows of the stats "by age" table: sessions whose
// age (time since creation) is below the limit.
var ageBuckets = []struct {
	name  string
	limit time.Duration
}{
	{"< 1h", time.Hour},
	{"1h - 1d", 24 * time.Hour},
	{"1d - 7d", 7 * 24 * time.Hour},
	{"7d - 30d", 30 * 24 * time.Hour},
	{">= 30d", 1<<63 - 1},
}

func (a *app) statsCommand() *cobra.Command {
	top := 10
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count sessions and bytes, by age and by user",
		Long: `stats reads every live session once and prints how many there are, the
bytes they take, how old they are (time since creation) and the users
with the most sessions.`,
		Example: `  sessionkit --store sqlite://data/sessions.sqlite stats
  sessionkit --store redis://127.0.0.1:6379 stats --top 20 --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 0 {
				return usageError("--top must not be negative")
			}
			return a.stats(cmd.Context(), top)
		},
	}
	cmd.Flags().IntVar(&top, "top", top, "how many users to show")
	return cmd
}

type userCount struct {
	User     string `json:"user"`
	Sessions int    `json:"sessions"`
}

type ageCount struct {
	Age        string `json:"age"`
	MaxSeconds int64  `json:"max_seconds,omitempty"`
	Sessions   int    `json:"sessions"`
}

type statsResult struct {
	Sessions    int         `json:"sessions"`
	Bytes       int64       `json:"bytes"`
	MaxBytes    int         `json:"max_bytes"`
	WithUser    int         `json:"with_user"`
	Users       int         `json:"users"`
	Undecodable int         `json:"undecodable"`
	AgeUnknown  int         `json:"age_unknown"` // decoded, with no creation time (express-session's)
	ByAge       []ageCount  `json:"by_age"`
	TopUsers    []userCount `json:"top_users"`
}

func (a *app) stats(ctx context.Context, top int) error {
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer a.closeStore(s)
	m := a.manager(s)
	now := a.now()
	res := statsResult{ByAge: make([]ageCount, len(ageBuckets)), TopUsers: []userCount{}}
	for i, b := range ageBuckets {
		res.ByAge[i].Age = b.name
		if i < len(ageBuckets)-1 {
			res.ByAge[i].MaxSeconds = int64(b.limit / time.Second)
		}
	}
	users := map[string]int{}
	err = a.each(ctx, s, func(e sessionkit.Entry) error {
		res.Sessions++
		res.Bytes += int64(len(e.Record.Data))
		res.MaxBytes = max(res.MaxBytes, len(e.Record.Data))
		if u := e.Record.UserKey; u != "" {
			res.WithUser++
			users[u]++
		}
		info, err := sessionInfo(m, e.Record)
		switch {
		case err != nil:
			res.Undecodable++
			return nil
		case info.Created.IsZero():
			res.AgeUnknown++
			return nil
		}
		age := now.Sub(info.Created)
		for i, b := range ageBuckets {
			if age < b.limit {
				res.ByAge[i].Sessions++
				break
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	res.Users = len(users)
	for u, n := range users {
		res.TopUsers = append(res.TopUsers, userCount{u, n})
	}
	slices.SortFunc(res.TopUsers, func(x, y userCount) int {
		return cmp.Or(cmp.Compare(y.Sessions, x.Sessions), cmp.Compare(x.User, y.User))
	})
	if len(res.TopUsers) > top {
		res.TopUsers = res.TopUsers[:top]
	}
	if a.json {
		return a.printJSON(res)
	}
	tw := a.table()
	fmt.Fprintf(tw, "Sessions\t%d\n", res.Sessions)
	avg := int64(0)
	if res.Sessions > 0 {
		avg = res.Bytes / int64(res.Sessions)
	}
	fmt.Fprintf(tw, "Data\t%s (average %s, largest %s)\n", bytesHuman(res.Bytes), bytesHuman(avg), bytesHuman(int64(res.MaxBytes)))
	fmt.Fprintf(tw, "With a user\t%d (%s)\n", res.WithUser, plural(res.Users, "user", "users"))
	if res.Undecodable > 0 {
		fmt.Fprintf(tw, "Not decodable\t%d (not in the age table)\n", res.Undecodable)
	}
	if res.AgeUnknown > 0 { // express-session records keep no creation time
		fmt.Fprintf(tw, "Age unknown\t%d (not in the age table)\n", res.AgeUnknown)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "AGE\tSESSIONS")
	for _, b := range res.ByAge {
		fmt.Fprintf(tw, "%s\t%d\n", b.Age, b.Sessions)
	}
	if len(res.TopUsers) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "TOP USERS\tSESSIONS")
		for _, u := range res.TopUsers {
			fmt.Fprintf(tw, "%s\t%d\n", printable(u.User), u.Sessions)
		}
	}
	return tw.Flush()
}

func (a *app) listCommand() *cobra.Command {
	var (
		user  string
		limit = 50
		after string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List sessions, sorted by key, one page at a time",
		Long: `list prints live sessions sorted by store key, --limit at a time. When more
remain it says which --after value shows the next page. With --user it
lists one user's sessions: through the store's user index, or by reading
every session on a layout without one (an express-session store's).`,
		Example: `  sessionkit --store sqlite://data/sessions.sqlite list
  sessionkit list --user alice --json
  sessionkit list --limit 100 --after 2jmj7l5rSw0yVb_vlWAYkK_YBwkLrQ0mbG2VfQjYWnU`,
		Args: exactArgs(0, "no arguments (use --user to filter)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkLifetimes(); err != nil {
				return err
			}
			if limit < 0 {
				return usageError("--limit must not be negative (0 lists everything)")
			}
			if cmd.Flags().Changed("user") && user == "" {
				return usageError("--user needs a user key")
			}
			return a.list(cmd.Context(), user, limit, after)
		},
	}
	cmd.Flags().StringVarP(&user, "user", "u", "", "only the sessions of this user key")
	cmd.Flags().IntVarP(&limit, "limit", "n", limit, "sessions per page (0: all)")
	cmd.Flags().StringVar(&after, "after", "", "start after this store key (from the previous page)")
	a.lifetimeFlags(cmd)
	return cmd
}

// lifetimeHelp is the part of list's and show's help about
// --idle-timeout and --lifetime.
const lifetimeHelp = `

A record keeps its last write and its expiry, not the application's
lifetimes: --idle-timeout and --lifetime give them (Manager.IdleTimeout
and Manager.Lifetime; by default the Manager's defaults, 2h and 24h; 0
means none). A session's own idle timeout or deadline (SetIdleTimeout,
SetDeadline) wins over them. Last active is the later of the last write
and the expiry minus the idle timeout (a use that only moved the
expiry), unless that lies in the future (an idle timeout shorter than
the application's): then it is the last write. The deadline, when the
session ends however busy it is, is its creation time plus the lifetime
(unknown for records that keep no creation time).`

// lifetimeFlags adds --idle-timeout and --lifetime to cmd.
func (a *app) lifetimeFlags(cmd *cobra.Command) {
	cmd.Long += lifetimeHelp
	cmd.Flags().DurationVar(&a.idleTimeout, "idle-timeout", a.idleTimeout, "the application's idle timeout (Manager.IdleTimeout; 0: none), to infer last active from the expiry")
	cmd.Flags().DurationVar(&a.lifetime, "lifetime", a.lifetime, "the application's absolute lifetime (Manager.Lifetime; 0: none), to infer the deadline from the creation time")
}

// checkLifetimes refuses a negative --idle-timeout or --lifetime.
func (a *app) checkLifetimes() error {
	if a.idleTimeout < 0 {
		return usageError("--idle-timeout must not be negative (0: no idle timeout)")
	}
	if a.lifetime < 0 {
		return usageError("--lifetime must not be negative (0: no absolute lifetime)")
	}
	return nil
}

// sessionJSON is one session in list and show output.
type sessionJSON struct {
	Key        string          `json:"key"`
	User       string          `json:"user,omitempty"`
	Created    *string         `json:"created"`
	LastActive *string         `json:"last_active"`
	Expires    *string         `json:"expires"`
	Deadline   *string         `json:"deadline"`
	Persistent bool            `json:"persistent"`
	Bytes      int             `json:"bytes"`
	Version    uint64          `json:"version"`
	Values     json.RawMessage `json:"values,omitempty"`
	Data       string          `json:"data,omitempty"`
	DecodeErr  string          `json:"decode_error,omitempty"`
}

// keyHeap is a max-heap of entries by key: it keeps the smallest keys.
type keyHeap []sessionkit.Entry

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].Key > h[j].Key }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(sessionkit.Entry)) }
func (h *keyHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func (a *app) list(ctx context.Context, user string, limit int, after string) error {
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer a.closeStore(s)

	// Keep the limit smallest keys after --after, in O(limit) memory,
	// whatever order the store iterates in.
	h := &keyHeap{}
	more := false
	add := func(e sessionkit.Entry) {
		if e.Key <= after && after != "" {
			return
		}
		if limit > 0 && h.Len() == limit {
			more = true
			if e.Key >= (*h)[0].Key {
				return
			}
			heap.Pop(h)
		}
		e.Record.Data = bytes.Clone(e.Record.Data)
		heap.Push(h, e)
	}
	ui, indexed := s.(sessionkit.UserIndex)
	if user != "" && indexed {
		octx, cancel := a.op(ctx)
		entries, err := ui.UserSessions(octx, user)
		cancel()
		switch {
		case errors.Is(err, sessionkit.ErrNotSupported):
			// A layout without the index (an express-session store's):
			// find the user's sessions by reading them all, below.
			indexed = false
		case err != nil:
			return fmt.Errorf("list: sessions of user %q: %w", user, err)
		}
		for _, e := range entries {
			add(e)
		}
	}
	if user == "" || !indexed {
		err = a.each(ctx, s, func(e sessionkit.Entry) error {
			if user == "" || e.Record.UserKey == user {
				add(e)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
	}
	entries := []sessionkit.Entry(*h)
	slices.SortFunc(entries, func(x, y sessionkit.Entry) int { return cmp.Compare(x.Key, y.Key) })

	m := a.manager(s)
	now := a.now()
	if a.json {
		out := struct {
			Sessions  []sessionJSON `json:"sessions"`
			NextAfter string        `json:"next_after,omitempty"`
		}{Sessions: []sessionJSON{}}
		for _, e := range entries {
			out.Sessions = append(out.Sessions, describe(m, e, false))
		}
		if more {
			out.NextAfter = entries[len(entries)-1].Key
		}
		return a.printJSON(out)
	}
	tw := a.table()
	fmt.Fprintln(tw, "KEY\tUSER\tCREATED\tLAST ACTIVE\tEXPIRES\tSIZE")
	for _, e := range entries {
		info, err := sessionInfo(m, e.Record)
		created, active := "?", "?"
		if err == nil {
			created, active = relative(info.Created, now), relative(info.LastActive, now)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(e.Key), printable(orDash(e.Record.UserKey)),
			created, active, relative(e.Record.Expiry, now), bytesHuman(int64(len(e.Record.Data))))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case more:
		fmt.Fprintf(a.stderr, "%s shown; next page: --after %s\n", plural(len(entries), "session", "sessions"), entries[len(entries)-1].Key)
	case len(entries) == 0:
		fmt.Fprintln(a.stderr, "no sessions")
	}
	return nil
}

// describe turns an entry into its JSON form; withValues adds the
// decoded values (or the raw data when it cannot be decoded).
func describe(m *sessionkit.Manager, e sessionkit.Entry, withValues bool) sessionJSON {
	r := e.Record
	out := sessionJSON{
		Key:     e.Key,
		User:    r.UserKey,
		Expires: jsonTime(r.Expiry),
		Bytes:   len(r.Data),
		Version: r.Version,
	}
	info, err := sessionInfo(m, r)
	if err != nil {
		out.DecodeErr = err.Error()
		if withValues {
			if utf8.Valid(r.Data) {
				out.Data = string(r.Data)
			} else {
				out.Data = "base64:" + base64.StdEncoding.EncodeToString(r.Data)
			}
		}
		return out
	}
	out.Created, out.LastActive, out.Persistent = jsonTime(info.Created), jsonTime(info.LastActive), info.Persistent
	out.Deadline = jsonTime(deadlineOf(m, info))
	if withValues {
		out.Values = valuesJSON(info.Values)
	}
	return out
}

// deadlineOf returns when the session described by info ends however busy
// it is: its own deadline, or its creation plus m.Lifetime (--lifetime).
// It is zero when there is none, and when the record keeps no creation
// time to count from (express-session's).
func deadlineOf(m *sessionkit.Manager, info sessionkit.Info) time.Time {
	if info.Created.IsZero() && info.Deadline.Equal(info.Created.Add(m.Lifetime)) {
		return time.Time{}
	}
	return info.Deadline
}

// valuesJSON renders session values as one JSON object, in their order.
func valuesJSON(vals []sessionkit.Value) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshalJSON(v.Key)
		b.Write(k)
		b.WriteByte(':')
		if len(v.JSON) == 0 {
			b.WriteString("null")
		} else {
			b.Write(v.JSON)
		}
	}
	b.WriteByte('}')
	if !json.Valid(b.Bytes()) {
		// A value that is not valid JSON (a foreign codec): let
		// encoding/json say what it can.
		obj := make(map[string]json.RawMessage, len(vals))
		for _, v := range vals {
			obj[v.Key] = v.JSON
		}
		out, _ := marshalJSON(obj)
		return out
	}
	return b.Bytes()
}

func (a *app) showCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <id-or-key>",
		Short: "Show one session: its metadata and decoded values",
		Long: `show prints one session. The argument is a store key (as list prints it) or
a session ID (the cookie value's ID, which is hashed into its key the way
the Manager does it); the key is tried first. Values are printed as JSON.
Exit code 3 when there is no such live session.`,
		Example: `  sessionkit --store sqlite://data/sessions.sqlite show 2jmj7l5rSw0yVb_vlWAYkK_YBwkLrQ0mbG2VfQjYWnU
  sessionkit show "$SESSION_ID" --json`,
		Args: exactArgs(1, "one session ID or store key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkLifetimes(); err != nil {
				return err
			}
			return a.show(cmd.Context(), args[0])
		},
	}
	a.lifetimeFlags(cmd)
	return cmd
}

func (a *app) show(ctx context.Context, arg string) error {
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer a.closeStore(s)
	key, rec, err := a.resolve(ctx, s, arg)
	if err != nil {
		return err
	}
	d := describe(a.manager(s), sessionkit.Entry{Key: key, Record: rec}, true)
	if a.json {
		return a.printJSON(d)
	}
	now := a.now()
	tw := a.table()
	fmt.Fprintf(tw, "Key\t%s\n", printable(key))
	fmt.Fprintf(tw, "User\t%s\n", printable(orDash(rec.UserKey)))
	if d.DecodeErr == "" {
		info, _ := sessionInfo(a.manager(s), rec)
		fmt.Fprintf(tw, "Created\t%s\n", stamp(info.Created, now))
		fmt.Fprintf(tw, "Last active\t%s\n", stamp(info.LastActive, now))
		fmt.Fprintf(tw, "Persistent\t%t\n", info.Persistent)
		deadline := deadlineOf(a.manager(s), info)
		fmt.Fprintf(tw, "Deadline\t%s\n", stamp(deadline, now))
	}
	fmt.Fprintf(tw, "Expires\t%s\n", stamp(rec.Expiry, now))

	fmt.Fprintf(tw, "Version\t%d\n", rec.Version)
	fmt.Fprintf(tw, "Size\t%s\n", bytesHuman(int64(len(rec.Data))))
	if err := tw.Flush(); err != nil {
		return err
	}
	if d.DecodeErr != "" {
		fmt.Fprintf(a.stdout, "Data (not decodable: %s):\n%s\n", d.DecodeErr, d.Data)
		return nil
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, d.Values, "", "  "); err != nil {
		pretty.Reset()
		pretty.Write(d.Values)
	}
	fmt.Fprintf(a.stdout, "Values:\n%s\n", pretty.String())
	return nil
}
