package semaphore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sync"
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
	// ErrTooMany is returned by AcquireN for more leases than the maximum,
	// and by Acquire when a counted maximum is below 1.
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
	// ErrMaxHoldExceeded ends a lease at its max hold (WithMaxHold).
	ErrMaxHoldExceeded = recipes.ErrMaxHoldExceeded
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

	cturn  core.Turn       // one read of the count at a time
	cmax   int             // the count as last read
	cwatch <-chan zk.Event // the watch set by that read, until it fires
}

// Option configures a Semaphore.
type Option func(*options)

type options struct{ maxHold time.Duration }

// WithMaxHold limits every lease of the semaphore to d: its context ends
// d after the grant (Err matches ErrMaxHoldExceeded, and ErrLost), and the
// holder is to stop. The limit is declared in the lease's node, and the
// acquirer waiting for a lease (of this package, with or without the
// option) deletes the node once d and recipes.EvictionMargin have passed
// since it first listed the lease: a holder whose code hangs while its
// session lives holds its lease no longer than that, as long as someone
// waits for one. Leases that declare no limit (ours without the option,
// Curator's) are never evicted. [recipes.Holding.Extend] moves the limit.
func WithMaxHold(d time.Duration) Option { return func(o *options) { o.maxHold = d } }

// New returns the semaphore at path on session s with at most max leases.
// Every client of the path must use the same max, as with Curator; for a
// maximum that operators change live, see [NewCounted]. It checks its
// arguments and makes no server call.
func New(s *recipes.Session, p string, max int, opts ...Option) (*Semaphore, error) {
	if max < 1 {
		return nil, fmt.Errorf("semaphore %s: max %d: want at least 1", p, max)
	}
	return newSemaphore(s, p, max, "", opts)
}

// NewCounted returns the semaphore at path on session s whose maximum is
// the count at countPath, in the format of Curator's SharedCount (a 4-byte
// big-endian integer), read at every acquisition and watched while one
// waits: raising it admits waiters at once; lowering it takes no lease
// back. An acquisition fails with ErrNoCount while the node is missing or
// holds no count.
func NewCounted(s *recipes.Session, p, countPath string, opts ...Option) (*Semaphore, error) {
	if err := recipes.ValidatePath(countPath); err != nil {
		return nil, fmt.Errorf("semaphore: count: %w", err)
	}
	return newSemaphore(s, p, 0, countPath, opts)
}

func newSemaphore(s *recipes.Session, p string, max int, count string, opts []Option) (*Semaphore, error) {
	var o options
	core.Apply(&o, opts)
	c, err := core.Prepare(s, p)
	if err != nil {
		return nil, fmt.Errorf("semaphore: %w", err)
	}
	// The mutex matters only while its holder waits with its session: the
	// count is safe without it (see await), so its holds do not watch
	// their own nodes.
	locks, err := core.NewQueue(c, p+"/locks", []core.Marker{core.MutexMarker}, core.AnyBlocks, core.Unwatched())
	if err != nil {
		return nil, fmt.Errorf("semaphore: %w", err)
	}
	leases, err := core.NewQueue(c, p+"/leases", []core.Marker{leaseMarker}, noneBlocks, core.Unlisted(), core.WithMaxHold(o.maxHold),
		core.Measured("semaphore", p, "semaphore acquire", "semaphore release"))
	if err != nil {
		return nil, fmt.Errorf("semaphore: %w", err)
	}
	return &Semaphore{s: s, c: c, path: p, locks: locks, leases: leases, max: max, count: count}, nil
}

// Path returns the semaphore's path.
func (m *Semaphore) Path() string { return m.path }

// Acquire blocks until it holds a lease, and returns it. It waits first
// for the semaphore's mutex (path/locks, which Curator's clients take
// too), then, holding it, makes its lease node and waits for the number of
// leases to be at most the maximum; so acquirers are served in the order
// they came, and only the one holding the mutex watches the leases. The
// waiter's watches: on the one or two mutex contenders ahead of it (not on
// its own mutex node), then one on the leases' children, one on its lease
// node from the grant on, and, for a counted maximum, one on the count node
// per Semaphore. If ctx ends
// first, Acquire deletes what it made and returns ctx.Err(). If the
// session is lost, or the mutex is (by default, when the connection is
// suspended), it returns an error matching ErrLost and leaves no node.
// A counted maximum below 1 (set to 0 to pause the work, say) fails it
// with ErrTooMany, as AcquireN fails above the maximum, at once or as soon
// as the count drops while it waits; Curator's acquirers wait instead.
func (m *Semaphore) Acquire(ctx context.Context) (*Lease, error) {
	ls, err := m.acquire(ctx, 1, true)
	if err != nil {
		return nil, err
	}
	return ls[0], nil
}

