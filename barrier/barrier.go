package barrier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Barrier is a barrier at one ZooKeeper path: while its node exists, Wait
// blocks. The node is persistent, so a barrier outlives the process that
// set it until someone removes it. A Barrier is safe for concurrent use.
type Barrier struct {
	s    *core.Session
	path string

	mu    sync.Mutex
	armed *armed // the watch last set on the standing barrier
}

// armed is a watch set on the standing barrier, shared by every Wait of
// the Barrier until it fires: go-zookeeper keeps each watch it is asked
// for until it fires, so a watch set per Wait would pile up over Waits
// that give up (a loop of Waits with a timeout) for as long as the
// barrier stands.
type armed struct {
	czxid int64 // of the barrier it was set on
	watch <-chan zk.Event
	once  sync.Once
	fired chan struct{} // closed once ev is set
	ev    zk.Event
}

// fire notes that the watch fired with ev, once.
func (a *armed) fire(ev zk.Event) {
	a.once.Do(func() {
		a.ev = ev
		close(a.fired)
	})
}

// pending reports whether the watch has not fired. It takes an event
// that go-zookeeper has delivered and no Wait has taken yet: go-zookeeper
// delivers it before any later reply on the connection, so a Wait after a
// Remove and a Set on the same Session does not take the removed
// barrier's watch for the new one's.
func (a *armed) pending() bool {
	select {
	case <-a.fired:
		return false
	default:
	}
	select {
	case ev := <-a.watch:
		a.fire(ev)
		return false
	default:
		return true
	}
}

// New returns the barrier at path on session s. It checks path and makes
// no server call.
func New(s *recipes.Session, path string) (*Barrier, error) {
	c, err := core.Prepare(s, path)
	if err != nil {
		return nil, fmt.Errorf("barrier: %w", err)
	}
	return &Barrier{s: c, path: path}, nil
}

// Set raises the barrier (creating its parents as CONTAINER nodes). Setting
// a barrier that is set is not an error. It retries through connection
// loss until ctx ends: a create whose reply was lost may have been applied,
// and the retry then finds the node standing, which is success too, so
// Set never makes two barriers for one call. If ctx ends first it returns
// ctx.Err(), and the barrier may or may not be set.
func (b *Barrier) Set(ctx context.Context) error {
	for {
		_, err := b.s.Create(ctx, b.path, nil, 0)
		switch {
		case err == nil, errors.Is(err, zk.ErrNodeExists):
			return nil
		case core.Retryable(err):
			if err := b.s.WaitConnected(ctx); err != nil {
				return b.fail(ctx, "set", err)
			}
		default:
			return b.fail(ctx, "set", err)
		}
	}
}

// Remove lowers the barrier, releasing every waiter. Removing a barrier
// that is not set is not an error. It retries through connection loss
// until ctx ends; a retry leaves alone a barrier set again (a new node)
// since the one it removed. If ctx ends first it returns ctx.Err(), and
// the barrier may or may not have been removed.
func (b *Barrier) Remove(ctx context.Context) error {
	var czxid int64 // of the barrier we remove, once read
	for {
		st, err := b.s.Stat(ctx, b.path)
		if err == nil {
			switch {
			case st == nil:
				return nil
			case czxid != 0 && st.Czxid != czxid:
				return nil // ours is gone; this is the next one
			}
			czxid = st.Czxid
			_, err = core.Call(ctx, b.s, func(conn *zk.Conn) (struct{}, error) {
				return struct{}{}, conn.Delete(b.path, st.Version)
			})
			switch {
			case err == nil, errors.Is(err, zk.ErrNoNode):
				return nil
			case errors.Is(err, zk.ErrBadVersion):
				continue // changed since we read it: read again
			}
		}
		if !core.Retryable(err) {
			return b.fail(ctx, "remove", err)
		}
		if err := b.s.WaitConnected(ctx); err != nil {
			return b.fail(ctx, "remove", err)
		}
	}
}

// Wait blocks until the barrier it finds set is removed, and returns at
// once if it is not set. The barrier waited on is the node Wait first
// sees: once that node is gone, Wait returns, even if the barrier has been
// set again since (a new node, told apart by its creation zxid), so a
// quick Remove and Set of the next phase releases every waiter of this
// one. It retries through connection loss. While the barrier stands, the
// Barrier keeps one data watch on its node, which its Waits share (one
// that gives up leaves it to the next; Waits that start together may each
// set one until it fires), and none is set on a missing node. go-zookeeper
// keeps a watch until it fires, so wait again through the same Barrier,
// not a new one for each Wait. If ctx ends first it returns ctx.Err(); if
// the session is lost, an error matching recipes.ErrLost.
func (b *Barrier) Wait(ctx context.Context) error {
	var czxid int64 // of the barrier we wait on, once seen
	for {
		a, err := b.arm(ctx)
		if core.Retryable(err) {
			err = b.s.WaitConnected(ctx)
			if err == nil {
				continue
			}
		}
		if err != nil {
			return b.fail(ctx, "wait", err)
		}
		if a == nil || (czxid != 0 && a.czxid != czxid) {
			return nil
		}
		czxid = a.czxid
		if f := waiting.Load(); f != nil {
			(*f)()
		}
		// The Wait that takes the event passes it on to the others.
		select {
		case ev := <-a.watch:
			a.fire(ev)
		case <-a.fired:
		case <-b.s.Done():
			return fmt.Errorf("barrier %s: wait: %w", b.path, b.s.Err())
		case <-ctx.Done():
			return ctx.Err()
		}
		if a.ev.Type == zk.EventNodeDeleted {
			return nil
		}
		// Its data changed, or the watch was reset across a reconnect
		// (a node deleted and set again meanwhile shows as changed), or
		// the session ended: read it again.
	}
}

// arm returns the watch on the standing barrier that has not fired yet,
// setting one if there is none; nil if the barrier is not set. Waits that
// find none at once may each set one; the last is kept.
func (b *Barrier) arm(ctx context.Context) (*armed, error) {
	b.mu.Lock()
	a := b.armed
	b.mu.Unlock()
	if a != nil && a.pending() {
		return a, nil
	}
	type read struct {
		stat  *zk.Stat // nil if the node does not exist
		watch <-chan zk.Event
	}
	// getData, not exists: it leaves no watch behind when the node is
	// missing.
	r, err := core.Call(ctx, b.s, func(conn *zk.Conn) (read, error) {
		_, st, ch, err := conn.GetW(b.path)
		if errors.Is(err, zk.ErrNoNode) {
			return read{}, nil
		}
		return read{st, ch}, err
	})
	if err != nil || r.stat == nil {
		return nil, err
	}
	a = &armed{czxid: r.stat.Czxid, watch: r.watch, fired: make(chan struct{})}
	b.mu.Lock()
	b.armed = a
	b.mu.Unlock()
	return a, nil
}

// waiting, when set by a test, is called each time Wait has set its watch
// on a standing barrier.
var waiting atomic.Pointer[func()]

// fail returns ctx.Err() if ctx has ended, else err wrapped with the path.
func (b *Barrier) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("barrier %s: %s: %w", b.path, op, err)
}
