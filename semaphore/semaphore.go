package semaphore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Errors returned by this package; the shared ones are the recipes errors.
var (
	// ErrNoLease is returned by TryAcquire when no lease is free, or
	// another acquirer holds the semaphore's mutex.
	ErrNoLease = fmt.Errorf("semaphore: no lease free: %w", recipes.ErrWouldBlock)
	// ErrTooMany is returned by AcquireN for more leases than the maximum.
	ErrTooMany = errors.New("semaphore: more leases than the maximum")
	// ErrNoCount reports that the count node that sets the maximum is
	// missing or does not hold a count.
	ErrNoCount = errors.New("semaphore: no count")
	// ErrNotHeld is returned by Unlock on a lease already returned.
	ErrNotHeld = recipes.ErrNotHeld
	// ErrLost matches every cause of a lost lease.
	ErrLost = recipes.ErrLost
	// ErrInvalidPath is returned by New for a path ZooKeeper would reject.
	ErrInvalidPath = recipes.ErrInvalidPath
)

var (
	// leaseMarker names lease nodes as Curator's InterProcessSemaphoreV2.
	leaseMarker = core.Marker{Name: "lease-", Role: core.Shared}
	// noneBlocks: the leases' queue is no queue, only where they are made.
	noneBlocks = func(me, other core.Node) bool { return false }
)

// Semaphore is a counting semaphore at one ZooKeeper path: at most max
// leases at a time across every process that uses the path, whether it
// runs this package or Apache Curator's InterProcessSemaphoreV2. It is
// cheap: no server call until an acquisition. Every lease belongs to the
// call that got it, so goroutines sharing a Semaphore or a Session count
// as processes would. A Semaphore is safe for concurrent use.
type Semaphore struct {
	s      *recipes.Session
	c      *core.Session
	path   string
	locks  *core.Queue // the mutex at path/locks that acquirers take in turn
	leases *core.Queue // where leases are made: path/leases
	max    int         // the maximum, unless count is set
	count  string      // the node that holds the maximum, if any
}

// New returns the semaphore at path on session s with at most max leases.
// Every client of the path must use the same max, as with Curator; for a
// maximum that operators change live, see [NewCounted]. It checks its
// arguments and makes no server call.
func New(s *recipes.Session, p string, max int) (*Semaphore, error) {
	if max < 1 {
		return nil, fmt.Errorf("semaphore %s: max %d: want at least 1", p, max)
	}
	return newSemaphore(s, p, max, "")
}

// NewCounted returns the semaphore at path on session s whose maximum is
// the count at countPath, in the format of Curator's SharedCount (a 4-byte
// big-endian integer), read at every acquisition and watched while one
// waits: raising it admits waiters at once; lowering it takes no lease
// back. An acquisition fails with ErrNoCount while the node is missing or
// holds no count.
func NewCounted(s *recipes.Session, p, countPath string) (*Semaphore, error) {
	if err := recipes.ValidatePath(countPath); err != nil {
		return nil, fmt.Errorf("semaphore: count: %w", err)
	}
	return newSemaphore(s, p, 0, countPath)
}

func newSemaphore(s *recipes.Session, p string, max int, count string) (*Semaphore, error) {
	c, err := core.Prepare(s, p)
	if err != nil {
		return nil, fmt.Errorf("semaphore: %w", err)
	}
	locks, err := core.NewQueue(c, p+"/locks", []core.Marker{core.MutexMarker}, core.AnyBlocks)
	if err != nil {
		return nil, fmt.Errorf("semaphore: %w", err)
	}
	leases, err := core.NewQueue(c, p+"/leases", []core.Marker{leaseMarker}, noneBlocks)
	if err != nil {
		return nil, fmt.Errorf("semaphore: %w", err)
	}
	return &Semaphore{s: s, c: c, path: p, locks: locks, leases: leases, max: max, count: count}, nil
}

// Path returns the semaphore's path.
func (m *Semaphore) Path() string { return m.path }

