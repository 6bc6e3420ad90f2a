// Command withbackends starts the throw-away test backends, runs a command
// with their addresses in its environment, and stops them when the command
// exits (also on failure, SIGINT or SIGTERM).
//
//	go run ./internal/testenv/cmd/withbackends [-only redis,postgres] -- go test ./...
//
// Its exit status is the command's. A backend that cannot start is reported
// and left out; the tests that need it then skip (or fail under
// SESSIONKIT_REQUIRE_BACKENDS).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit/internal/testenv"
)

func main() {
	os.Exit(run())
}

func run() int {
	only := flag.String("only", "", "comma-separated backend names to start (default: all)")
	skip := flag.String("skip", "", "comma-separated backend names not to start")
	startTimeout := flag.Duration("start-timeout", 15*time.Minute, "how long backends may take to start (the first run builds some)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: withbackends [flags] -- command [args...]\n\nbackends:")
		for _, b := range testenv.Backends() {
			fmt.Fprintf(flag.CommandLine.Output(), " %s", b.Name)
		}
		fmt.Fprintln(flag.CommandLine.Output())
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "withbackends")

	selected, err := selectBackends(testenv.Backends(), *only, *skip)
	if err != nil {
		log.Error(err.Error())
		return 2
	}

	dir, err := os.MkdirTemp("", "sessionkit-backends-")
	if err != nil {
		log.Error("create temp dir", "err", err)
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	env, stops := startAll(ctx, log, dir, selected, *startTimeout)
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			if err := stops[i].stop(); err != nil {
				log.Warn("stop backend", "backend", stops[i].name, "err", err)
			}
		}
	}()

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	default:
		log.Error("run command", "cmd", strings.Join(args, " "), "err", err)
		return 1
	}
}

type stopper struct {
	name string
	stop func() error
}

// startAll starts the backends concurrently and returns the environment of
// those that started.
func startAll(ctx context.Context, log *slog.Logger, dir string, bs []testenv.Backend, timeout time.Duration) ([]string, []stopper) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		env  []string
		stop func() error
		err  error
		took time.Duration
	}
	results := make([]result, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		bdir, err := os.MkdirTemp(dir, b.Name+"-")
		if err != nil {
			results[i].err = err
			continue
		}
		wg.Go(func() {
			start := time.Now()
			env, stop, err := b.Start(ctx, bdir)
			results[i] = result{env: env, stop: stop, err: err, took: time.Since(start)}
		})
	}
	wg.Wait()
	var env []string
	var stops []stopper
	for i, r := range results {
		if r.err != nil {
			log.Error("backend did not start; its tests will skip (or fail under "+testenv.RequireEnv+")", "backend", bs[i].Name, "err", r.err)
			if r.stop != nil {
				_ = r.stop()
			}
			continue
		}
		log.Info("backend started", "backend", bs[i].Name, "took", r.took.Round(time.Millisecond), "env", strings.Join(r.env, " "))
		env = append(env, r.env...)
		stops = append(stops, stopper{bs[i].Name, r.stop})
	}
	return env, stops
}

func selectBackends(all []testenv.Backend, only, skip string) ([]testenv.Backend, error) {
	known := map[string]bool{}
	for _, b := range all {
		known[b.Name] = true
	}
	parse := func(list string) (map[string]bool, error) {
		set := map[string]bool{}
		for _, n := range strings.Split(list, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if !known[n] {
				return nil, fmt.Errorf("unknown backend %q", n)
			}
			set[n] = true
		}
		return set, nil
	}
	onlySet, err := parse(only)
	if err != nil {
		return nil, err
	}
	skipSet, err := parse(skip)
	if err != nil {
		return nil, err
	}
	var out []testenv.Backend
	for _, b := range all {
		if (len(onlySet) == 0 || onlySet[b.Name]) && !skipSet[b.Name] {
			out = append(out, b)
		}
	}
	return out, nil
}
