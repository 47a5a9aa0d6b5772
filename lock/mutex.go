package lock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Errors returned by this package. They are the shared recipes errors, so
// errors.Is works with either name.
var (
	// ErrLocked is returned by TryLock when another contender holds or
	// queues ahead.
	ErrLocked = fmt.Errorf("lock: locked by another contender: %w", recipes.ErrWouldBlock)
	// ErrNotHeld is returned by Unlock on a hold already unlocked.
	ErrNotHeld = recipes.ErrNotHeld
	// ErrLost matches every cause of a lost hold.
	ErrLost = recipes.ErrLost
	// ErrInvalidPath is returned by New for a path ZooKeeper would reject.
	ErrInvalidPath = recipes.ErrInvalidPath
	// ErrMaxHoldExceeded ends a hold at its max hold (WithMaxHold).
	ErrMaxHoldExceeded = recipes.ErrMaxHoldExceeded
)

// markers are the contenders a mutex queues with: ours and Curator's
// "lock-", go-zookeeper's zk.Lock ("lock-" too) and Kazoo's "__lock__".
var markers = []core.Marker{core.MutexMarker, core.KazooLockMarker}

// Mutex is a distributed mutual-exclusion lock at one ZooKeeper path. It
// is cheap: no server call until Lock. Each Lock is one contender, so two
// goroutines locking the same Mutex exclude each other as two processes
// would; it is not reentrant. Grants are first come, first served. A Mutex
// is safe for concurrent use.
type Mutex struct {
	s *recipes.Session
	q *core.Queue
}

// Option configures a Mutex.
type Option func(*options)

type options struct{ maxHold time.Duration }

// WithMaxHold limits every hold of the mutex to d: its context ends d after
// the grant (Err matches ErrMaxHoldExceeded, and ErrLost), and the holder is
// to stop. The limit is declared in the hold's node, and the contender next in
// line (or the one after it, which watches the holder too) deletes the node
// once d and recipes.EvictionMargin have passed since it saw the hold: a
// holder whose code hangs while its session lives (a deadlock, a stuck call)
// holds no longer than that, and a holder that wakes late is refused by
// fencing. Nodes that declare no limit (ours without the option, Curator's,
// Kazoo's) are never evicted. [recipes.Holding.Extend] moves the limit.
func WithMaxHold(d time.Duration) Option { return func(o *options) { o.maxHold = d } }

// New returns the mutex at path on session s. It checks its arguments and
// makes no server call; the path's parents are created as CONTAINER nodes
// on the first Lock and deleted by the server once empty.
func New(s *recipes.Session, path string, opts ...Option) (*Mutex, error) {
	var o options
	core.Apply(&o, opts)
	c, err := core.Prepare(s, path)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	q, err := core.NewQueue(c, path, markers, core.AnyBlocks, core.WithMaxHold(o.maxHold), core.Measured("lock", path, "lock acquire", "lock release"))
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return &Mutex{s: s, q: q}, nil
}

// Path returns the mutex's path.
func (m *Mutex) Path() string {
	if m.made() != nil {
		return ""
	}
	return m.q.Path()
}

// made returns an error for a Mutex that New did not make (nil or zero),
// whose methods then fail instead of panicking.
func (m *Mutex) made() error {
	if m == nil || m.q == nil {
		return fmt.Errorf("lock: %w", core.ErrNoSession)
	}
	return nil
}

// Lock blocks until the mutex is held and returns the hold. A waiter sets up
// to three watches (on the contender just ahead, the one before it, and its
// own node) and is woken when the one just ahead goes; no release wakes more
// than two waiters. If ctx ends first, Lock deletes its node and returns
// ctx.Err(): the mutex is not held. If the session is lost meanwhile, it
// returns an error matching ErrLost.
func (m *Mutex) Lock(ctx context.Context) (*Hold, error) {
	if err := m.made(); err != nil {
		return nil, err
	}
	h, err := m.q.Acquire(ctx, core.MutexMarker, true, nil)
	if err != nil {
		return nil, m.wrap(err)
	}
	return newHold(h), nil
}

// TryLock takes the mutex if no other contender holds it or queues ahead,
// and otherwise returns ErrLocked at once, leaving no node behind. It makes
// three requests either way (four on a Session over the application's
// connection, which reads its node back for the token).
func (m *Mutex) TryLock(ctx context.Context) (*Hold, error) {
	if err := m.made(); err != nil {
		return nil, err
	}
	h, err := m.q.Acquire(ctx, core.MutexMarker, false, nil)
	if err != nil {
		return nil, m.wrap(err)
	}
	return newHold(h), nil
}

func (m *Mutex) wrap(err error) error {
	if errors.Is(err, recipes.ErrWouldBlock) {
		err = ErrLocked
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("lock %s: %w", m.q.Path(), err)
}

// Contenders returns the holder (first, Held) and the waiters in queue
// order, with the data each client wrote (ours: an identity, see
// recipes.WithIdentity; Curator: an IP address). It is a snapshot; see
// [recipes.Contenders].
func (m *Mutex) Contenders(ctx context.Context) ([]recipes.Contender, error) {
	if err := m.made(); err != nil {
		return nil, err
	}
	return recipes.Contenders(ctx, m.s, m.q.Path())
}

// Hold is a held mutex. See [recipes.Holding] for Done, Context, Err,
// Path, Token, Guard and Multi; Unlock gives it up.
type Hold struct {
	recipes.Holding
	h *core.Hold
}

func newHold(h *core.Hold) *Hold {
	x := &Hold{h: h}
	core.Set(&x.Holding, h)
	return x
}

// Unlock releases the mutex by deleting the hold's node, retrying through
// connection loss until ctx ends (then the deletion goes on in the
// background). Unlocking twice (or a nil Hold) returns ErrNotHeld; unlocking a
// lost hold returns the cause of the loss, matching ErrLost.
func (h *Hold) Unlock(ctx context.Context) error {
	if h == nil { // misuse: an Unlock deferred before Lock's error was checked
		return fmt.Errorf("lock: unlock: %w", ErrNotHeld)
	}
	return core.OrNone(h.h).Release(ctx)
}
