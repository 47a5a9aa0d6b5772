package rwlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Errors returned by this package; the shared ones are the recipes errors.
var (
	// ErrLocked is returned by TryLock and TryRLock when a contender ahead
	// blocks them.
	ErrLocked = fmt.Errorf("rwlock: locked by another contender: %w", recipes.ErrWouldBlock)
	// ErrNotHeld is returned by Unlock on a hold already unlocked.
	ErrNotHeld = recipes.ErrNotHeld
	// ErrLost matches every cause of a lost hold.
	ErrLost = recipes.ErrLost
	// ErrInvalidPath is returned by New for a path ZooKeeper would reject.
	ErrInvalidPath = recipes.ErrInvalidPath
	// ErrMaxHoldExceeded ends a hold at its max hold (WithMaxHold).
	ErrMaxHoldExceeded = recipes.ErrMaxHoldExceeded
)

// markers: ours and Curator's __READ__/__WRIT__, Kazoo's __rlock__/__lock__.
var markers = []core.Marker{core.ReadMarker, core.WriteMarker, core.KazooReadMarker, core.KazooLockMarker}

// RWMutex is a distributed read-write lock at one ZooKeeper path. It is
// cheap: no server call until a lock call. Every lock call is a contender
// of its own: a hold belongs to the call that got it, not to a goroutine
// or a session, so goroutines sharing an RWMutex or a Session exclude each
// other as processes would. An RWMutex is safe for concurrent use.
type RWMutex struct {
	s *recipes.Session
	q *core.Queue
}

// New returns the read-write lock at path on session s. It checks path
// and makes no server call.
func New(s *recipes.Session, path string, opts ...Option) (*RWMutex, error) {
	var o options
	core.Apply(&o, opts)
	c, err := core.Prepare(s, path)
	if err != nil {
		return nil, fmt.Errorf("rwlock: %w", err)
	}
	q, err := core.NewQueue(c, path, markers, core.ReadWriteBlocks, core.WithYieldRule(core.DowngradeYields), core.WithMaxHold(o.maxHold),
		core.Measured("rwlock", path, "rwlock acquire", "rwlock release"))
	if err != nil {
		return nil, fmt.Errorf("rwlock: %w", err)
	}
	return &RWMutex{s: s, q: q}, nil
}

// Option configures an RWMutex.
type Option func(*options)

type options struct{ maxHold time.Duration }

// WithMaxHold limits every read and write hold of the lock to d, as
// lock.WithMaxHold limits a mutex's: the hold's context ends d after its
// grant (ErrMaxHoldExceeded), and a waiter that watches it (one of the
// two nearest blockers of a waiter behind it: read holds side by side
// ahead of a writer are each evicted) deletes its node once d and
// recipes.EvictionMargin have passed since it saw it hold. A downgrade
// keeps the limit, and moves neither the hold's own end nor the waiter's
// count.
func WithMaxHold(d time.Duration) Option { return func(o *options) { o.maxHold = d } }

// Path returns the lock's path.
func (m *RWMutex) Path() string {
	if m.made() != nil {
		return ""
	}
	return m.q.Path()
}

// made returns an error for an RWMutex that New did not make (nil or
// zero), whose methods then fail instead of panicking.
func (m *RWMutex) made() error {
	if m == nil || m.q == nil {
		return fmt.Errorf("rwlock: %w", core.ErrNoSession)
	}
	return nil
}

// Lock blocks until the write lock is held: no reader or writer holds or
// is queued ahead. If ctx ends first, Lock deletes its node and returns
// ctx.Err(); the lock is not held.
//
// Lock waits for read holds of its own Session like any other. As with
// sync.RWMutex, a read hold cannot be upgraded: a goroutine that calls
// Lock while it holds the read lock waits for itself until ctx ends, and
// meanwhile readers that queue behind its writer wait too. Unlock the read
// hold first (or take the write lock and [Hold.Downgrade] it).
func (m *RWMutex) Lock(ctx context.Context) (*Hold, error) {
	return m.acquire(ctx, core.WriteMarker, true)
}

// TryLock takes the write lock if nothing holds or queues ahead, and
// otherwise returns ErrLocked at once, leaving no node behind.
func (m *RWMutex) TryLock(ctx context.Context) (*Hold, error) {
	return m.acquire(ctx, core.WriteMarker, false)
}

// RLock blocks until the read lock is held: no writer holds or is queued
// ahead (a writer that is waiting counts, so writers are not starved). If
// ctx ends first, RLock deletes its node and returns ctx.Err(); the lock
// is not held. As with sync.RWMutex, do not read-lock recursively: a
// second RLock by a goroutine that holds the read lock waits for any
// writer queued in between, which waits for the first read hold.
func (m *RWMutex) RLock(ctx context.Context) (*Hold, error) {
	return m.acquire(ctx, core.ReadMarker, true)
}

// TryRLock takes the read lock if no writer holds or queues ahead (a
// write hold ahead that was downgraded counts as a reader), and otherwise
// returns ErrLocked at once, leaving no node behind.
func (m *RWMutex) TryRLock(ctx context.Context) (*Hold, error) {
	return m.acquire(ctx, core.ReadMarker, false)
}

func (m *RWMutex) acquire(ctx context.Context, marker core.Marker, wait bool) (*Hold, error) {
	if err := m.made(); err != nil {
		return nil, err
	}
	h, err := m.q.Acquire(ctx, marker, wait, nil)
	switch {
	case errors.Is(err, recipes.ErrWouldBlock):
		return nil, fmt.Errorf("rwlock %s: %w", m.q.Path(), ErrLocked)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("rwlock %s: %w", m.q.Path(), err)
	}
	x := &Hold{held: h, write: marker.Role == core.Exclusive}
	core.Set(&x.Holding, h)
	return x, nil
}

// Contenders returns the holders (Held) and waiters in queue order, with
// the data each client wrote; Shared tells readers (and downgraded
// writers) from writers. It is a snapshot; see [recipes.Contenders].
func (m *RWMutex) Contenders(ctx context.Context) ([]recipes.Contender, error) {
	if err := m.made(); err != nil {
		return nil, err
	}
	return recipes.Contenders(ctx, m.s, m.q.Path())
}
