package core

import (
	"context"
	"sync"
)

// A lister shares listings of a queue among its waiters that ask for one
// at about the same time: many goroutines of one process waiting on one
// Queue (one lock value), which has one Session. ZooKeeper serves a session's requests in order, so
// a listing sent after a waiter's create (or after the event that made it
// list again) shows what that waiter needs it to. At most one listing is
// in flight per queue: waiters that ask meanwhile share the next one, sent
// once it returns, which is after each of them asked. A waiter alone sends
// its listing at once, as before; a queue of n waiters formed at once
// costs a listing per round trip instead of n, each as long as the queue.
type lister struct {
	mu       sync.Mutex
	inflight bool
	next     *listing // the listing to send next; nil: nobody asked for one
}

// listing is one listing of the queue, shared by the waiters that asked
// for it; done closes when it is answered.
type listing struct {
	done     chan struct{}
	children []string
	err      error

	parse sync.Once
	nodes []Node // the children parsed, in queue order: read-only
}

// nextListing returns a listing of the queue that is sent after this
// call: the next one, or a new one sent at once if none is in flight.
func (q *Queue) nextListing() *listing {
	l := &q.lister
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next == nil {
		l.next = &listing{done: make(chan struct{})}
	}
	next := l.next
	if !l.inflight {
		q.sendListing()
	}
	return next
}

// sendListing sends the next listing, with the lister locked.
func (q *Queue) sendListing() {
	l, s := &q.lister, q.s
	next := l.next
	l.next, l.inflight = nil, true
	answered := func(children []string, err error) {
		next.children, next.err = children, err
		close(next.done)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.inflight = false
		if l.next != nil {
			q.sendListing()
		}
	}
	if !s.spawn(func() { c, _, err := s.Conn().Children(q.path); answered(c, err) }) {
		next.err = s.Err() // the Session has ended
		close(next.done)
		l.inflight = false
	}
}

// wait waits for the listing's answer or ctx's end, and parses the
// children, once for all who share it.
func (l *listing) wait(ctx context.Context, s *Session, markers []Marker) ([]Node, error) {
	select {
	case <-l.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.noteExpired(l.err)
	if err := s.explain(l.err); err != nil {
		return nil, err
	}
	l.parse.Do(func() { l.nodes = ParseChildren(l.children, markers) })
	return l.nodes, nil
}
