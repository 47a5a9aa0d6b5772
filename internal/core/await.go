package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"time"

	"github.com/go-zookeeper/zk"
)

// A waiter is one acquisition between the create of its node and the
// grant: [Queue.await] runs it as a loop of three states.
//
//   - listing: read the queue and find our place in it;
//   - watching: set the watches on the nodes ahead that block us;
//   - sleeping: wait for one of them, or our own node's, to fire.
//
// Each state returns what comes next: list again, or the grant. Errors end
// the loop; a retryable one (the outcome of a request is unknown) waits
// for the connection and lists again.
//
// A waiter sets up to three watches, each with getData, so that none
// outlives its node:
//
//   - pred, on the nearest blocking node ahead, whose deletion grants us
//     with no new listing when it is the last blocker (nodes that join
//     later queue behind us);
//   - second, on the blocker before pred: its going makes us list again
//     while pred still holds, off the hand-over's path, so that the
//     hand-over usually finds pred the last blocker. Where nothing can be
//     left ahead of second when it goes, its going (or finding it gone)
//     makes pred the last blocker with no listing: when second headed the
//     queue at our last listing, or when second is a node of this Session
//     granted with nothing at all ahead of it (see Hold.clear), as in a
//     queue of one process's goroutines. Nodes that join later queue
//     behind us;
//   - own, on our own node, so that we learn when an operator or an expiry
//     deletes it; its events come through the Session (the pending hold's
//     events channel), and the hold takes them over at the grant.
//
// Where every node ahead blocks (a mutex, an election), each node is
// watched by at most two waiters, so one release wakes no herd. Under the
// read-write rule, the readers behind a writer all watch it: its release
// grants them all.
//
// A waiter enforces the max hold of the nodes it watches that hold (see
// lead and duty): it deletes one once its declared max hold and the
// margin have passed since the waiter first saw it hold.
type waiter struct {
	q    *Queue
	name string // our node's name
	h    *Hold  // the pending hold: its token, version and context
	wait bool   // false for a try

	first        *listing            // the listing sent behind the create, unread
	pred, second watched             // the nearest blocker, and the one before it
	last         bool                // pred is the only blocker: its deletion grants us
	at           places              // where second and pred were in our last listing
	alone        bool                // pred is the only node ahead of us: its deletion leaves none
	clear        bool                // the grant found no node at all ahead of us
	evict        evicting            // our duty towards a holder ahead that declared a max hold (see duty)
	timed        map[string]evicting // our duty towards each node we watch that holds (see timeHolder)
	watching     bool                // the watch on our node is set, or being set
	woke         int64               // the wake (see Session.wokeAt) that our last listing followed
}

// watched is a node ahead of ours that we watch, and what it held when
// we set the watch.
type watched struct {
	name    string
	watch   <-chan zk.Event
	data    []byte
	version int32
	ours    *Hold // second's hold, where it is a node of this Session's
}

// places are the indexes of second, pred and our node in a listing.
type places struct{ second, pred, me int }

// next is what a waiter's state leads to.
type next int

const (
	relist next = iota // list the queue again
	sleep              // the watches are set: wait for one to fire
	grant              // nothing blocks us any more
)

// await waits until nothing ahead of our node (own) blocks it, or, for a
// try (wait false), returns ErrWouldBlock if something does. When the
// create told the token, the first listing is the one sent with it, and
// the watch on our node is set in the background once it is needed (to
// wait, or to hold); otherwise the first listing goes with a read (and
// watch) of our node in one round trip, which gives the token and proves
// that the node is this session's. On an error the pending hold is
// cancelled, which stops the watch being set; the caller removes the node.
func (q *Queue) await(ctx context.Context, own string, first created, wait bool, data []byte) (_ *Hold, err error) {
	w := &waiter{q: q, name: path.Base(own), h: q.s.pendingHold(own, first.token, true), wait: wait, first: first.listing}
	w.h.maxHold, w.h.written, w.h.unwatched, w.h.measure = q.maxHold, declare(data, q.maxHold, 0), q.unwatched, q.measure
	defer func() {
		if err != nil {
			w.h.End(err)
			w.h.forget()
		}
	}()
	for {
		nodes, me, err := w.list(ctx)
		n := relist
		if err == nil {
			n, err = w.place(ctx, nodes, me)
		}
		if err == nil && n == sleep {
			n, err = w.sleep(ctx)
		}
		switch {
		case retryable(err):
			if err := q.s.waitConnected(ctx); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		case n == grant && w.afterWake():
			// What granted us may have come in a read after the process
			// was stopped: our session may have expired meanwhile, and
			// the node ahead gone with the expiry. A listing, answered
			// after the wake, tells.
			w.first = nil
		case n == grant:
			w.h.clear.Store(w.clear)
			return w.h.grant(w.watching), nil
		}
	}
}

