package rwlock

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// Errors returned by this package; the shared ones are the recipes errors.
var (
	// ErrLocked is returned by TryLock and TryRLock when a contender ahead
	// blocks them.
	ErrLocked = fmt.Errorf("rwlock: locked by another contender: %w", recipes.ErrWouldBlock)
	// ErrUpgrade is returned by Lock when the same session holds the read
	// lock on the path: waiting would deadlock on its own read hold.
	ErrUpgrade = errors.New("rwlock: cannot upgrade a read hold to write; release it first")
	// ErrNotHeld is returned by Unlock on a hold already unlocked.
	ErrNotHeld = recipes.ErrNotHeld
	// ErrLost matches every cause of a lost hold.
	ErrLost = recipes.ErrLost
	// ErrInvalidPath is returned by New for a path ZooKeeper would reject.
	ErrInvalidPath = recipes.ErrInvalidPath
)

// markers: ours and Curator's __READ__/__WRIT__, Kazoo's __rlock__/__lock__.
var markers = []recipes.Marker{recipes.ReadMarker, recipes.WriteMarker, recipes.KazooReadMarker, recipes.KazooLockMarker}

// downgraded is the yield rule: a writer's node whose data has changed
// belongs to a write hold downgraded to read, which blocks readers no more.
// Curator and Kazoo never change a lock node's data.
func downgraded(me, other recipes.Node, st *zk.Stat) bool {
	return me.Role == recipes.Shared && other.Role == recipes.Exclusive && st.Version > 0
}

// RWMutex is a distributed read-write lock at one ZooKeeper path. It is
// cheap: no server call until a lock call. Every lock call is a contender
// of its own, so goroutines sharing an RWMutex exclude each other as
// processes would. An RWMutex is safe for concurrent use.
type RWMutex struct {
	q *recipes.Queue
}

// New returns the read-write lock at path on session s. It checks path
// and makes no server call.
func New(s *recipes.Session, path string) (*RWMutex, error) {
	q, err := recipes.NewQueue(s, path, markers, recipes.ReadWriteBlocks, recipes.WithYieldRule(downgraded))
	if err != nil {
		return nil, fmt.Errorf("rwlock: %w", err)
	}
	return &RWMutex{q: q}, nil
}

// Path returns the lock's path.
func (m *RWMutex) Path() string { return m.q.Path() }

// Lock blocks until the write lock is held: no reader or writer holds or
// queued ahead. If ctx ends first, Lock deletes its node and returns
// ctx.Err(). If the session holds the read lock on this path, Lock returns
// ErrUpgrade at once.
func (m *RWMutex) Lock(ctx context.Context) (*Hold, error) {
	return m.acquire(ctx, recipes.WriteMarker, true)
}

// TryLock takes the write lock if nothing holds or queues ahead, and
// otherwise returns ErrLocked at once, leaving no node behind.
func (m *RWMutex) TryLock(ctx context.Context) (*Hold, error) {
	return m.acquire(ctx, recipes.WriteMarker, false)
}

// RLock blocks until the read lock is held: no writer holds or queued
// ahead (a writer that is waiting counts, so writers are not starved). If
// ctx ends first, RLock deletes its node and returns ctx.Err().
func (m *RWMutex) RLock(ctx context.Context) (*Hold, error) {
	return m.acquire(ctx, recipes.ReadMarker, true)
}

// TryRLock takes the read lock if no writer holds or queues ahead, and
// otherwise returns ErrLocked at once, leaving no node behind.
func (m *RWMutex) TryRLock(ctx context.Context) (*Hold, error) {
	return m.acquire(ctx, recipes.ReadMarker, false)
}

func (m *RWMutex) acquire(ctx context.Context, marker recipes.Marker, wait bool) (*Hold, error) {
	key := readKey{m.q.Session(), m.q.Path()}
	if marker.Role == recipes.Exclusive && readers.count(key) > 0 {
		return nil, fmt.Errorf("rwlock %s: %w", m.q.Path(), ErrUpgrade)
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
	hold := &Hold{Hold: h, key: key, write: marker.Role == recipes.Exclusive}
	if !hold.write {
		readers.add(key, 1)
	}
	return hold, nil
}

// Contenders returns the holders and waiters in queue order, with the data
// each client wrote. Role tells readers (Shared) from writers (Exclusive).
func (m *RWMutex) Contenders(ctx context.Context) ([]recipes.Contender, error) {
	return m.q.Contenders(ctx)
}

// Hold is a held read or write lock. See [recipes.Hold] for Done, Context,
// Err, Token, Guard and Multi.
type Hold struct {
	*recipes.Hold
	key readKey

	mu    sync.Mutex
	write bool
}

// Write reports whether the hold is a write hold (not yet downgraded).
func (h *Hold) Write() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.write
}

// Downgrade turns a write hold into a read hold in place: other readers
// may then hold with it, while writers queued behind keep waiting, with no
// moment in which one of them could get in. The hold keeps its node and
// fencing token. Downgrading a read hold is an error.
func (h *Hold) Downgrade(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.write {
		return fmt.Errorf("rwlock %s: downgrade: not a write hold", h.Path())
	}
	readers.add(h.key, 1) // before readers may join, so Lock sees it at once
	if err := h.SetData(ctx, []byte("downgraded to read")); err != nil {
		readers.add(h.key, -1)
		return fmt.Errorf("rwlock: downgrade: %w", err)
	}
	h.write = false
	return nil
}

// Unlock releases the hold by deleting its node, retrying through
// connection loss until ctx ends (then in the background). Unlocking twice
// returns ErrNotHeld; unlocking a lost hold returns the cause, matching
// ErrLost.
func (h *Hold) Unlock(ctx context.Context) error {
	err := h.Release(ctx)
	if errors.Is(err, recipes.ErrNotHeld) {
		return err
	}
	h.mu.Lock()
	if !h.write {
		readers.add(h.key, -1)
	}
	h.mu.Unlock()
	return err
}

// readKey names the read holds of one session on one path.
type readKey struct {
	s    *recipes.Session
	path string
}

// readCounts tracks, per session and path, the read holds not yet
// unlocked: a write Lock by the same session would wait for them forever.
type readCounts struct {
	mu sync.Mutex
	n  map[readKey]int
}

var readers = readCounts{n: make(map[readKey]int)}

func (r *readCounts) add(k readKey, d int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n[k] += d; r.n[k] <= 0 {
		delete(r.n, k)
	}
}

func (r *readCounts) count(k readKey) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[k]
}
