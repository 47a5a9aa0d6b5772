package leader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zkrecipes/zkrecipes/internal/core"
)

// RunOption configures [Election.Run].
type RunOption func(*runOptions)

type runOptions struct {
	reelect bool
}

// Reelect makes Run campaign again after each term that was lost (however
// fn returned then) or that fn ended by returning nil, and after a
// campaign whose node was deleted, until ctx ends, fn returns an error
// while still leading, or the session is lost or closed. By default Run
// returns after one term.
func Reelect() RunOption { return func(o *runOptions) { o.reelect = true } }

// Run campaigns with value and, once elected, calls fn with a context that
// is cancelled the moment leadership is lost (or ctx ends). When fn
// returns, Run resigns: it deletes its node, retrying through connection
// loss for at most a second, then in the background.
//
// A term is lost when leadership ended before fn returned; fn may then
// return anything (nil, its context's error, an error of its own). For a
// lost term Run's error matches the cause of the loss (and ErrLost) and
// also fn's error, if fn returned one other than its context's. If the
// session is known to be lost or closed when Run returns, the error
// matches recipes.ErrSessionLost or recipes.ErrSessionClosed, whatever
// ended the term first. A term usually ends when the connection is
// suspended, before anyone can tell whether the session expired: with
// Reelect, Run then campaigns again, which waits for the connection to
// come back or for the session to be known lost, so an expiry is reported
// as one; without it, Run returns at once, with recipes.ErrSuspended.
// If fn returns while still leading, Run returns fn's error. If ctx ends
// first, it returns ctx.Err() (or fn's error, if fn returned one) and its
// node is deleted (in the background if the connection is down).
func (e *Election) Run(ctx context.Context, value []byte, fn func(ctx context.Context) error, opts ...RunOption) error {
	if err := e.made(); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("leader %s: run: nil fn", e.Path())
	}
	var o runOptions
	core.Apply(&o, opts)
	s := e.q.Session()
	for {
		err := e.term(ctx, value, fn)
		switch {
		case err == nil && !o.reelect:
			return nil
		case ctx.Err() != nil:
			if err == nil {
				return ctx.Err()
			}
			return err
		case s.Err() != nil:
			// The real cause, whatever the term or campaign saw first.
			if !errors.Is(err, s.Err()) {
				return fmt.Errorf("leader %s: run: %w", e.Path(), errors.Join(s.Err(), err))
			}
			return err
		case err == nil, o.reelect && errors.Is(err, ErrLost):
			continue
		}
		return err
	}
}

// term campaigns once and, once elected, runs fn. Its error is fn's, or,
// if leadership was lost before fn returned, one that matches the cause.
func (e *Election) term(ctx context.Context, value []byte, fn func(ctx context.Context) error) error {
	l, err := e.Campaign(ctx, value)
	if err != nil {
		return err
	}
	work, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(l.Context(), func() { cancel(l.Err()) })
	// Deferred, so that a panic in fn (one the caller recovers from, as an
	// HTTP server does) gives leadership up too.
	defer func() {
		stop()
		cancel(nil)
		resignCtx, done := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer done()
		_ = l.Resign(resignCtx)
	}()
	err = fn(work)
	lost := l.Err()
	switch {
	case lost == nil:
		return err
	case err == nil, errors.Is(err, context.Canceled) && ctx.Err() == nil:
		return fmt.Errorf("leader %s: term lost: %w", e.Path(), lost)
	}
	return fmt.Errorf("leader %s: term lost: %w (fn: %w)", e.Path(), lost, err)
}
