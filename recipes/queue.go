package recipes

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
)

// Queue is the sequential-node queue at one recipe path, shared by every
// recipe: contenders create ephemeral sequential children, and a contender
// holds once no node ahead of it blocks it under the queue's rule.
//
// A waiter sets up to three watches, each with getData (so none outlives
// its node): on the nearest blocking node ahead, whose deletion grants it
// when that is the last blocker, with no new listing; on the blocker
// before that one, whose going makes it list again while the nearest still
// holds, off the hand-over's path; and on its own node, so that it learns
// when an operator or an expiry deletes it. Each node is watched by at
// most two waiters, so one release wakes no herd.
//
// The parent is created on demand as a CONTAINER node, which the server
// deletes once it is empty. A Queue is safe for concurrent use.
type Queue struct {
	s       *Session
	path    string
	markers []Marker
	rule    BlockRule
	yields  YieldRule
}

// YieldRule reports whether other, which blocks me by name, lets me pass
// after all, judged by its node's stat (for the read-write lock: a write
// holder that downgraded to read marks its node by changing its data).
// Called with a nil stat, it reports whether other could yield at all, so
// that a try reads no stat of a blocker that never yields.
type YieldRule func(me, other Node, stat *zk.Stat) bool

// QueueOption configures a [Queue].
type QueueOption func(*Queue)

// WithYieldRule lets blockers yield by their stat; see [YieldRule]. By
// default no blocker yields.
func WithYieldRule(r YieldRule) QueueOption { return func(q *Queue) { q.yields = r } }

// NewQueue returns the queue at path, where children named with any of
// markers, or of [KnownMarkers], are contenders and rule says who blocks
// whom. It validates path and makes no call to the server.
func NewQueue(s *Session, path string, markers []Marker, rule BlockRule, opts ...QueueOption) (*Queue, error) {
	if err := ValidatePath(path); err != nil {
		return nil, err
	}
	all := KnownMarkers()
	for _, m := range markers {
		if !slices.Contains(all, m) {
			all = append(all, m)
		}
	}
	q := &Queue{s: s, path: path, markers: all, rule: rule}
	for _, opt := range opts {
		opt(q)
	}
	return q, nil
}

// Path returns the queue's path.
func (q *Queue) Path() string { return q.path }

// Session returns the queue's session.
func (q *Queue) Session() *Session { return q.s }

// Acquire joins the queue as a contender named with m, whose node holds
// data (nil: the session's identity, see [WithIdentity]), and, if wait is
// true, blocks until nothing ahead blocks it; if wait is false and
// something does, it returns ErrWouldBlock at once. If ctx ends first it
// removes its node and returns ctx.Err(). On every error the node is
// removed (in the background if the connection is down).
func (q *Queue) Acquire(ctx context.Context, m Marker, wait bool, data []byte) (*Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.s.Err(); err != nil {
		return nil, err
	}
	prefix := q.path + "/" + ProtectedName(uuid.NewString(), m)
	if data == nil {
		data = q.s.opts.identity
	}
	own, first, err := q.create(ctx, prefix, data)
	if err != nil {
		q.s.untrack(prefix) // unless a create is in flight, whose cleanup untracks it
		return nil, err
	}
	h, err := q.await(ctx, own, first, wait)
	if err != nil {
		// Ours by its protected id, even when another session owns it.
		q.s.abandon(own)
		return nil, err
	}
	return h, nil
}

// created is what the create of our node already told: the node's Czxid
// (0 if unknown) and the listing sent right behind the create (nil if
// none). See [createTap].
type created struct {
	token   int64
	listing <-chan listing
}

type listing struct {
	children []string
	err      error
}

