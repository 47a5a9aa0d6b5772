package core

import (
	"context"
	"sync"
)

// listers share listings of a queue among its waiters on one Session
// that ask for one at about the same time: many goroutines of one process
// waiting on one queue, through one lock value or a value each (a handler
// that makes the lock of its request's item). ZooKeeper serves a session's
// requests in order, so a listing sent after a waiter's create (or after
// the event that made it list again) shows what that waiter needs it to.
// At most one listing is in flight per queue: waiters that ask meanwhile
// share the next, sent once it returns, which is after each of them asked.
// A waiter alone sends its listing at once. A queue of n waiters formed at
// once costs a listing per round trip instead of n, each as long as the
// queue.
type listers struct {
	mu sync.Mutex
	by map[string]*lister // by queue (Queue.listKey), while a listing is in flight
}

// A lister is one queue's listing in flight, and the one asked for next.
type lister struct {
	next *listing // the listing to send next; nil: nobody asked for one
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
	ls := &q.s.listers
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.by[q.listKey]
	if l == nil {
		if ls.by == nil {
			ls.by = make(map[string]*lister)
		}
		ls.by[q.listKey] = &lister{}
		next := &listing{done: make(chan struct{})}
		q.sendListing(next)
		return next
	}
	if l.next == nil {
		l.next = &listing{done: make(chan struct{})}
	}
	return l.next
}

// sendListing sends next, with the listers locked; once it is answered,
// the listing asked for meanwhile goes, if there is one.
func (q *Queue) sendListing(next *listing) {
	ls, s := &q.s.listers, q.s
	answered := func(children []string, err error) {
		next.children, next.err = children, err
		close(next.done)
		ls.mu.Lock()
		defer ls.mu.Unlock()
		q.listed()
	}
	if !s.Go(func() { c, _, err := s.Conn().Children(q.path); answered(c, err) }) {
		next.err = s.Err() // the Session has ended
		close(next.done)
		q.listed()
	}
}

// listed sends the listing asked for while one was in flight, or notes
// that none is, with the listers locked.
func (q *Queue) listed() {
	ls := &q.s.listers
	l := ls.by[q.listKey]
	if l.next == nil {
		delete(ls.by, q.listKey)
		return
	}
	next := l.next
	l.next = nil
	q.sendListing(next)
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