// afterWake reports whether the session woke from a stop (see
// Session.wokeAt) since our last listing was sent, and notes the wake: the
// listing made next is answered after it.
func (w *waiter) afterWake() bool {
	woke := w.q.s.wokeAt()
	if woke == 0 || woke == w.woke {
		return false
	}
	w.woke = woke
	return true
}

// list reads the queue and finds our node in it: nodes in queue order
// (shared with other waiters: read-only), and our index. The first time
// without a token, it also reads our node.
func (w *waiter) list(ctx context.Context) (nodes []Node, me int, err error) {
	q := w.q
	switch {
	case w.first != nil:
		nodes, err = w.first.wait(ctx, q.s, q.markers)
		w.first = nil
	case w.h.token == 0:
		// The listing (shared) and the read of our node go out together:
		// one round trip.
		l := q.nextListing()
		var nw nodeWatch
		nw, err = q.s.watchExisting(ctx, w.h.path)
		if err == nil {
			nodes, err = l.wait(ctx, q.s, q.markers)
		}
		switch {
		case err != nil:
		case !nw.ok:
			return nil, 0, q.gone()
		case nw.stat.EphemeralOwner != q.s.ID():
			return nil, 0, fmt.Errorf("acquire %s: %s: %w", q.path, w.name, ErrForeignNode)
		default:
			w.h.token, w.h.version, w.watching = nw.stat.Czxid, nw.stat.Version, true
			q.s.follow(nw.watch)
			if w.h.NoteRevoke(nw.data, nw.stat) {
				w.h.restore(nw.stat.Version)
			}
		}
	default:
		nodes, err = q.nextListing().wait(ctx, q.s, q.markers)
	}
	if err != nil {
		return nil, 0, q.wrap(err)
	}
	me = find(nodes, w.name, q.markers)
	if me < 0 {
		return nil, 0, q.gone()
	}
	return nodes, me, nil
}

// place decides from a listing: granted, would block (a try), or wait,
// with the watches set on the blockers ahead. It looks at the nodes ahead
// only as far back as the two nearest blockers (a try, at them all): a
// mutex's waiter in a long queue costs no work in proportion to it (a
// reader, as far back as the nearest writers).
func (w *waiter) place(ctx context.Context, nodes []Node, me int) (next, error) {
	q := w.q
	pred := blockerBefore(nodes, me, me, q.rule)
	w.clear = me == 0
	switch {
	case pred < 0:
		return grant, nil
	case !w.wait:
		pass, err := q.allYield(ctx, nodes[me], Blockers(nodes, me, q.rule))
		switch {
		case err != nil:
			return relist, q.wrap(err)
		case pass:
			return grant, nil
		}
		return relist, ErrWouldBlock
	}
	if !w.watching && !q.unwatched { // a waiter learns if its node goes
		w.watching = true
		w.h.arm()
	}
	pred, n, err := w.watchPred(ctx, nodes, me, pred)
	if n != sleep || err != nil {
		return n, err
	}
	return w.watchSecond(ctx, nodes, me, pred)
}

// blockerBefore returns the index of the nearest node before nodes[i]
// that blocks nodes[me] under rule, or -1 if none does.
func blockerBefore(nodes []Node, me, i int, rule BlockRule) int {
	for j := i - 1; j >= 0; j-- {
		if rule(nodes[me], nodes[j]) {
			return j
		}
	}
	return -1
}

// lead makes pred our only blocker, and takes up, keeps or drops the duty
// to evict it: ours when it also heads the queue (heads) and declares a
// max hold. The clock starts when we first saw it hold (see timeHolder).
// alone: pred is also the only node ahead of us.
func (w *waiter) lead(heads, alone bool) {
	w.second, w.last, w.alone = watched{}, true, alone
	if !heads {
		w.evict = evicting{}
		return
	}
	w.evict, _ = w.timeHolder(w.pred, time.Now())
}

// timeHolder returns our duty towards x, a node we watch that holds, after
// a read of it (see retime): timed from when we first saw it hold, and
// anew from now after an Extend; ok is false if we have none (it declares
// no max hold). Each node we watch keeps its own timing, whichever of
// them we are to evict first; those we no longer watch are forgotten.
func (w *waiter) timeHolder(x watched, now time.Time) (_ evicting, ok bool) {
	maps.DeleteFunc(w.timed, func(n string, _ evicting) bool { return n != w.pred.name && n != w.second.name })
	d, ok := retime(w.timed[x.name], x.name, x.data, x.version, now, now)
	if !ok {
		delete(w.timed, x.name)
		return d, false
	}
	if w.timed == nil { // only for holders that declare a max hold
		w.timed = make(map[string]evicting, 2)
	}
	w.timed[x.name] = d
	return d, true
}

