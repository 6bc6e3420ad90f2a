package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a migration's progress bar on stderr. A nil *progress shows
// nothing, so callers need not check whether one was asked for.
type progress struct {
	bar  *progressbar.ProgressBar
	done atomic.Int64
}

// newProgress starts a bar for about total sessions.
func newProgress(a *app, total int64, what string) *progress {
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("sessions"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(a.stderr) }),
	)}
}

// tick counts one session done. It is safe for concurrent use.
func (p *progress) tick() {
	if p == nil {
		return
	}
	if n := p.done.Add(1); n > p.bar.GetMax64() {
		p.bar.ChangeMax64(n) // the count was an estimate
	}
	_ = p.bar.Add(1)
}

// finish ends the bar: complete when the run ended without err, cut short
// otherwise.
func (p *progress) finish(a *app, err error) {
	if p == nil {
		return
	}
	if err == nil {
		p.bar.ChangeMax64(p.done.Load())
		_ = p.bar.Finish()
		return
	}
	_ = p.bar.Exit()
	fmt.Fprintln(a.stderr)
}
