package barrier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// ErrTooManyMembers is returned by Enter when N members entered the
// barrier before this one.
var ErrTooManyMembers = errors.New("barrier: too many members")

// readyNode is Curator's flag that a round is full.
const readyNode = "ready"

// DoubleBarrier is a double barrier for N members at one ZooKeeper path.
// Each DoubleBarrier value is one member: it enters once and leaves once
// per round, and may then enter the next round. It is safe for concurrent
// use, but Enter and Leave of one member are meant to alternate: a call
// waits (or gives up with ctx) while another of the same member runs.
//
// The ready node that tells late counters the round is full is
// ephemeral, the node of the member that counted N, so a barrier whose
// members all die leaves nothing behind (Curator's is persistent). The
// price: if that member's session ends before a member that had not yet
// counted N (its connection down as the round filled) sees the node,
// that member counts fewer than N and waits in Enter for another member,
// while those that passed wait for it in Leave.
type DoubleBarrier struct {
	s    *core.Session
	path string
	n    int

	// turn serialises Enter and Leave; a free turn is taken even if ctx
	// has ended, so that a Leave whose ctx has ended still removes our node
	turn       core.Turn
	own        string // our member node, from Enter until Leave returns nil
	ownCzxid   int64
	left       bool     // our member node is deleted (or being deleted) by a Leave
	round      []string // the members when we started to leave
	readyCzxid int64    // the ready node we made this round, if any
}

// NewDouble returns a member of the double barrier for n members at path
// on session s. It checks its arguments and makes no server call.
func NewDouble(s *recipes.Session, path string, n int) (*DoubleBarrier, error) {
	if n < 1 {
		return nil, fmt.Errorf("barrier %s: %d members: want at least 1", path, n)
	}
	c, err := core.Prepare(s, path)
	if err != nil {
		return nil, fmt.Errorf("barrier: %w", err)
	}
	return &DoubleBarrier{s: c, path: path, n: n}, nil
}