// create makes our node. A create whose reply was lost may still have
// happened, so before trying again it looks for our protected name among
// the children. If ctx ends meanwhile, what the create left is deleted in
// the background.
func (q *Queue) create(ctx context.Context, prefix string, data []byte) (string, created, error) {
	s := q.s
	base := path.Base(prefix)
	unknown := false // a create may have happened without our hearing of it
	for {
		if unknown {
			if err := s.waitConnected(ctx); err != nil {
				s.cleanup("remove "+prefix, s.removeTask(prefix))
				return "", created{}, err
			}
			children, err := q.children(ctx)
			switch {
			case err == nil:
				if i := slices.IndexFunc(children, func(c string) bool { return strings.HasPrefix(c, base) }); i >= 0 {
					return q.path + "/" + children[i], created{}, nil
				}
			case errors.Is(err, zk.ErrNoNode):
			case retryable(err):
				continue
			default:
				s.cleanup("remove "+prefix, s.removeTask(prefix))
				return "", created{}, err
			}
			unknown = false
		}
		p, c, err := q.createNode(ctx, prefix, data)
		switch {
		case err == nil:
			return p, c, nil
		case errors.Is(err, zk.ErrNoNode):
			if err := q.s.CreateParents(ctx, q.path); err != nil {
				return "", created{}, err
			}
		case retryable(err):
			unknown = true
		default:
			return "", created{}, err
		}
	}
}

// createNode issues the create. If ctx ends first, the request still
// completes, and whatever it made is then removed in the background. On a
// tapped connection the listing goes out right behind the create, and the
// reply gives the token.
func (q *Queue) createNode(ctx context.Context, prefix string, data []byte) (string, created, error) {
	s := q.s
	var tapped *tapCreate
	if s.tap != nil {
		tapped = s.tap.expect(prefix)
		defer s.tap.forget(prefix)
	}
	ch, err := s.sendCreate(prefix, data, zk.FlagEphemeral|zk.FlagSequence)
	if err != nil {
		return "", created{}, err
	}
	var c created
	if tapped != nil {
		select {
		case <-tapped.sent:
			list := make(chan listing, 1)
			if s.spawn(func() { cs, _, err := s.Conn().Children(q.path); list <- listing{cs, err} }) {
				c.listing = list // await reads it, or gives up on ctx
			}
		case r := <-ch: // never sent: an error, handled below
			ch <- r
		case <-ctx.Done():
		}
	}
	select {
	case r := <-ch:
		if tapped != nil && r.err == nil {
			c.token = tapped.zxid.Load()
		}
		if c.token == 0 {
			c.listing = nil // the first pass must stat our node anyway
		}
		return r.path, c, r.err
	case <-ctx.Done():
		s.dropWhenAnswered(prefix, ch)
		return "", created{}, ctx.Err()
	}
}

// children lists the queue's children.
func (q *Queue) children(ctx context.Context) ([]string, error) {
	return call(ctx, q.s, func() ([]string, error) {
		c, _, err := q.s.Conn().Children(q.path)
		return c, err
	})
}

// nodeWatch is what an exists-with-watch call learned of a node.
type nodeWatch struct {
	ok    bool
	stat  *zk.Stat
	watch <-chan zk.Event
}

// watchNode stats p and sets a watch on it, which fires when p is created,
// changed or deleted.
func (s *Session) watchNode(ctx context.Context, p string) (nodeWatch, error) {
	return call(ctx, s, func() (nodeWatch, error) {
		ok, st, ch, err := s.Conn().ExistsW(p)
		return nodeWatch{ok, st, ch}, err
	})
}

// watchExisting reads p with a watch on it, which fires when p changes or
// is deleted. Unlike watchNode it leaves no watch behind when p is already
// gone: a contender's node, once deleted, is never created again, and a
// watch for its creation would stay on the server and in go-zookeeper
// until the session ends.
func (s *Session) watchExisting(ctx context.Context, p string) (nodeWatch, error) {
	return call(ctx, s, func() (nodeWatch, error) {
		_, st, ch, err := s.Conn().GetW(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nodeWatch{}, nil
		}
		return nodeWatch{err == nil, st, ch}, err
	})
}