// AcquireN blocks until it holds n leases at once, all or nothing: the n
// nodes are made together while it holds the mutex, and granted together
// once they all fit. n above the maximum fails with ErrTooMany, at once or
// as soon as a counted maximum drops below n while it waits, rather than
// keep every other acquirer waiting behind it. Cancel and loss are as for
// Acquire: no lease is left behind.
func (m *Semaphore) AcquireN(ctx context.Context, n int) ([]*Lease, error) {
	return m.acquire(ctx, n, true)
}

// TryAcquire takes a lease if one is free and nobody else is acquiring,
// and otherwise returns ErrNoLease, leaving no node behind. It waits for
// neither, only, as every call does, for a dropped connection to come
// back (or ctx to end).
func (m *Semaphore) TryAcquire(ctx context.Context) (*Lease, error) {
	ls, err := m.acquire(ctx, 1, false)
	if err != nil {
		return nil, err
	}
	return ls[0], nil
}

// TryAcquireN takes n leases at once if they are free and nobody else is
// acquiring, and otherwise returns ErrNoLease, leaving no node behind; n
// above the maximum fails with ErrTooMany. It waits as TryAcquire does.
func (m *Semaphore) TryAcquireN(ctx context.Context, n int) ([]*Lease, error) {
	return m.acquire(ctx, n, false)
}

