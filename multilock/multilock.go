package multilock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/internal/core"
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
	path      string
	wait, try func(context.Context) (Held, error) // the part's Lock and TryLock
}

// Mutex is the part that holds m.
func Mutex(m *lock.Mutex) Part {
	if m == nil {
		return Part{}
	}
	return Part{m.Path(), held(m.Lock), held(m.TryLock)}
}

// Read is the part that holds m's read lock.
func Read(m *rwlock.RWMutex) Part {
	if m == nil {
		return Part{}
	}
	return Part{m.Path(), held(m.RLock), held(m.TryRLock)}
}

// Write is the part that holds m's write lock.
func Write(m *rwlock.RWMutex) Part {
	if m == nil {
		return Part{}
	}
	return Part{m.Path(), held(m.Lock), held(m.TryLock)}
}

// Lease is the part that holds one lease of s.
func Lease(s *semaphore.Semaphore) Part {
	if s == nil {
		return Part{}
	}
	return Part{s.Path(), held(s.Acquire), held(s.TryAcquire)}
}

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
// in a cycle. It blocks until every part is held. If ctx ends first, it
// gives back what it took (in reverse order) and returns ctx.Err(); if a
// part fails, or one already taken is lost while it waits for the next, it
// gives back what it took and returns the error: either way no node of its
// own is left. No parts, a zero Part, or two parts on one path (refused
// with ErrDuplicate) are errors. What it gives back after a failure or a
// loss, it deletes for at most a second, then in the background: it does
// not wait for a dropped connection to come back.
func Lock(ctx context.Context, parts ...Part) (*Hold, error) {
	return take(ctx, parts, true)
}

// TryLock takes every part if none is held against it, in the order of
// their paths as Lock does, and otherwise gives back what it took and
// returns the error of the first part that is held: it matches
// recipes.ErrWouldBlock, and that part's own (lock.ErrLocked,
// rwlock.ErrLocked, semaphore.ErrNoLease). It waits for no holder, only,
// as every call does, for a dropped connection to come back (or ctx to
// end). Its other errors, and what it leaves behind, are Lock's.
func TryLock(ctx context.Context, parts ...Part) (*Hold, error) {
	return take(ctx, parts, false)
}

// take takes every part, waiting for each (see Lock) or not (TryLock).
func take(ctx context.Context, parts []Part, wait bool) (*Hold, error) {
	if len(parts) == 0 {
		return nil, errors.New("multilock: no parts")
	}
	parts = slices.SortedStableFunc(slices.Values(parts), func(a, b Part) int { return cmp.Compare(a.path, b.path) })
	for i, p := range parts {
		switch {
		case p.wait == nil:
			return nil, errors.New("multilock: a part has no lock")
		case i > 0 && p.path == parts[i-1].path:
			return nil, fmt.Errorf("%w: %s", ErrDuplicate, p.path)
		}
	}
	// Waiting for a part ends when one taken before it is lost.
	actx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	var holds []Held
	for _, p := range parts {
		acquire := p.try
		if wait {
			acquire = p.wait
		}
		h, err := acquire(actx)
		if err == nil {
			err = lostOne(holds) // lost just as p was granted
		}
		if err != nil {
			if cause := context.Cause(actx); actx.Err() != nil && cause != nil {
				err = cause // a part taken before was lost: p gave up for it
			}
			// Before giving the parts back, which would end their
			// contexts and be taken for a loss.
			for _, stop := range stops {
				stop()
			}
			if h != nil {
				holds = append(holds, h)
			}
			unlockAll(ctx, holds)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("multilock %s: %w", p.path, err)
		}
		holds = append(holds, h)
		stops = append(stops, context.AfterFunc(h.Context(), func() { abort(fmt.Errorf("%s lost: %w", h.Path(), h.Err())) }))
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

// unlockAll gives every hold back, the last taken first, for at most a
// second whether or not ctx has ended (then in the background): a part is
// often lost to a dropped connection, which may not come back soon.
func unlockAll(ctx context.Context, holds []Held) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	for _, h := range slices.Backward(holds) {
		h.Unlock(rctx)
	}
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

// Holds returns what was taken for each part, in the order of their paths:
// each part's path and fencing token. Give the parts up together, with
// Unlock: unlocking one alone leaves the rest held, and this hold lost.
func (h *Hold) Holds() []Held {
	if h == nil {
		return nil
	}
	return slices.Clone(h.holds)
}

// Done returns a channel closed when a part is lost or the hold is given
// up.
func (h *Hold) Done() <-chan struct{} { return h.context().Done() }

// Context returns a context cancelled when a part is lost or the hold is
// given up; context.Cause tells which. Do the protected work under it.
func (h *Hold) Context() context.Context { return h.context() }

// Err returns nil while every part is trusted; after a loss, the first
// cause seen (it matches recipes.ErrLost, or recipes.ErrNotHeld if a part
// was given up on its own, through Holds); after Unlock, ErrNotHeld.
func (h *Hold) Err() error { return context.Cause(h.context()) }

// context returns the hold's context, or, for a nil or zero Hold, one
// given up (ErrNotHeld), so that misuse is an error, not a panic.
func (h *Hold) context() context.Context {
	if h == nil || h.ctx == nil {
		return core.OrNone(nil).Context()
	}
	return h.ctx
}

// Multi applies ops atomically, and only if every part's node still
// exists unchanged: the server checks every part's guard in the same
// transaction, which goes out on the session of the first part (by path),
// whatever sessions the others are on. It blocks until the server answers
// or ctx ends, and returns one response per op. If a part's guard fails,
// nothing was written, and that part's node is read, as Holding.Multi
// reads its own: after a revocation request the transaction is sent
// again; otherwise the part, and so the hold, ends, and the error names
// the part and matches recipes.ErrNodeDeleted (the node is gone) or
// recipes.ErrNodeMismatch (another client wrote it); if the node cannot
// be read, the error says so, and the hold stays. If an op fails, it
// returns the responses and an error naming the op, as Holding.Multi does.
func (h *Hold) Multi(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	if err := h.Err(); err != nil {
		return nil, fmt.Errorf("multilock: multi: %w", err)
	}
	holds := make([]*core.Hold, len(h.holds))
	for i, p := range h.holds {
		holds[i] = core.HoldOf(p) // every part Lock makes carries one
	}
	res, err := core.MultiUnder(ctx, holds, ops...)
	if err != nil {
		return res, fmt.Errorf("multilock: %w", err)
	}
	return res, nil
}

// Unlock gives every part back, the last taken first, retrying through
// connection loss until ctx ends (then in the background). It returns the
// parts' errors joined: unlocking twice (or a nil Hold) returns ErrNotHeld,
// and a part that was lost returns its cause.
func (h *Hold) Unlock(ctx context.Context) error {
	if h == nil || h.cancel == nil { // misuse: an Unlock deferred before Lock's error was checked
		return fmt.Errorf("multilock: unlock: %w", recipes.ErrNotHeld)
	}
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
