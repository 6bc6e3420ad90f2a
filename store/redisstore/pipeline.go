package redisstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// process runs cmd on the store's client, or through the auto-pipeliner
// when Options.AutoPipeline is set. Either way the call returns once ctx
// is done: the auto-pipeliner's own blocking calls wait for their batch
// whatever the context says, so the store submits the command and waits
// for it or for ctx. A command abandoned that way may still run later,
// as one cut off by a timeout on a plain connection may have run.
//
// A command whose context has already ended is not sent at all (the
// auto-pipeliner would send it); its error is set to the context's.
//
// abandoned reports that the wait ended with ctx while the command may
// still be in flight: err is then ctx's error, and cmd must not be read.
func (s *Store) process(ctx context.Context, cmd redis.Cmder) (abandoned bool, err error) {
	if err := ctx.Err(); err != nil {
		cmd.SetErr(err)
		return false, err
	}
	if s.pipeliner == nil {
		_ = s.client.Process(ctx, cmd)
		return false, cmd.Err()
	}
	err = s.pipeliner.Submit(ctx, cmd).WaitContext(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return true, err
	}
	return false, err
}

// hmgetRecord is HMGET key d v e u (a record's fields, see decodeRecord)
// through process. The field names are constants, so building the
// command boxes only the key.
func (s *Store) hmgetRecord(ctx context.Context, key string) ([]any, error) {
	cmd := redis.NewSliceCmd(ctx, "hmget", key, "d", "v", "e", "u")
	if _, err := s.process(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

// scripts returns what the store runs its Lua scripts on: the client, or
// an adapter that sends them through process.
func (s *Store) scripts() redis.Scripter {
	if s.pipeliner == nil {
		return s.client
	}
	return processScripter{s}
}

// processScripter implements redis.Scripter (as used by Script.Run:
// EVALSHA, then EVAL on NOSCRIPT) over Store.process.
type processScripter struct{ s *Store }

func (p processScripter) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.eval(ctx, "eval", script, keys, args)
}

func (p processScripter) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.eval(ctx, "evalsha", sha1, keys, args)
}

func (p processScripter) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.eval(ctx, "eval_ro", script, keys, args)
}

func (p processScripter) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.eval(ctx, "evalsha_ro", sha1, keys, args)
}

func (p processScripter) ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd {
	return p.s.client.ScriptExists(ctx, hashes...)
}

func (p processScripter) ScriptLoad(ctx context.Context, script string) *redis.StringCmd {
	return p.s.client.ScriptLoad(ctx, script)
}

func (p processScripter) eval(ctx context.Context, name, payload string, keys []string, args []any) *redis.Cmd {
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, name, payload, len(keys))
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	if len(keys) > 0 {
		cmd.SetFirstKeyPos(3)
	}
	if abandoned, err := p.s.process(ctx, cmd); abandoned {
		// The command may still be in flight and must not be touched;
		// answer with a fresh one carrying the context's error.
		failed := redis.NewCmd(ctx, cmdArgs...)
		failed.SetErr(err)
		return failed
	}
	return cmd
}
