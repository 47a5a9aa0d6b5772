package multilock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// ErrDuplicate is returned by Lock for two parts on one path: taking
// both would wait for itself.
var ErrDuplicate = errors.New("multilock: two parts on one path")

// Held is what Lock took for one part: a *lock.Hold, *rwlock.Hold or
// *semaphore.Lease, behind the surface they share.
type Held interface {
	Done() <-chan struct{}
	Context() context.Context
	Err() error
	Path() string
	Token() int64
	Guard() *zk.CheckVersionRequest
	Multi(ctx context.Context, ops ...any) ([]zk.MultiResponse, error)
	Unlock(ctx context.Context) error
}

// A Part is one lock that Lock takes: see [Mutex], [Read], [Write] and
// [Lease].
type Part struct {
	path    string
	acquire func(context.Context) (Held, error)
}

// Mutex is the part that holds m.
func Mutex(m *lock.Mutex) Part { return Part{m.Path(), held(m.Lock)} }

// Read is the part that holds m's read lock.
func Read(m *rwlock.RWMutex) Part { return Part{m.Path(), held(m.RLock)} }

// Write is the part that holds m's write lock.
func Write(m *rwlock.RWMutex) Part { return Part{m.Path(), held(m.Lock)} }

// Lease is the part that holds one lease of s.
func Lease(s *semaphore.Semaphore) Part { return Part{s.Path(), held(s.Acquire)} }

// held makes an acquire function of a recipe one that returns Held, with
// no typed nil on failure.
func held[H Held](acquire func(context.Context) (H, error)) func(context.Context) (Held, error) {
	return func(ctx context.Context) (Held, error) {
		h, err := acquire(ctx)
		if err != nil {
			return nil, err
		}
		return h, nil
	}
}

// Lock takes every part, all or nothing, and returns the hold of all of
// them. It takes them one after another in the order of their paths,
// whatever order they are given in, so that two Locks over overlapping
// sets of paths, in this process or any other, never wait for each other
// in a cycle. It blocks until every part is held; if ctx ends first, or a
// part fails or is lost before the last is taken, it gives back what it
// took (in reverse order) and returns the error: no node of its own is
// left. Two parts on one path are refused with ErrDuplicate.
func Lock(ctx context.Context, parts ...Part) (*Hold, error) {
	parts = slices.SortedStableFunc(slices.Values(parts), func(a, b Part) int { return cmp.Compare(a.path, b.path) })
	for i := 1; i < len(parts); i++ {
		if parts[i].path == parts[i-1].path {
			return nil, fmt.Errorf("%w: %s", ErrDuplicate, parts[i].path)
		}
	}
	var holds []Held
	for _, p := range parts {
		h, err := p.acquire(ctx)
		if err == nil {
			err = lostOne(holds) // one taken earlier may have been lost meanwhile
		}
		if err != nil {
			if h != nil {
				holds = append(holds, h)
			}
			unlockAll(ctx, holds)
			return nil, fmt.Errorf("multilock %s: %w", p.path, err)
		}
		holds = append(holds, h)
	}
	return newHold(holds), nil
}

// lostOne returns the cause of the first hold of holds that is lost.
func lostOne(holds []Held) error {
	for _, h := range holds {
		if err := h.Err(); err != nil {
			return fmt.Errorf("%s lost: %w", h.Path(), err)
		}
	}
	return nil
}

// unlockAll gives every hold back, the last taken first, through a lost
// connection for a second past ctx's end (then in the background); it
// returns the errors joined.
func unlockAll(ctx context.Context, holds []Held) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if ctx.Err() == nil {
		rctx = ctx
	}
	var errs []error
	for _, h := range slices.Backward(holds) {
		errs = append(errs, h.Unlock(rctx))
	}
	return errors.Join(errs...)
}

// Hold holds every part of a Lock. It is trusted while every part is: its
// Done channel closes, and its Context ends, as soon as one part is lost
// or the hold is given up. It is safe for concurrent use.
type Hold struct {
	holds  []Held // in the order taken: by path
	ctx    context.Context
	cancel context.CancelCauseFunc
	stops  []func() bool
}

func newHold(holds []Held) *Hold {
	ctx, cancel := context.WithCancelCause(context.Background())
	h := &Hold{holds: holds, ctx: ctx, cancel: cancel}
	for _, p := range holds {
		h.stops = append(h.stops, context.AfterFunc(p.Context(), func() {
			cancel(fmt.Errorf("multilock: %s: %w", p.Path(), p.Err()))
		}))
	}
	return h
}

// Holds returns what was taken for each part, in the order of their paths.
func (h *Hold) Holds() []Held { return slices.Clone(h.holds) }

// Done returns a channel closed when a part is lost or the hold is given
// up.
func (h *Hold) Done() <-chan struct{} { return h.ctx.Done() }

// Context returns a context cancelled when a part is lost or the hold is
// given up; context.Cause tells which. Do the protected work under it.
func (h *Hold) Context() context.Context { return h.ctx }

// Err returns nil while every part is trusted; after a loss, the first
// cause seen (it matches recipes.ErrLost); after Unlock, ErrNotHeld.
func (h *Hold) Err() error { return context.Cause(h.ctx) }

// Multi applies ops atomically, and only if every part's node still
// exists unchanged (the server checks every guard in the same
// transaction). It blocks until the server answers or ctx ends, and
// returns one response per op. If a guard fails, nothing was written and
// the error says which part's.
func (h *Hold) Multi(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	if err := h.Err(); err != nil {
		return nil, fmt.Errorf("multilock: multi: %w", err)
	}
	var guards []any
	for _, p := range h.holds[1:] {
		guards = append(guards, p.Guard())
	}
	res, err := h.holds[0].Multi(ctx, append(guards, ops...)...)
	if err != nil {
		return nil, fmt.Errorf("multilock: multi: %w", err)
	}
	return res[len(guards):], nil
}

// Unlock gives every part back, the last taken first, retrying through
// connection loss until ctx ends (then in the background). It returns the
// parts' errors joined: unlocking twice returns ErrNotHeld, and a part
// that was lost returns its cause.
func (h *Hold) Unlock(ctx context.Context) error {
	for _, stop := range h.stops {
		stop()
	}
	h.cancel(recipes.ErrNotHeld)
	var errs []error
	for _, p := range slices.Backward(h.holds) {
		errs = append(errs, p.Unlock(ctx))
	}
	return errors.Join(errs...)
}
