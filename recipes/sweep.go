package recipes

import (
	"context"
	"errors"
	"path"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// Every contender node carries a protected id made for its one acquisition
// (see [ProtectedName]), so a node carrying it is ours to delete, whatever
// session owns it. The Session keeps the protected prefix of each node that
// may exist, from just before its create is sent until it is known to be
// gone, so that a connection the application gave us ([NewSession]) is
// left with none of our nodes: not those of contenders still waiting at
// Close, nor those that requests queued across a lost session made under
// the session go-zookeeper opened in its place.

// track notes that a node with the protected prefix may exist.
func (s *Session) track(prefix string) {
	s.mu.Lock()
	if s.mine[prefix] == nil {
		s.mine[prefix] = &ours{}
	}
	s.mu.Unlock()
}

// ours is a protected prefix of ours, with the number of its creates in
// flight: while one is, a sweep that found no node proves nothing.
type ours struct{ creating int }

// creating notes a create of prefix about to be sent (n = 1) or answered
// (n = -1: a reply, connection loss or close).
func (s *Session) creating(prefix string, n int) {
	s.mu.Lock()
	if o := s.mine[prefix]; o != nil {
		o.creating += n
	}
	s.mu.Unlock()
}

// untrack notes that no node with the protected prefix exists, unless a
// create of it is still in flight.
func (s *Session) untrack(prefix string) {
	s.mu.Lock()
	if o := s.mine[prefix]; o != nil && o.creating == 0 {
		delete(s.mine, prefix)
	}
	s.mu.Unlock()
}

// untrackNode notes that the node at p is gone: p is a tracked name, or
// one plus the sequence ZooKeeper appended (%010d of an int32, so 10
// digits or a minus sign and 10 digits).
func (s *Session) untrackNode(p string) {
	prefix := p
	s.mu.Lock()
	if _, ok := s.mine[prefix]; !ok && len(p) > 10 {
		prefix = p[:len(p)-10]
		if _, ok := s.mine[prefix]; !ok && strings.HasSuffix(prefix, "-") {
			prefix = prefix[:len(prefix)-1]
		}
	}
	s.mu.Unlock()
	s.untrack(prefix)
}

// tracked returns the prefixes of our nodes that may exist.
func (s *Session) tracked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.mine))
	for p := range s.mine {
		out = append(out, p)
	}
	return out
}

// sweep deletes every node of ours that may exist, through the connection
// and whatever session it has now, until none is left or ctx ends. It
// runs only once the Session has ended (lost or closed), on a connection
// the Session did not make.
func (s *Session) sweep(ctx context.Context) {
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		prefixes := s.tracked()
		if len(prefixes) == 0 {
			return
		}
		for _, p := range prefixes {
			if err := s.sweepPrefix(ctx, p); err == nil {
				s.untrack(p)
			} else if ctx.Err() != nil {
				return
			}
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
	}
}

// sweepUntil sweeps until stop is closed.
func (s *Session) sweepUntil(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.wg.Go(func() {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		cancel()
	})
	s.sweep(ctx)
}

// sweepPrefix deletes our nodes with prefix, whatever the Session's state.
func (s *Session) sweepPrefix(ctx context.Context, prefix string) error {
	return s.removeOurs(ctx, prefix, true)
}

// removeOurs deletes the nodes of ours with prefix: a child of prefix's
// parent named prefix's base, or that plus a sequence number. raw sends
// the requests whatever the Session's state (see rawCall).
func (s *Session) removeOurs(ctx context.Context, prefix string, raw bool) error {
	do := func(f func(conn *zk.Conn) error) error {
		conn := s.Conn()
		g := func() (struct{}, error) { return struct{}{}, f(conn) }
		var err error
		if raw {
			_, err = rawCall(ctx, s, g)
		} else {
			_, err = call(ctx, s, g)
		}
		return err
	}
	parent, base := path.Dir(prefix), path.Base(prefix)
	var children []string
	err := do(func(conn *zk.Conn) (err error) { children, _, err = conn.Children(parent); return err })
	if errors.Is(err, zk.ErrNoNode) {
		s.untrack(prefix)
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range children {
		if !ourName(c, base) {
			continue
		}
		p := parent + "/" + c
		err := do(func(conn *zk.Conn) error { return conn.Delete(p, -1) })
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
	}
	s.untrack(prefix)
	return nil
}

// ourName reports whether child is base, or base plus the sequence number
// ZooKeeper appends (%010d of an int32).
func ourName(child, base string) bool {
	seq, ok := strings.CutPrefix(child, base)
	if !ok {
		return false
	}
	if seq == "" {
		return true
	}
	_, ok = parseSequence(seq)
	return ok
}

// createResult is the answer to a create.
type createResult struct {
	path string
	err  error
}

// sendCreate sends the create of a node of ours (its name carries an id
// made for one attempt, so any node of that name is ours) and returns a
// channel that gets the answer: a reply, connection loss or close. prefix
// is tracked from now until the node is known to be gone. On a connection
// the Session did not make, nothing is sent once the connection has
// another session.
func (s *Session) sendCreate(prefix string, data []byte, flags int32) (chan createResult, error) {
	s.track(prefix)
	ch := make(chan createResult, 1)
	s.creating(prefix, 1)
	if !s.spawn(func() {
		defer s.creating(prefix, -1)
		conn := s.Conn()
		if !s.owned && conn.SessionID() != s.ID() {
			// The application's connection has another session now: ours
			// is lost, and nothing is created under the new one.
			s.observe(conn.State(), conn.SessionID())
			ch <- createResult{"", s.Err()}
			return
		}
		p, err := conn.Create(prefix, data, flags, s.opts.acl)
		s.noteExpired(err)
		ch <- createResult{p, s.explain(err)}
	}) {
		s.creating(prefix, -1)
		return nil, s.Err()
	}
	return ch, nil
}

// dropWhenAnswered hands a create that its caller gave up on to the
// background cleanup: once it is answered, whatever it made is deleted
// (never before, so that the delete cannot overtake the create).
func (s *Session) dropWhenAnswered(prefix string, ch <-chan createResult) {
	s.cleanup("remove "+prefix, func(ctx context.Context) error {
		r := <-ch // always comes: reply, connection loss or close
		switch {
		case r.err == nil:
			return s.retry(ctx, "delete "+r.path, s.removeNode(r.path))
		case retryable(r.err):
			return s.retry(ctx, "remove "+prefix, func(ctx context.Context) error { return s.removeOurs(ctx, prefix, false) })
		}
		s.untrack(prefix)
		return nil
	})
}

// rawCall is call for a Session that has ended: it runs f whatever the
// Session's state. Only the sweep uses it, before Close waits for the
// Session's goroutines.
func rawCall[T any](ctx context.Context, s *Session, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	s.wg.Go(func() { v, err := f(); ch <- result{v, err} })
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
