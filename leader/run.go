package leader

import (
	"context"
	"errors"
	"time"
)

// RunOption configures [Election.Run].
type RunOption func(*runOptions)

type runOptions struct {
	reelect bool
}

// Reelect makes Run campaign again after each term that ended by losing
// leadership or by fn returning nil, until ctx ends or the session is
// lost. By default Run returns after one term.
func Reelect() RunOption { return func(o *runOptions) { o.reelect = true } }

// Run campaigns with value and, once elected, calls fn with a context that
// is cancelled the moment leadership is lost (or ctx ends). When fn
// returns, Run resigns. It returns fn's error; if fn returns nil after
// leadership was lost, it returns the cause of the loss (matching ErrLost).
// If ctx ends first, it returns ctx.Err() and leaves no node.
func (e *Election) Run(ctx context.Context, value []byte, fn func(ctx context.Context) error, opts ...RunOption) error {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	for {
		err := e.term(ctx, value, fn)
		switch {
		case !o.reelect, ctx.Err() != nil, e.q.Session().Err() != nil:
			return err
		case err != nil && !errors.Is(err, ErrLost):
			return err
		}
	}
}

func (e *Election) term(ctx context.Context, value []byte, fn func(ctx context.Context) error) error {
	l, err := e.Campaign(ctx, value)
	if err != nil {
		return err
	}
	work, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(l.Context(), func() { cancel(l.Err()) })
	err = fn(work)
	stop()
	lost := l.Err()
	cancel(nil)
	resignCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	_ = l.Resign(resignCtx)
	if err == nil && lost != nil {
		return lost
	}
	return err
}
