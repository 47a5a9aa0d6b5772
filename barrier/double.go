package barrier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// ErrTooManyMembers is returned by Enter when the barrier already has its
// N members.
var ErrTooManyMembers = errors.New("barrier: too many members")

// readyNode is Curator's flag that a round is full.
const readyNode = "ready"

// DoubleBarrier is a double barrier for N members at one ZooKeeper path.
// Each DoubleBarrier value is one member: it enters once and leaves once
// per round, and may then enter the next round. It is safe for concurrent
// use, but Enter and Leave of one member are meant to alternate.
type DoubleBarrier struct {
	s    *recipes.Session
	path string
	n    int

	mu         sync.Mutex // serialises Enter and Leave
	own        string     // our member node, while entered
	ownCzxid   int64
	readyCzxid int64 // the ready node we made this round, if any
}

// NewDouble returns a member of the double barrier for n members at path
// on session s. It checks its arguments and makes no server call.
func NewDouble(s *recipes.Session, path string, n int) (*DoubleBarrier, error) {
	if err := recipes.ValidatePath(path); err != nil {
		return nil, fmt.Errorf("barrier: %w", err)
	}
	if n < 1 {
		return nil, fmt.Errorf("barrier %s: %d members: want at least 1", path, n)
	}
	return &DoubleBarrier{s: s, path: path, n: n}, nil
}

// Enter joins the barrier and blocks until N members have entered (a
// member whose session died no longer counts). If the barrier already has
// N members, it returns ErrTooManyMembers. If ctx ends first, it removes
// its member node and returns ctx.Err(); so does every other error.
func (d *DoubleBarrier) Enter(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.own != "" {
		return fmt.Errorf("barrier %s: enter: already entered", d.path)
	}
	if err := d.join(ctx); err != nil {
		return fmt.Errorf("barrier %s: enter: %w", d.path, err)
	}
	if err := d.awaitFull(ctx); err != nil {
		d.s.Delete(context.WithoutCancel(ctx), d.own)
		d.own = ""
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("barrier %s: enter: %w", d.path, err)
	}
	return nil
}

// join creates our member node and learns its creation zxid.
func (d *DoubleBarrier) join(ctx context.Context) error {
	own := d.path + "/" + uuid.NewString()
	_, err := d.s.Create(ctx, own, nil, zk.FlagEphemeral)
	if err != nil {
		// A create abandoned by ctx, or whose reply was lost, may still
		// happen or have happened. The node is named by a fresh UUID, so
		// deleting it by name is safe, and requests on one connection are
		// served in order, so the delete comes after the create.
		if recipes.Retryable(err) || ctx.Err() != nil {
			d.s.Delete(context.WithoutCancel(ctx), own)
		}
		return err
	}
	st, err := recipes.Call(ctx, d.s, func(conn *zk.Conn) (*zk.Stat, error) {
		_, st, err := conn.Exists(own)
		return st, err
	})
	if err != nil {
		d.s.Delete(context.WithoutCancel(ctx), own)
		return err
	}
	d.own, d.ownCzxid = own, st.Czxid
	return nil
}