// Acquire blocks until it holds a lease, and returns it. It waits first
// for the semaphore's mutex (path/locks, which Curator's clients take
// too), then, holding it, for the number of leases to drop below the
// maximum; so acquirers are served in the order they came, and only the
// one holding the mutex watches the leases. If ctx ends first, Acquire
// deletes what it made and returns ctx.Err(). If the session is lost, or
// its connection is suspended while waiting, it returns an error matching
// ErrLost.
func (m *Semaphore) Acquire(ctx context.Context) (*Lease, error) {
	ls, err := m.acquire(ctx, 1, true)
	if err != nil {
		return nil, err
	}
	return ls[0], nil
}

// AcquireN blocks until it holds n leases at once, all or nothing: the n
// nodes are made together while it holds the mutex, and granted together
// once they all fit. With a fixed maximum, n above it fails at once with
// ErrTooMany. Cancel and loss are as for Acquire: no lease is left behind.
func (m *Semaphore) AcquireN(ctx context.Context, n int) ([]*Lease, error) {
	if n < 1 {
		return nil, fmt.Errorf("semaphore %s: %d leases: want at least 1", m.path, n)
	}
	return m.acquire(ctx, n, true)
}

// TryAcquire takes a lease if one is free and nobody else is acquiring,
// and otherwise returns ErrNoLease at once, leaving no node behind.
func (m *Semaphore) TryAcquire(ctx context.Context) (*Lease, error) {
	ls, err := m.acquire(ctx, 1, false)
	if err != nil {
		return nil, err
	}
	return ls[0], nil
}

func (m *Semaphore) acquire(ctx context.Context, n int, wait bool) (_ []*Lease, err error) {
	defer func() {
		switch {
		case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, recipes.ErrWouldBlock):
			err = fmt.Errorf("semaphore %s: %w", m.path, ErrNoLease)
		default:
			err = fmt.Errorf("semaphore %s: %w", m.path, err)
		}
	}()
	if m.count == "" && n > m.max {
		return nil, fmt.Errorf("%d leases, at most %d: %w", n, m.max, ErrTooMany)
	}
	mu, err := m.locks.Acquire(ctx, core.MutexMarker, wait, nil)
	if err != nil {
		return nil, err
	}
	defer m.release(ctx, mu)
	pending := make([]*core.Hold, 0, n)
	defer func() {
		if err != nil {
			for _, h := range pending {
				h.Abandon()
			}
		}
	}()
	for range n {
		h, err := m.leases.Join(ctx, leaseMarker, nil)
		if err != nil {
			return nil, err
		}
		pending = append(pending, h)
	}
	if err := m.await(ctx, mu, pending, wait); err != nil {
		return nil, err
	}
	leases := make([]*Lease, n)
	for i, h := range pending {
		h.Grant()
		leases[i] = &Lease{h: h}
		core.Set(&leases[i].Holding, h)
	}
	return leases, nil
}

// release gives the mutex back, through a lost connection for a second
// past ctx's end, then in the background.
func (m *Semaphore) release(ctx context.Context, mu *core.Hold) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	mu.Release(rctx)
}

