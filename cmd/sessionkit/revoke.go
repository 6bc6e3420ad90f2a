package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sessionkit/sessionkit"
)

func (a *app) revokeCommand() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "revoke (<id-or-key> | --user USER)",
		Short: "End one session, or every session of a user",
		Long: `revoke deletes one session (named by its store key or session ID, like
show) or, with --user, every session of that user (through the store's
user index). The user is logged out at their next request.
Exit code 3 when there was nothing to revoke.`,
		Example: `  sessionkit --store sqlite://data/sessions.sqlite revoke 2jmj7l5rSw0yVb_vlWAYkK_YBwkLrQ0mbG2VfQjYWnU
  sessionkit --store redis://127.0.0.1:6379 revoke --user alice`,
		RunE: func(cmd *cobra.Command, args []string) error {
			byUser := cmd.Flags().Changed("user")
			switch {
			case byUser && len(args) > 0:
				return usageError("revoke takes a session ID or key, or --user, not both")
			case byUser && user == "":
				return usageError("--user needs a user key")
			case byUser:
				return a.revokeUser(cmd.Context(), user)
			case len(args) != 1:
				return usageError("revoke takes one session ID or key, or --user USER (got %s)", plural(len(args), "argument", "arguments"))
			}
			return a.revoke(cmd.Context(), args[0])
		},
	}
	cmd.Flags().StringVarP(&user, "user", "u", "", "revoke every session of this user key")
	return cmd
}

type revokeResult struct {
	Revoked int    `json:"revoked"`
	Key     string `json:"key,omitempty"`
	User    string `json:"user,omitempty"`
}

func (a *app) revoke(ctx context.Context, arg string) error {
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer a.closeStore(s)
	key, _, err := a.resolve(ctx, s, arg)
	if err != nil {
		return err
	}
	octx, cancel := a.op(ctx)
	defer cancel()
	if err := s.Delete(octx, key); err != nil {
		return fmt.Errorf("revoke %s: %w", key, err)
	}
	if a.json {
		return a.printJSON(revokeResult{Revoked: 1, Key: key})
	}
	fmt.Fprintf(a.stdout, "revoked session %s\n", printable(key))
	return nil
}

func (a *app) revokeUser(ctx context.Context, user string) error {
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer a.closeStore(s)
	ui, ok := s.(sessionkit.UserIndex)
	if !ok {
		return fmt.Errorf("revoke --user: this store has no user index")
	}
	octx, cancel := a.op(ctx)
	defer cancel()
	n, err := ui.DeleteUserSessions(octx, user)
	if errors.Is(err, sessionkit.ErrNotSupported) {
		return fmt.Errorf("revoke --user: this store has no user index")
	}
	if err != nil {
		return fmt.Errorf("revoke --user %q: %w", user, err)
	}
	if n == 0 {
		return notFoundError("user %q has no live sessions", user)
	}
	if a.json {
		return a.printJSON(revokeResult{Revoked: n, User: user})
	}
	fmt.Fprintf(a.stdout, "revoked %s of user %s\n", plural(n, "session", "sessions"), printable(user))
	return nil
}

func (a *app) purgeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "purge",
		Short: "Delete expired sessions from stores without native expiry",
		Long: `purge deletes the expired records that a store keeps until they are swept
(bolt files, SQL tables, MongoDB without TTL indexes), as the stores'
background sweepers do: run it from cron when the application's sweeper is
turned off. Expired records are never shown or used either way. For stores
that expire records natively (Redis) there is nothing to do.`,
		Example: `  sessionkit --store postgres://app@db/app purge`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.purge(cmd.Context())
		},
	}
}

func (a *app) purge(ctx context.Context) error {
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer a.closeStore(s)
	sw, ok := s.(sessionkit.Sweeper)
	if !ok {
		if a.json {
			return a.printJSON(map[string]any{"purged": 0, "native_expiry": true})
		}
		fmt.Fprintln(a.stdout, "this store deletes expired sessions itself; nothing to purge")
		return nil
	}
	// A large backlog may take more than one operation's time: bound the
	// purge by ten times --timeout.
	octx, cancel := context.WithTimeout(ctx, 10*a.timeout)
	defer cancel()
	n, err := sw.DeleteExpired(octx)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if a.json {
		return a.printJSON(map[string]any{"purged": n, "native_expiry": false})
	}
	fmt.Fprintf(a.stdout, "purged %s\n", plural(n, "expired session", "expired sessions"))
	return nil
}
