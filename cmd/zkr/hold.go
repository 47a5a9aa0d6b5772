package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// gracePeriod is how long CMD's processes have between the signal and
// SIGKILL, unless --grace says otherwise.
const gracePeriod = 5 * time.Second

// held is what zkr needs of a lock or leadership hold.
type held interface {
	Done() <-chan struct{}
	Err() error
	Path() string
	Token() int64
}

// command is CMD as zkr runs it under a hold.
type command struct {
	args   []string      // CMD and its arguments; none: just hold
	grace  time.Duration // between SIGTERM and SIGKILL
	limit  time.Duration // --max-hold, timed from the grant; 0: none
	stderr io.Writer     // for what zkr says while it waits
	// lossGrace caps grace after the hold is lost (0: no cap): the lock
	// may pass to another holder soon after (see lossGrace)
	lossGrace time.Duration
}

// lossGrace is how long CMD's processes may take to stop after the hold
// on session s is lost, whatever --grace says: a third of the session
// timeout. A hold is lost when the connection has been silent for two
// thirds of it (go-zookeeper's read timeout), and the server may expire
// the session, and grant the lock to the next holder, once it has been
// silent for all of it. Past that, only the fencing token guards.
func lossGrace(s *recipes.Session) time.Duration {
	return core.Of(s).SessionTimeout() / 3
}

// runUnder runs c in a process group of its own while h is held, and
// returns once CMD and every process it started have exited (see
// group.remaining): CMD's exit code as an exitErr (nil for 0). If c.limit
// passes first, they get SIGTERM, then SIGKILL after c.grace, and the
// result has code exitMaxHold; if the hold is lost, the same, with code
// exitLost; if ctx ends (a signal), with code exitInterrupted; if revoked
// closes (a revocation request, with --revocable; nil otherwise), with
// code exitRevoked. Processes that SIGKILL does not end keep the hold
// until they are gone; if it ends meanwhile, the result has code exitLost
// (exitMaxHold if it ended at its max hold). With no CMD, runUnder waits
// until one of those. The caller releases h only after runUnder returns,
// so no process of CMD's outlives the hold while zkr holds it.
func runUnder(ctx context.Context, h held, revoked <-chan struct{}, c command) error {
	cmd := c.args
	var expired <-chan time.Time // c.limit's end, timed from the grant
	if c.limit > 0 {
		t := time.NewTimer(c.limit)
		defer t.Stop()
		expired = t.C
	}
	if len(cmd) == 0 {
		select {
		case <-expired:
		case <-h.Done():
			if !errors.Is(h.Err(), recipes.ErrMaxHoldExceeded) {
				return exitErr{exitLost, fmt.Errorf("lost %s: %w", h.Path(), h.Err())}
			}
		case <-revoked:
			return exitErr{exitRevoked, fmt.Errorf("asked to let go of %s (--revocable)", h.Path())}
		case <-ctx.Done():
			return exitErr{exitInterrupted, errQuiet} // release and exit
		}
		return exitErr{exitMaxHold, fmt.Errorf("held %s for its --max-hold", h.Path())}
	}
	tokens := strconv.FormatInt(h.Token(), 10)
	if m, ok := h.(interface{ tokens() string }); ok { // several locks
		tokens = m.tokens()
	}
	g, err := startGroup(cmd, commandEnv("ZKR_LOCK_PATH="+h.Path(), "ZKR_FENCING_TOKEN="+tokens), c.stderr)
	if err != nil {
		return err
	}
	// SIGTERM, whatever zkr got: a non-interactive shell's background jobs
	// ignore SIGINT.
	stop := func(code int, err error) error {
		grace := c.grace
		if code == exitLost && c.lossGrace > 0 {
			grace = min(grace, c.lossGrace)
		}
		if serr := g.stop(syscall.SIGTERM, grace, h.Done()); serr != nil {
			code = exitLost
			if errors.Is(h.Err(), recipes.ErrMaxHoldExceeded) {
				code = exitMaxHold
			}
			err = fmt.Errorf("%w; %w when the hold ended (%v)", err, serr, h.Err())
		}
		return exitErr{code, err}
	}
	select {
	case <-g.empty:
		return exitCode(g.status)
	case <-expired:
		return stop(exitMaxHold, fmt.Errorf("held %s for its --max-hold while %s ran: terminated it", h.Path(), cmd[0]))
	case <-h.Done():
		if errors.Is(h.Err(), recipes.ErrMaxHoldExceeded) { // not before expired, unless zkr was stopped
			return stop(exitMaxHold, fmt.Errorf("held %s for its --max-hold while %s ran: terminated it", h.Path(), cmd[0]))
		}
		return stop(exitLost, fmt.Errorf("lost %s while %s ran (%v): terminated it", h.Path(), cmd[0], h.Err()))
	case <-revoked:
		return stop(exitRevoked, fmt.Errorf("asked to let go of %s while %s ran (--revocable): terminated it", h.Path(), cmd[0]))
	case <-ctx.Done():
		return stop(exitInterrupted, fmt.Errorf("interrupted: terminated %s", cmd[0]))
	}
}

// exitCode turns CMD's wait status into zkr's result: its exit code, or
// 128 + the number of the signal that killed it, as shells say.
func exitCode(ws syscall.WaitStatus) error {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case ws.Exited():
		return exitErr{ws.ExitStatus(), errQuiet}
	case ws.Signaled():
		return exitErr{128 + int(ws.Signal()), fmt.Errorf("command killed: %v", ws.Signal())}
	}
	return exitErr{exitError, fmt.Errorf("command ended with wait status %#x", uint32(ws))}
}

// revocable returns the channel that tells h of a revocation request, if
// the user asked zkr to heed one (--revocable); nil otherwise.
func revocable(h held, heed bool) <-chan struct{} {
	if r, ok := h.(interface{ RevokeRequested() <-chan struct{} }); ok && heed {
		return r.RevokeRequested()
	}
	return nil
}

// release gives the hold up with a bounded wait.
func release(f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f(ctx)
}