// secondGone reports whether second's going leaves pred our only blocker,
// and if so makes it the one (see lead): when nothing can have been left
// ahead of second, the nodes ahead of us are those that were between
// second and us at our last listing, of which pred alone blocks us.
func (w *waiter) secondGone(ours *Hold) bool {
	if w.at.second != 0 && (ours == nil || !ours.clear.Load()) {
		return false
	}
	heads := w.at.pred == w.at.second+1 // nothing between second and pred
	w.lead(heads, heads && w.at.pred == w.at.me-1)
	return true
}

// watchPred watches the nearest blocker (nodes[pred]), unless it is pred
// already. A blocker that yields is passed over for the one before it; if
// none is left, or the last one is gone already, nothing blocks us; nor if
// the nearest is gone and was a hold of this Session's granted with
// nothing ahead of it (see Hold.clear). It returns the index of the
// blocker it watches.
func (w *waiter) watchPred(ctx context.Context, nodes []Node, me, pred int) (int, next, error) {
	q := w.q
	if nodes[pred].Name == w.pred.name {
		return pred, sleep, nil
	}
	for pred >= 0 {
		b := nodes[pred]
		before := blockerBefore(nodes, me, pred, q.rule)
		p := q.path + "/" + b.Name
		ours := q.s.holdOf(p)
		nw, err := q.s.watchExisting(ctx, p)
		switch {
		case err != nil:
			return -1, relist, q.wrap(unreadable(b.Name, err))
		case !nw.ok && before < 0:
			// The last blocker went (later nodes queue behind us); if it
			// was the only node ahead, nothing is.
			w.clear = me == 1
			return -1, grant, nil
		case !nw.ok && ours != nil && ours.clear.Load():
			// Granted with nothing ahead of it, and gone: so is every
			// blocker ahead of it.
			w.clear = pred == me-1
			return -1, grant, nil
		case !nw.ok:
			return -1, relist, nil
		case q.yields == nil || !q.yields(nodes[me], b, &Read{nw.data, nw.stat}):
			w.pred = watched{b.Name, nw.watch, nw.data, nw.stat.Version, nil}
			return pred, sleep, nil
		}
		pred = before
	}
	return -1, grant, nil // every blocker yields
}

// watchSecond watches the blocker before pred, if there is one and it is
// not watched already. Where pred is the only blocker, or second is gone
// already and nothing can be left ahead of it (see secondGone), pred leads
// (see lead).
func (w *waiter) watchSecond(ctx context.Context, nodes []Node, me, pred int) (next, error) {
	q := w.q
	second := blockerBefore(nodes, me, pred, q.rule)
	if second < 0 {
		w.lead(pred == 0, me == 1)
		return sleep, nil
	}
	b := nodes[second]
	w.last, w.alone = false, false
	w.at = places{second, pred, me}
	p := q.path + "/" + b.Name
	if b.Name == w.second.name {
		if w.second.ours == nil { // its waiter may have registered since
			w.second.ours = q.s.holdOf(p)
		}
		w.duty(nodes)
		return sleep, nil
	}
	ours := q.s.holdOf(p)
	nw, err := q.s.watchExisting(ctx, p)
	switch {
	case err != nil:
		return relist, q.wrap(unreadable(b.Name, err))
	case !nw.ok && w.secondGone(ours):
		return sleep, nil
	case !nw.ok:
		return relist, nil // gone already: pred may lead now
	}
	w.second = watched{b.Name, nw.watch, nw.data, nw.stat.Version, ours}
	w.duty(nodes)
	return sleep, nil
}

// duty takes up, keeps or drops the duty to evict a node we watch, second
// or pred, where more than one blocks us: ours towards one that holds
// (nothing ahead of it in nodes blocks it, blockers that may yield aside)
// and declares a max hold, the one due first if both do. Where pred alone
// blocks us, lead decides.
// Without it, holders that hang side by side (two read holds ahead of a
// writer) or behind a waiter that enforces nothing (a Curator contender
// between a hung holder and us) would never be evicted. It reads the
// places of our last listing (w.at), and costs nothing more than the
// listing unless second holds.
func (w *waiter) duty(nodes []Node) {
	now := time.Now()
	var d evicting
	for _, x := range [2]struct {
		watched
		at int
	}{{w.second, w.at.second}, {w.pred, w.at.pred}} {
		if blockerBefore(nodes, x.at, x.at, w.q.rule) >= 0 {
			// Nor does pred: what blocks second blocks it too, or
			// second does.
			break
		}
		if e, ok := w.timeHolder(x.watched, now); ok && (d.name == "" || e.at.Before(d.at)) {
			d = e
		}
	}
	w.evict = d
}