// Enter joins the barrier and blocks until N members have entered (a
// member whose session died no longer counts). It creates our member node
// (retrying through connection loss), then waits on the children watch of
// the barrier's path. If N members entered before ours (in the order
// their nodes were made) and are still there when we first count, it
// returns ErrTooManyMembers: of more than N members that enter together,
// the first N pass and the rest are refused.
//
// If ctx ends first, Enter returns ctx.Err() at once, even if the
// connection is down. On that and on every other error, it removes our
// member node: it tries for at most a second (none once ctx has ended),
// then leaves the deletion to the session's background cleanup, which goes
// on through connection loss until it succeeds or the session ends (when
// the server deletes the node itself). A create still in flight when ctx
// ends is answered first, then whatever it made is deleted.
func (d *DoubleBarrier) Enter(ctx context.Context) error {
	if err := d.turn.Lock(ctx); err != nil {
		return err
	}
	defer d.turn.Unlock()
	if d.own != "" {
		return fmt.Errorf("barrier %s: enter: already entered", d.path)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	own := d.path + "/" + uuid.NewString()
	err := d.join(ctx, own)
	if err == nil {
		d.own, d.left = own, false
		if err = d.awaitFull(ctx); err != nil {
			d.own = ""
		}
	}
	if err != nil {
		d.abandon(ctx, own)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("barrier %s: enter: %w", d.path, err)
	}
	return nil
}

// abandon deletes a node of ours (our member node, a ready node we made)
// after a failure: for at most a second, and not at all once ctx has
// ended, then in the background.
func (d *DoubleBarrier) abandon(ctx context.Context, p string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	d.s.DeleteEphemeral(ctx, p)
}

// join creates our member node, retrying through connection loss, and
// learns its creation zxid. The node's name is a fresh UUID, so a node
// of that name is ours: a create whose reply was lost and that the retry
// finds done (ErrNodeExists) is success, and deleting it by name is safe.
func (d *DoubleBarrier) join(ctx context.Context, own string) error {
	for retry := false; ; {
		err := d.create(ctx, own)
		switch {
		case err == nil, retry && errors.Is(err, zk.ErrNodeExists):
		case core.Retryable(err): // Create made any missing parents
			if err := d.s.WaitConnected(ctx); err != nil {
				return err
			}
			retry = true
			continue
		default:
			return err
		}
		st, err := d.s.Stat(ctx, own)
		switch {
		case core.Retryable(err):
			if err := d.s.WaitConnected(ctx); err != nil {
				return err
			}
			retry = true
			continue
		case err != nil:
			return err
		case st == nil:
			// Deleted since: by an operator, or with our session.
			if err := d.s.Err(); err != nil {
				return err
			}
			return recipes.ErrNodeDeleted
		case st.EphemeralOwner != d.s.ID():
			return fmt.Errorf("%s: %w", own, recipes.ErrForeignNode)
		}
		d.ownCzxid = st.Czxid
		return nil
	}
}

// create sends the create of our member node. The Session takes it for
// its own: if ctx ends before the answer, whatever the create made is
// deleted once it is answered (never before), and a Session over the
// application's connection deletes it when it ends.
func (d *DoubleBarrier) create(ctx context.Context, own string) error {
	_, err := d.s.Create(ctx, own, nil, zk.FlagEphemeral)
	return err
}

// awaitFull counts the members until there are N, or until a ready node
// made after ours says another member counted N. A ready node older than
// ours is a previous round's and is ignored.
func (d *DoubleBarrier) awaitFull(ctx context.Context) error {
	name := d.own[len(d.path)+1:]
	first := true
	for {
		l, err := d.listW(ctx)
		if core.Retryable(err) {
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
			late, err := d.late(ctx, members)
			switch {
			case core.Retryable(err):
				if err := d.s.WaitConnected(ctx); err != nil {
					return err
				}
				continue // list again: still the first count
			case err != nil:
				return err
			case late:
				return ErrTooManyMembers
			}
			return d.markReady(ctx)
		case len(members) >= d.n:
			return d.markReady(ctx)
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

// late reports whether N members entered before ours (by creation
// zxid), so that ours is one too many. The count alone does not tell:
// members that enter together may all see more than N, and if each of
// them gave up, a member that counted them would pass Enter alone. A
// member gone since the listing does not count.
func (d *DoubleBarrier) late(ctx context.Context, members []string) (bool, error) {
	ahead := 0
	for _, m := range members {
		st, err := d.s.Stat(ctx, d.path+"/"+m)
		switch {
		case err != nil:
			return false, err
		case st != nil && st.Czxid < d.ownCzxid:
			ahead++
		}
	}
	return ahead >= d.n, nil
}

type listing struct {
	children []string
	watch    <-chan zk.Event
}

func (d *DoubleBarrier) listW(ctx context.Context) (listing, error) {
	return core.Call(ctx, d.s, func(conn *zk.Conn) (listing, error) {
		c, _, ch, err := conn.ChildrenW(d.path)
		return listing{c, ch}, err
	})
}

// markReady makes sure this round's ready node exists, which Curator
// members, and our members that count late, rely on: Curator's members
// that counted fewer than N wait for it alone. It creates the node through
// connection loss (a create whose answer was lost and that made it is
// taken for ours), and notes it for Leave to delete if it is ours. It is
// ephemeral, so a barrier whose members all die leaves nothing behind. A
// ready node older than our member node is a previous round's: it is
// replaced, or a member that counts late would wait for a ready node that
// never comes. It returns an error if ctx ends or the session is lost
// first, or the server refuses a create or a delete for another reason;
// a ready node it made is then deleted (in the background once ctx has
// ended), since the round failed for us.
func (d *DoubleBarrier) markReady(ctx context.Context) error {
	p := d.path + "/" + readyNode
	for {
		// Through the Session, so that a Session over the application's
		// connection deletes it at Close if it is still ours.
		err := d.s.CreateEphemeral(ctx, p, nil)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
		made := err == nil
		st, err := d.stat(ctx, p)
		switch {
		case err != nil:
			if made {
				d.abandon(ctx, p)
			}
			return err
		case st == nil: // a previous round's, deleted meanwhile
			continue
		case st.Czxid < d.ownCzxid: // a previous round's: replace it
			_, err := core.Call(ctx, d.s, func(conn *zk.Conn) (struct{}, error) { return struct{}{}, conn.Delete(p, st.Version) })
			if core.Retryable(err) {
				err = d.s.WaitConnected(ctx)
			}
			if err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrBadVersion) {
				return err
			}
			continue
		case st.EphemeralOwner == d.s.ID():
			d.readyCzxid = st.Czxid
		}
		return nil
	}
}

// stat reads the node at p (nil if there is none), retrying through
// connection loss until the session is lost or ctx ends.
func (d *DoubleBarrier) stat(ctx context.Context, p string) (*zk.Stat, error) {
	for {
		st, err := d.s.Stat(ctx, p)
		if !core.Retryable(err) {
			return st, err
		}
		if err := d.s.WaitConnected(ctx); err != nil {
			return nil, err
		}
	}
}

// readyIsOurs reports whether the ready node was made after our member
// node, that is, for this round.
func (d *DoubleBarrier) readyIsOurs(ctx context.Context) bool {
	st, err := d.s.Stat(ctx, d.path+"/"+readyNode)
	return err == nil && st != nil && st.Czxid > d.ownCzxid
}

// Leave leaves the barrier and blocks until every member has left (a
// member whose session died has left): the lowest member watches the
// highest; every other member deletes its node and watches the lowest.
//
// If ctx ends first, Leave returns ctx.Err() at once, even if the
// connection is down. On that and on every other error, our member node is
// removed as Enter removes it on failure (for at most a second, none once
// ctx has ended, then in the background), so that the other members do
// not wait for us for ever. We have not seen them all leave, though: the
// member must not enter again until a later Leave has returned nil, which
// waits only for the rest of the members this round had when we first
// started to leave.
func (d *DoubleBarrier) Leave(ctx context.Context) (err error) {
	if err := d.turn.Lock(ctx); err != nil {
		return err
	}
	defer d.turn.Unlock()
	if d.own == "" {
		return fmt.Errorf("barrier %s: leave: not entered", d.path)
	}
	if err := d.leave(ctx); err != nil {
		if !d.left {
			d.left = true
			d.abandon(ctx, d.own)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("barrier %s: leave: %w", d.path, err)
	}
	d.own, d.left, d.round = "", false, nil
	d.dropReady(ctx)
	return nil
}

// leave deletes our node when it is our turn (d.left says it is done) and
// waits until the members of this round are gone.
func (d *DoubleBarrier) leave(ctx context.Context) error {
	name := d.own[len(d.path)+1:]
	for {
		children, err := core.Call(ctx, d.s, func(conn *zk.Conn) ([]string, error) {
			c, _, err := conn.Children(d.path)
			return c, err
		})
		if core.Retryable(err) {
			if err := d.s.WaitConnected(ctx); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		members := slices.DeleteFunc(children, func(c string) bool { return c == readyNode })
		// Only the members present when we start leaving are this round's:
		// a node that appears later is a fast member already entering the
		// next round, which none can do before all of these are gone.
		if d.round == nil {
			d.round = members
		}
		members = slices.DeleteFunc(members, func(c string) bool { return !slices.Contains(d.round, c) })
		slices.Sort(members) // as Curator sorts: every member must pick the same lowest
		if len(members) == 0 {
			return nil
		}
		i := slices.Index(members, name)
		if i < 0 && !d.left {
			if err := d.s.Err(); err != nil {
				return err
			}
			return fmt.Errorf("our node is gone: %w", recipes.ErrNodeDeleted)
		}
		if len(members) == 1 && i == 0 {
			if err := d.s.DeleteEphemeral(ctx, d.own); err != nil {
				return err
			}
			d.left = true
			return nil
		}
		// The lowest waits for the highest; everyone else goes, then waits
		// for the lowest, which goes last.
		watch := members[0]
		if i == 0 {
			watch = members[len(members)-1]
		}
		// getData, not exists: a member node never comes back, and an
		// exists watch on a gone one would wait for it until the session ends.
		w, err := core.Call(ctx, d.s, func(conn *zk.Conn) (listing, error) {
			_, _, ch, err := conn.GetW(d.path + "/" + watch)
			if errors.Is(err, zk.ErrNoNode) {
				return listing{}, nil
			}
			return listing{watch: ch}, err
		})
		if err != nil && !core.Retryable(err) {
			return err
		}
		if i != 0 && !d.left {
			if err := d.s.DeleteEphemeral(ctx, d.own); err != nil {
				return err
			}
			d.left = true
		}
		if w.watch == nil {
			continue
		}
		select {
		case <-w.watch:
		case <-d.s.Done():
			return d.s.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// dropReady deletes the ready node if we made it this round. Every member
// has passed Enter by now (Leave returns only once every member node is
// gone), so nobody needs it; a later round's ready node is left alone. It
// tries for at most a second (none once ctx has ended), as abandon does,
// and a deletion that the connection or ctx cuts short goes on in the
// background: a ready node left in place would let Curator's members of
// the next round pass Enter at once.
func (d *DoubleBarrier) dropReady(ctx context.Context) {
	czxid := d.readyCzxid
	if czxid == 0 {
		return
	}
	d.readyCzxid = 0
	p := d.path + "/" + readyNode
	drop := func(ctx context.Context) error {
		st, err := d.s.Stat(ctx, p)
		if err != nil || st == nil || st.Czxid != czxid {
			return err // gone, or a later round's
		}
		_, err = core.Call(ctx, d.s, func(conn *zk.Conn) (struct{}, error) { return struct{}{}, conn.Delete(p, st.Version) })
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := drop(rctx); core.Retryable(err) || (err != nil && rctx.Err() != nil) {
		d.s.Cleanup("drop "+p, drop)
	}
}