func (m *Semaphore) acquire(ctx context.Context, n int, wait bool) (_ []*Lease, err error) {
	if n < 1 {
		return nil, fmt.Errorf("semaphore %s: %d leases: want at least 1", m.path, n)
	}
	ctx, op := m.leases.Begin(ctx)
	var granted []*core.Hold
	defer func() { op.End(err, granted...) }()
	defer func() {
		err = core.CtxErr(ctx, err) // itself, not wrapped, as Acquire promises
		switch {
		case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, recipes.ErrWouldBlock):
			err = fmt.Errorf("semaphore %s: %w", m.path, ErrNoLease)
		default:
			err = fmt.Errorf("semaphore %s: %w", m.path, err)
		}
	}()
	// The maximum first: a missing count or too many leases fail before
	// anything is made.
	for {
		max, _, err := m.maximum(ctx)
		if core.Retryable(err) {
			if err = m.c.WaitConnected(ctx); err == nil {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		if n > max {
			return nil, fmt.Errorf("%d leases, at most %d: %w", n, max, ErrTooMany)
		}
		break
	}
	mu, err := m.locks.Acquire(ctx, core.MutexMarker, wait, nil)
	if err != nil {
		return nil, err
	}
	defer m.release(ctx, mu)
	var pending []*core.Hold // not sized by n: n may be as large as a huge maximum
	defer func() {
		if err != nil {
			abandon(pending)
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
	granted = pending
	for i, h := range pending {
		h.Grant()
		leases[i] = &Lease{h: h}
		core.Set(&leases[i].Holding, h)
	}
	return leases, nil
}

// abandon deletes pending lease nodes, all at once (each within a second,
// then in the background), before the mutex is given back.
func abandon(pending []*core.Hold) {
	var wg sync.WaitGroup
	for _, h := range pending {
		wg.Go(h.Abandon)
	}
	wg.Wait()
}

// release gives the mutex back, through a lost connection for a second
// past ctx's end, then in the background.
func (m *Semaphore) release(ctx context.Context, mu *core.Hold) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	mu.Release(rctx)
}

// await waits, holding the mutex mu, until the leases' count, pending
// ones included, is at most the maximum. Every listing is taken after our
// nodes were made, so a lease is granted only if it and every lease made
// before it fit: the newest of any max+1 leases would have counted them
// all. (The mutex keeps acquirers from waiting on each other's pending
// nodes; it is not what keeps the count.) While it waits, it evicts the
// leases held past their declared max hold (see core.Evictor).
func (m *Semaphore) await(ctx context.Context, mu *core.Hold, pending []*core.Hold, wait bool) error {
	ev := core.NewEvictor(m.c, m.leases.Path())
	var due *time.Timer
	defer func() {
		if due != nil {
			due.Stop()
		}
	}()
	for {
		if err := mu.Err(); err != nil {
			return fmt.Errorf("the semaphore's mutex: %w", err)
		}
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
		case len(pending) > max:
			// The maximum dropped below what we ask for: waiting would keep
			// every other acquirer waiting behind us.
			return fmt.Errorf("%d leases, at most %d now: %w", len(pending), max, ErrTooMany)
		}
		leases := others(children, pending)
	sleep: // until the leases or the maximum change: the eviction's reads set no watch
		for {
			var act <-chan time.Time
			if at := ev.Listed(leases); !at.IsZero() {
				due = resetTimer(due, time.Until(at))
				act = due.C
			}
			select {
			case <-act:
				switch err := ev.Act(ctx); {
				case core.Retryable(err):
					break sleep // list again once connected
				case err != nil:
					return err
				} // an eviction fires changed
			case <-changed:
				break sleep
			case <-maxChanged:
				break sleep
			case <-mu.Done():
				return fmt.Errorf("the semaphore's mutex: %w", mu.Err())
			case <-m.c.Done():
				return m.c.Err()
			case <-ctx.Done():
				return ctx.Err()
			}
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

// maximum returns the maximum, and for a counted one a watch on its node
// that fires when it changes. The Semaphore keeps one such watch until it
// fires, rather than set one per call: go-zookeeper keeps every watch set
// until its node changes, and a count may not change for months.
func (m *Semaphore) maximum(ctx context.Context) (int, <-chan zk.Event, error) {
	if m.count == "" {
		return m.max, nil, nil
	}
	if err := m.cturn.Lock(ctx); err != nil { // not past ctx for another goroutine's read
		return 0, nil, err
	}
	defer m.cturn.Unlock()
	if m.cwatch != nil {
		select {
		case <-m.cwatch: // fired (go-zookeeper then closes it): read again
		default:
			return m.cmax, m.cwatch, nil
		}
	}
	type read struct {
		data  []byte
		watch <-chan zk.Event
	}
	r, err := core.Call(ctx, m.c, func(conn *zk.Conn) (read, error) {
		d, _, w, err := conn.GetW(m.count)
		return read{d, w}, err
	})
	m.cwatch = nil
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
	m.cmax, m.cwatch = max, r.watch
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

// Leases returns the lease nodes in the order they were made, and then
// the acquirers queued for the semaphore's mutex, the first of which is
// the one waiting for a lease. A waiting acquirer's lease nodes are the
// newest: the leases beyond the maximum are not Held. Children of
// path/leases that are not lease nodes are left out, though they count
// against the maximum. It reads the two lists one after the other. Held
// is worked out from that order and the maximum as it is now, so it can
// be wrong: after a counted maximum was lowered, leases granted before
// are shown not Held; where other children count against the maximum, a
// waiting acquirer's lease may be shown Held.
func (m *Semaphore) Leases(ctx context.Context) (leases, waiters []recipes.Contender, err error) {
	max, _, err := m.maximum(ctx)
	if err != nil {
		max = math.MaxInt // unknown: every lease node is shown held
	}
	return m.inspect(ctx, max)
}

// Inspect returns the leases and waiters of the semaphore at path, as
// [Semaphore.Leases] does, for tools that do not know its maximum
// (zkr inspect): every lease node is shown Held, a waiting acquirer's
// included.
func Inspect(ctx context.Context, s *recipes.Session, path string) (leases, waiters []recipes.Contender, err error) {
	m, err := newSemaphore(s, path, 1, "", nil)
	if err != nil {
		return nil, nil, err
	}
	return m.inspect(ctx, math.MaxInt)
}

func (m *Semaphore) inspect(ctx context.Context, max int) (leases, waiters []recipes.Contender, err error) {
	if leases, err = public(m.leases.Contenders(ctx)); err != nil {
		return nil, nil, err
	}
	for i := range leases {
		leases[i].Held = i < max
	}
	if waiters, err = public(m.locks.Contenders(ctx)); err != nil {
		return nil, nil, err
	}
	for i := range waiters {
		waiters[i].Held = false // holding the mutex is no lease
	}
	return leases, waiters, nil
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

// Unlock returns the lease by deleting its node, retrying through connection
// loss until ctx ends (then in the background). Unlocking twice (or a nil
// Lease) returns ErrNotHeld; unlocking a lost lease returns the cause,
// matching ErrLost.
func (l *Lease) Unlock(ctx context.Context) error {
	if l == nil { // misuse: an Unlock deferred before Acquire's error was checked
		return fmt.Errorf("semaphore: unlock: %w", ErrNotHeld)
	}
	return core.OrNone(l.h).Release(ctx)
}

// others returns the lease nodes listed that are not ours.
func others(children []string, ours []*core.Hold) []string {
	out := make([]string, 0, len(children))
	for _, c := range children {
		if !slices.ContainsFunc(ours, func(h *core.Hold) bool { return path.Base(h.Path()) == c }) {
			out = append(out, c)
		}
	}
	return out
}

// resetTimer returns t, or a new timer, set to fire after d.
func resetTimer(t *time.Timer, d time.Duration) *time.Timer {
	if t == nil {
		return time.NewTimer(d)
	}
	t.Reset(d)
	return t
}