// await waits, holding the mutex mu, until the leases' count, pending
// ones included, is at most the maximum. Only mutex holders make lease
// nodes, so a count within the maximum stays so until the mutex is
// released.
func (m *Semaphore) await(ctx context.Context, mu *core.Hold, pending []*core.Hold, wait bool) error {
	for {
		children, changed, err := m.listLeases(ctx)
		max, maxChanged, merr := m.maximum(ctx)
		switch {
		case core.Retryable(err), core.Retryable(merr):
			if err := m.c.WaitConnected(ctx); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		case merr != nil:
			return merr
		}
		for _, h := range pending {
			if !slices.Contains(children, path.Base(h.Path())) {
				return fmt.Errorf("lease %s: %w", h.Path(), recipes.ErrNodeDeleted)
			}
		}
		switch {
		case len(children) <= max:
			return nil
		case !wait:
			return recipes.ErrWouldBlock
		case m.count == "" && len(pending) > max:
			return ErrTooMany
		}
		select {
		case <-changed:
		case <-maxChanged:
		case <-mu.Done():
			return fmt.Errorf("the semaphore's mutex: %w", mu.Err())
		case <-m.c.Done():
			return m.c.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// listLeases lists the lease nodes with a watch. Every child counts, as
// with Curator: one that is not a lease takes a place too.
func (m *Semaphore) listLeases(ctx context.Context) ([]string, <-chan zk.Event, error) {
	type listing struct {
		children []string
		watch    <-chan zk.Event
	}
	l, err := core.Call(ctx, m.c, func(conn *zk.Conn) (listing, error) {
		c, _, w, err := conn.ChildrenW(m.leases.Path())
		return listing{c, w}, err
	})
	return l.children, l.watch, err
}

// maximum returns the maximum, and for a counted one a watch on its node.
func (m *Semaphore) maximum(ctx context.Context) (int, <-chan zk.Event, error) {
	if m.count == "" {
		return m.max, nil, nil
	}
	type read struct {
		data  []byte
		watch <-chan zk.Event
	}
	r, err := core.Call(ctx, m.c, func(conn *zk.Conn) (read, error) {
		d, _, w, err := conn.GetW(m.count)
		return read{d, w}, err
	})
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return 0, nil, fmt.Errorf("%w: %s does not exist", ErrNoCount, m.count)
	case err != nil:
		return 0, nil, err
	}
	max, ok := ParseCount(r.data)
	if !ok {
		return 0, nil, fmt.Errorf("%w: %s holds %d bytes, not a 4-byte count", ErrNoCount, m.count, len(r.data))
	}
	return max, r.watch, nil
}

// ParseCount reads a count in the format of Curator's SharedCount: a
// 4-byte big-endian signed integer (longer data: its first 4 bytes).
func ParseCount(data []byte) (int, bool) {
	if len(data) < 4 {
		return 0, false
	}
	return int(int32(binary.BigEndian.Uint32(data))), true
}

// FormatCount writes n in the format of Curator's SharedCount, for the
// count node of [NewCounted].
func FormatCount(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

// Leases returns the lease nodes (those of an acquirer still waiting
// included) and then the acquirers queued for the semaphore's mutex, the
// first of which is the one waiting for a lease. It is a snapshot.
func (m *Semaphore) Leases(ctx context.Context) (leases, waiters []recipes.Contender, err error) {
	if leases, err = public(m.leases.Contenders(ctx)); err != nil {
		return nil, nil, err
	}
	if waiters, err = public(m.locks.Contenders(ctx)); err != nil {
		return nil, nil, err
	}
	for i := range waiters {
		waiters[i].Held = false // holding the mutex is no lease
	}
	return leases, waiters, nil
}

// Inspect returns the leases and waiters of the semaphore at path, as
// [Semaphore.Leases] does, whatever its maximum: for tools (zkr inspect).
func Inspect(ctx context.Context, s *recipes.Session, path string) (leases, waiters []recipes.Contender, err error) {
	m, err := newSemaphore(s, path, 1, "")
	if err != nil {
		return nil, nil, err
	}
	return m.Leases(ctx)
}

func public(cs []core.Contender, err error) ([]recipes.Contender, error) {
	out := make([]recipes.Contender, len(cs))
	for i, c := range cs {
		out[i] = recipes.Contender(c)
	}
	return out, err
}

// Lease is one lease of a semaphore. See [recipes.Holding] for Done,
// Context, Err, Path, Token, Guard and Multi; Unlock returns it. Its token
// is the zxid that created its node: it orders the leases' grants, but
// leases are not exclusive.
type Lease struct {
	recipes.Holding
	h *core.Hold
}

// Unlock returns the lease by deleting its node, retrying through
// connection loss until ctx ends (then in the background). Unlocking twice
// returns ErrNotHeld; unlocking a lost lease returns the cause, matching
// ErrLost.
func (l *Lease) Unlock(ctx context.Context) error { return l.h.Release(ctx) }