// await waits until nothing ahead of our node blocks it. When the create
// told the token, the first pass uses the listing sent with it, and the
// watch on our node is set in the background once it is needed (to wait,
// or to hold); otherwise the first pass
// lists the children and stats (and watches) our node in one round trip,
// which gives the token and proves that the node is this session's.
func (q *Queue) await(ctx context.Context, own string, first created, wait bool) (_ *Hold, err error) {
	s := q.s
	name := path.Base(own)
	h := s.pendingHold(own, first.token)
	defer func() {
		if err != nil {
			h.cancel(err) // stops the watch being set
		}
	}()
	var pred, second watched          // the nearest blocker, and the one before it
	var mine <-chan zk.Event          // the watch on our node, once set
	var arming chan (<-chan zk.Event) // the watch on our node, being set
	for {
		var children []string
		var err error
		switch {
		case first.listing != nil:
			select {
			case l := <-first.listing:
				children, err = l.children, l.err
				s.noteExpired(err)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			first.listing = nil
		case h.token == 0:
			var w nodeWatch
			children, w, err = q.listAndStat(ctx, own)
			switch {
			case err != nil:
			case !w.ok:
				return nil, q.gone()
			case w.stat.EphemeralOwner != s.ID():
				return nil, fmt.Errorf("acquire %s: %s: %w", q.path, name, ErrForeignNode)
			default:
				h.token, h.version, mine = w.stat.Czxid, w.stat.Version, w.watch
			}
		default:
			children, err = q.children(ctx)
		}
		switch {
		case retryable(err):
			if err := s.waitConnected(ctx); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("acquire %s: %w", q.path, err)
		}
		nodes := ParseChildren(children, q.markers)
		me := slices.IndexFunc(nodes, func(n Node) bool { return n.Name == name })
		if me < 0 {
			return nil, q.gone()
		}
		blockers := Blockers(nodes, me, q.rule)
		if len(blockers) == 0 {
			return h.grant(mine, arming), nil
		}
		if !wait {
			pass, err := q.allYield(ctx, nodes[me], blockers)
			switch {
			case err != nil:
				return nil, fmt.Errorf("acquire %s: %w", q.path, err)
			case pass:
				return h.grant(mine, arming), nil
			}
			return nil, ErrWouldBlock
		}
		if mine == nil && arming == nil { // a waiter learns if its node goes
			arming = h.arm()
		}
		// Watch the nearest blocker (pred). Once the only one left goes (or
		// yields), nothing can block us: later nodes queue behind us, so
		// that needs no new listing. To make that the common case, the one
		// before it (second) is watched too, and its going makes us list
		// again while pred is still there, off the hand-over's path: each
		// node is watched by at most two waiters, so there is still no herd.
		if blockers[len(blockers)-1].Name != pred.name {
			var w nodeWatch
			for {
				b := blockers[len(blockers)-1]
				w, err = s.watchExisting(ctx, q.path+"/"+b.Name)
				if err != nil || !w.ok || q.yields == nil || !q.yields(nodes[me], b, w.stat) {
					break
				}
				blockers = blockers[:len(blockers)-1]
				if len(blockers) == 0 {
					return h.grant(mine, arming), nil
				}
			}
			switch {
			case retryable(err):
				continue
			case err != nil:
				return nil, fmt.Errorf("acquire %s: %w", q.path, err)
			case !w.ok && len(blockers) == 1:
				return h.grant(mine, arming), nil
			case !w.ok:
				continue
			}
			pred = watched{blockers[len(blockers)-1].Name, w.watch}
		}
		only := len(blockers) == 1
		if only {
			second = watched{}
		} else if b := blockers[len(blockers)-2]; b.Name != second.name {
			w, err := s.watchExisting(ctx, q.path+"/"+b.Name)
			switch {
			case retryable(err):
				continue
			case err != nil:
				return nil, fmt.Errorf("acquire %s: %w", q.path, err)
			case !w.ok:
				continue // gone already: pred may lead now
			}
			second = watched{b.Name, w.watch}
		}
		for waiting := true; waiting; {
			select {
			case ev := <-pred.watch:
				if only && ev.Type == zk.EventNodeDeleted {
					return h.grant(mine, arming), nil
				}
				pred, waiting = watched{}, false // list again, watch anew
			case <-second.watch:
				second, waiting = watched{}, false
			case set := <-arming:
				if arming, mine = nil, set; mine == nil {
					return nil, q.gone()
				}
			case ev := <-mine:
				if ev.Type == zk.EventNodeDeleted {
					return nil, q.gone()
				}
				mine, arming = nil, h.arm()
			case <-s.Done():
				return nil, s.Err()
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
}

// allYield reports whether every blocker ahead of me is gone or yields
// (see [YieldRule]), reading each one's stat without a watch: a try does
// not wait, so it leaves nothing to fire later.
func (q *Queue) allYield(ctx context.Context, me Node, blockers []Node) (bool, error) {
	if q.yields == nil {
		return false, nil
	}
	for _, b := range blockers {
		if !q.yields(me, b, nil) {
			return false, nil // no request for a blocker that cannot yield
		}
	}
	for _, b := range blockers {
		st, err := call(ctx, q.s, func() (*zk.Stat, error) {
			ok, st, err := q.s.Conn().Exists(q.path + "/" + b.Name)
			if err == nil && !ok {
				st = nil
			}
			return st, err
		})
		if err != nil {
			return false, err
		}
		if st != nil && !q.yields(me, b, st) {
			return false, nil
		}
	}
	return true, nil
}

// watched is a node ahead of ours that we watch.
type watched struct {
	name  string
	watch <-chan zk.Event
}

// gone explains why our node vanished while we waited.
func (q *Queue) gone() error {
	if err := q.s.Err(); err != nil {
		return fmt.Errorf("acquire %s: %w", q.path, err)
	}
	return fmt.Errorf("acquire %s: %w", q.path, ErrNodeDeleted)
}

// listAndStat lists the children and stats our node concurrently: two
// requests in flight on one connection cost one round trip.
func (q *Queue) listAndStat(ctx context.Context, own string) ([]string, nodeWatch, error) {
	type stat struct {
		w   nodeWatch
		err error
	}
	ch := make(chan stat, 1)
	if !q.s.spawn(func() { w, err := q.s.watchExisting(ctx, own); ch <- stat{w, err} }) {
		return nil, nodeWatch{}, q.s.Err()
	}
	children, err := q.children(ctx)
	r := <-ch // watchExisting returns by ctx's end at the latest
	if err == nil {
		err = r.err
	}
	return children, r.w, err
}

// Contender is a node in a queue, as [Queue.Contenders] reports it.
type Contender struct {
	Node
	Path    string    // full path of the node
	Data    []byte    // what its client wrote: ours an identity, Curator an IP address
	Session int64     // the session that owns it
	Created time.Time // when it was created
	Token   int64     // the zxid that created it: the fencing token of its hold
}

// Head returns the first contender in the queue (for an election, the
// leader), reading only its node; ok is false when the queue is empty.
func (q *Queue) Head(ctx context.Context) (c Contender, ok bool, err error) {
	for {
		children, err := q.children(ctx)
		if errors.Is(err, zk.ErrNoNode) {
			return Contender{}, false, nil
		}
		if err != nil {
			return Contender{}, false, fmt.Errorf("head of %s: %w", q.path, err)
		}
		nodes := ParseChildren(children, q.markers)
		if len(nodes) == 0 {
			return Contender{}, false, nil
		}
		p := q.path + "/" + nodes[0].Name
		r, err := call(ctx, q.s, func() (getResult, error) {
			d, st, err := q.s.Conn().Get(p)
			return getResult{d, st}, err
		})
		switch {
		case errors.Is(err, zk.ErrNoNode):
			continue // gone since the listing: read again
		case err != nil:
			return Contender{}, false, fmt.Errorf("head of %s: %w", q.path, err)
		}
		return *contender(nodes[0], p, r.data, r.stat), true, nil
	}
}

type getResult struct {
	data []byte
	stat *zk.Stat
}

// Contenders returns the queue's contenders in queue order, with their
// data; children it does not understand are left out. For a lock the first
// one holds. It is a snapshot: it may be stale as soon as it returns.
func (q *Queue) Contenders(ctx context.Context) ([]Contender, error) {
	s := q.s
	children, err := q.children(ctx)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("contenders of %s: %w", q.path, err)
	}
	nodes := ParseChildren(children, q.markers)
	out := make([]*Contender, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			p := q.path + "/" + n.Name
			r, err := call(ctx, s, func() (getResult, error) {
				d, st, err := s.Conn().Get(p)
				return getResult{d, st}, err
			})
			switch {
			case errors.Is(err, zk.ErrNoNode): // gone since the listing
			case err != nil:
				errs[i] = err
			default:
				out[i] = contender(n, p, r.data, r.stat)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("contenders of %s: %w", q.path, err)
	}
	var list []Contender
	for _, c := range out {
		if c != nil {
			list = append(list, *c)
		}
	}
	return list, nil
}

func contender(n Node, p string, data []byte, st *zk.Stat) *Contender {
	return &Contender{Node: n, Path: p, Data: data, Session: st.EphemeralOwner,
		Created: time.UnixMilli(st.Ctime), Token: st.Czxid}
}
