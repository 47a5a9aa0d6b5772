package core

import (
	"context"
	"errors"

	"github.com/go-zookeeper/zk"
)

// ObserveHead returns a channel that receives the head of q (for an
// election, the leader), converted by as, each time a new node becomes
// head, in order. It watches only the head (and, while the
// queue is empty, the children), so observers add one watch each. A head
// that comes and goes between two reads may be missed, but the order is
// never wrong: tokens only grow. The channel is closed when ctx ends or
// the session is lost or closed.
func ObserveHead[T any](ctx context.Context, q *Queue, as func(Contender) T) <-chan T {
	out := make(chan T)
	if !q.s.Go(func() { defer close(out); observeHead(ctx, q, as, out) }) {
		close(out)
	}
	return out
}

func observeHead[T any](ctx context.Context, q *Queue, as func(Contender) T, out chan<- T) {
	s := q.s
	var last string
	for {
		watch, head, err := q.watchHead(ctx)
		switch {
		case retryable(err):
			if s.waitConnected(ctx) != nil {
				return
			}
			continue
		case err != nil:
			return
		}
		if head != nil && head.Name != last {
			last = head.Name
			select {
			case out <- as(*head):
			case <-ctx.Done():
				return
			case <-s.Done():
				return
			}
		}
		select {
		case <-watch:
		case <-ctx.Done():
			return
		case <-s.Done():
			return
		}
	}
}

// watchHead reads the head with a watch on it, or, with no head, watches
// the children (or the parent's creation). A nil head with a nil error
// means the queue is empty; the watch then fires when it may not be.
func (q *Queue) watchHead(ctx context.Context) (<-chan zk.Event, *Contender, error) {
	s := q.s
	children, err := q.children(ctx)
	if errors.Is(err, zk.ErrNoNode) {
		w, err := s.watchNode(ctx, q.path)
		if err != nil {
			return nil, nil, err
		}
		if w.ok {
			return closedWatch, nil, nil // created meanwhile: read again
		}
		return w.watch, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	nodes := ParseChildren(children, q.markers)
	if len(nodes) == 0 {
		// Only an empty queue is watched as a whole, so observers are not
		// told of every change to a busy one.
		type listing struct {
			children []string
			watch    <-chan zk.Event
		}
		l, err := call(ctx, s, func() (listing, error) {
			c, _, ch, err := s.Conn().ChildrenW(q.path)
			return listing{c, ch}, err
		})
		switch {
		case errors.Is(err, zk.ErrNoNode):
			return closedWatch, nil, nil
		case err != nil:
			return nil, nil, err
		case len(ParseChildren(l.children, q.markers)) > 0:
			return closedWatch, nil, nil
		}
		return l.watch, nil, nil
	}
	p := q.path + "/" + nodes[0].Name
	type got struct {
		data  []byte
		stat  *zk.Stat
		watch <-chan zk.Event
	}
	g, err := call(ctx, s, func() (got, error) {
		d, st, ch, err := s.Conn().GetW(p)
		return got{d, st, ch}, err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return closedWatch, nil, nil // gone since the listing: read again
	}
	if err != nil {
		return nil, nil, err
	}
	c := contender(nodes[0], p, g.data, g.stat)
	c.Held = true
	return g.watch, &c, nil
}

// closedWatch fires at once.
var closedWatch = func() <-chan zk.Event {
	ch := make(chan zk.Event)
	close(ch)
	return ch
}()