// awaitFull counts the members until there are N, or until a ready node
// made after ours says another member counted N. A ready node older than
// ours is a previous round's and is ignored.
func (d *DoubleBarrier) awaitFull(ctx context.Context) error {
	name := d.own[len(d.path)+1:]
	first := true
	for {
		l, err := d.listW(ctx)
		if recipes.Retryable(err) {
			if err := d.s.WaitConnected(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		members := slices.DeleteFunc(slices.Clone(l.children), func(c string) bool { return c == readyNode })
		switch {
		case !slices.Contains(members, name):
			if err := d.s.Err(); err != nil {
				return err
			}
			return recipes.ErrNodeDeleted
		case first && len(members) > d.n:
			return ErrTooManyMembers
		case len(members) >= d.n:
			d.markReady(ctx)
			return nil
		case slices.Contains(l.children, readyNode) && d.readyIsOurs(ctx):
			return nil
		}
		first = false
		select {
		case <-l.watch:
		case <-d.s.Done():
			return d.s.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type listing struct {
	children []string
	watch    <-chan zk.Event
}

func (d *DoubleBarrier) listW(ctx context.Context) (listing, error) {
	return recipes.Call(ctx, d.s, func(conn *zk.Conn) (listing, error) {
		c, _, ch, err := conn.ChildrenW(d.path)
		return listing{c, ch}, err
	})
}

// markReady creates the ready node that Curator members, and our members
// that count late, rely on. It is ephemeral, so a barrier whose members
// all die leaves nothing behind. A ready node older than our member node is
// a previous round's: it is replaced, or a member that counts late would
// wait for a ready node that never comes.
func (d *DoubleBarrier) markReady(ctx context.Context) {
	p := d.path + "/" + readyNode
	for range 3 {
		_, err := recipes.Call(ctx, d.s, func(conn *zk.Conn) (string, error) {
			return conn.Create(p, nil, zk.FlagEphemeral, d.s.ACL())
		})
		if err == nil {
			st, err := recipes.Call(ctx, d.s, func(conn *zk.Conn) (*zk.Stat, error) {
				_, st, err := conn.Exists(p)
				return st, err
			})
			if err == nil && st != nil && st.EphemeralOwner == d.s.ID() {
				d.readyCzxid = st.Czxid
			}
			return
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return
		}
		st, err := recipes.Call(ctx, d.s, func(conn *zk.Conn) (*zk.Stat, error) {
			_, st, err := conn.Exists(p)
			return st, err
		})
		if err != nil || st == nil {
			continue
		}
		if st.Czxid > d.ownCzxid {
			return // this round's
		}
		recipes.Call(ctx, d.s, func(conn *zk.Conn) (struct{}, error) { return struct{}{}, conn.Delete(p, st.Version) })
	}
}

// readyIsOurs reports whether the ready node was made after our member
// node, that is, for this round.
func (d *DoubleBarrier) readyIsOurs(ctx context.Context) bool {
	st, err := recipes.Call(ctx, d.s, func(conn *zk.Conn) (*zk.Stat, error) {
		_, st, err := conn.Exists(d.path + "/" + readyNode)
		return st, err
	})
	return err == nil && st != nil && st.Czxid > d.ownCzxid
}

// Leave leaves the barrier and blocks until every member has left (a
// member whose session died has left). If ctx ends first it returns
// ctx.Err(); the member may or may not have left then, and must not enter
// again until a later Leave has returned nil.
func (d *DoubleBarrier) Leave(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.own == "" {
		return fmt.Errorf("barrier %s: leave: not entered", d.path)
	}
	name := d.own[len(d.path)+1:]
	mine := true // our node should still exist
	// Only the members present when we start leaving are this round's: a
	// node that appears later is a fast member already entering the next
	// round, which none can do before all of these are gone.
	var round []string
	for {
		children, err := recipes.Call(ctx, d.s, func(conn *zk.Conn) ([]string, error) {
			c, _, err := conn.Children(d.path)
			return c, err
		})
		if recipes.Retryable(err) {
			if err := d.s.WaitConnected(ctx); err != nil {
				return fmt.Errorf("barrier %s: leave: %w", d.path, err)
			}
			continue
		}
		if errors.Is(err, zk.ErrNoNode) {
			break
		}
		if err != nil {
			return fmt.Errorf("barrier %s: leave: %w", d.path, err)
		}
		members := slices.DeleteFunc(children, func(c string) bool { return c == readyNode })
		if round == nil {
			round = members
		}
		members = slices.DeleteFunc(members, func(c string) bool { return !slices.Contains(round, c) })
		slices.Sort(members) // as Curator sorts: every member must pick the same lowest
		if len(members) == 0 {
			break
		}
		i := slices.Index(members, name)
		if i < 0 && mine {
			if err := d.s.Err(); err != nil {
				return fmt.Errorf("barrier %s: leave: %w", d.path, err)
			}
			return fmt.Errorf("barrier %s: leave: our node is gone: %w", d.path, recipes.ErrNodeDeleted)
		}
		if len(members) == 1 && i == 0 {
			if err := d.s.Delete(ctx, d.own); err != nil {
				return fmt.Errorf("barrier %s: leave: %w", d.path, err)
			}
			break
		}
		// The lowest waits for the highest; everyone else goes, then waits
		// for the lowest, which goes last.
		watch := members[0]
		if i == 0 {
			watch = members[len(members)-1]
		}
		// getData, not exists: a member node never comes back, and an
		// exists watch on a gone one would wait for it until the session ends.
		w, err := recipes.Call(ctx, d.s, func(conn *zk.Conn) (listing, error) {
			_, _, ch, err := conn.GetW(d.path + "/" + watch)
			if errors.Is(err, zk.ErrNoNode) {
				return listing{}, nil
			}
			return listing{watch: ch}, err
		})
		if err != nil && !recipes.Retryable(err) {
			return fmt.Errorf("barrier %s: leave: %w", d.path, err)
		}
		if i != 0 && mine {
			if err := d.s.Delete(ctx, d.own); err != nil {
				return fmt.Errorf("barrier %s: leave: %w", d.path, err)
			}
			mine = false
		}
		if w.watch == nil {
			continue
		}
		select {
		case <-w.watch:
		case <-d.s.Done():
			return fmt.Errorf("barrier %s: leave: %w", d.path, d.s.Err())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.own = ""
	d.dropReady(ctx)
	return nil
}

// dropReady deletes the ready node if we made it this round. Every member
// has passed Enter by now (Leave returns only once every member node is
// gone), so nobody needs it; a later round's ready node is left alone.
func (d *DoubleBarrier) dropReady(ctx context.Context) {
	if d.readyCzxid == 0 {
		return
	}
	p := d.path + "/" + readyNode
	st, err := recipes.Call(ctx, d.s, func(conn *zk.Conn) (*zk.Stat, error) {
		_, st, err := conn.Exists(p)
		return st, err
	})
	if err == nil && st != nil && st.Czxid == d.readyCzxid {
		recipes.Call(ctx, d.s, func(conn *zk.Conn) (struct{}, error) { return struct{}{}, conn.Delete(p, st.Version) })
	}
	d.readyCzxid = 0
}