// sleep waits for a watch to fire. pred's deletion grants us when it is
// the last blocker, and second's makes it the last when nothing can be
// left ahead of second (see secondGone); any other event on pred or
// second makes us list again (and watch anew what fired). Our own node's
// deletion ends the wait. With a duty to evict, it deletes that holder
// once its time has come.
func (w *waiter) sleep(ctx context.Context) (next, error) {
	s := w.q.s
	due, stop := w.due()
	defer func() { stop() }()
	for {
		select {
		case <-due:
			due = nil
			if again, err := w.evictDue(ctx); again || err != nil {
				return relist, err
			}
		case ev := <-w.pred.watch:
			if w.last && ev.Type == zk.EventNodeDeleted {
				w.clear = w.alone
				return grant, nil
			}
			w.pred = watched{}
			return relist, nil
		case ev := <-w.second.watch:
			ours := w.second.ours
			w.second = watched{}
			if ev.Type != zk.EventNodeDeleted || !w.secondGone(ours) {
				return relist, nil
			}
			stop() // pred leads with no listing: it may be due for eviction
			due, stop = w.due()
		case <-w.h.Done(): // the watch on our node could not be set
			return relist, w.ended()
		case ev := <-w.h.events:
			if ev.Type == zk.EventNodeDeleted {
				return relist, w.q.gone()
			}
			w.h.arm()
		case <-s.Done():
			return relist, s.Err()
		case <-ctx.Done():
			return relist, ctx.Err()
		}
	}
}

// due returns a channel that fires when our duty to evict a holder falls
// due (nil if we have none or are blind to it), and what stops its timer.
func (w *waiter) due() (<-chan time.Time, func() bool) {
	if w.evict.name == "" || w.evict.blind {
		return nil, func() bool { return false }
	}
	t := time.NewTimer(time.Until(w.evict.at))
	return t.C, t.Stop
}

// allYield reports whether every blocker ahead of me is gone or yields
// (see [YieldRule]), reading each one's node without a watch: a try does
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
		r, err := q.s.get(ctx, q.path+"/"+b.Name)
		switch {
		case errors.Is(err, zk.ErrNoNode): // gone: it blocks no more
		case err != nil:
			return false, err
		case !q.yields(me, b, &Read{r.data, r.stat}):
			return false, nil
		}
	}
	return true, nil
}

// unreadable explains a read of node, ahead of ours, that its ACL refused:
// a waiter must read the nodes ahead of it to wait for them.
func unreadable(node string, err error) error {
	if !errors.Is(err, zk.ErrNoAuth) {
		return err
	}
	return fmt.Errorf("%s, ahead of ours, may not be read with this session's credentials (its ACL): the clients of a recipe must be able to read each other's nodes: %w", node, err)
}

// ended explains why the watch on our node could not be set: the pending
// hold's cause (the node is gone, or does not match), or the session's end.
func (w *waiter) ended() error {
	if err := w.h.Err(); err != nil {
		return w.q.wrap(err)
	}
	return w.q.gone()
}

// evictDue deletes the holder we are to evict (pred or second: see lead
// and duty), past its declared max hold and the margin, unless its data
// changed since we last read it: the delete is version-checked, and a
// changed node is read again (an Extend is timed anew, other changes are
// not). Its deletion then fires its watch, as a release would.
func (w *waiter) evictDue(ctx context.Context) (again bool, err error) {
	q := w.q
	p := q.path + "/" + w.evict.name
	_, err = call(ctx, q.s, func() (struct{}, error) { return struct{}{}, q.s.Conn().Delete(p, w.evict.version) })
	switch {
	case err == nil:
		q.s.log.Info("zkrecipes: evicted a holder past its max hold", "node", p)
		return false, nil
	case errors.Is(err, zk.ErrNoNode):
		return false, nil
	case errors.Is(err, zk.ErrBadVersion): // changed: list and read it again
		if w.evict.name == w.second.name {
			w.second = watched{}
		} else {
			w.pred = watched{}
		}
		return true, nil
	}
	return true, q.wrap(err)
}
