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

// untrackNode notes that the node at p, a prefix plus the sequence
// ZooKeeper appended (%010d of an int32, so 10 digits or a minus sign and
// 10 digits), is gone.
func (s *Session) untrackNode(p string) {
	if len(p) < 10 {
		return
	}
	prefix := p[:len(p)-10]
	s.mu.Lock()
	if _, ok := s.mine[prefix]; !ok && strings.HasSuffix(prefix, "-") {
		prefix = prefix[:len(prefix)-1]
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

// sweepPrefix deletes the children of prefix's parent whose names start
// with prefix's base.
func (s *Session) sweepPrefix(ctx context.Context, prefix string) error {
	conn := s.Conn()
	parent, base := path.Dir(prefix), path.Base(prefix)
	children, err := rawCall(ctx, s, func() ([]string, error) {
		c, _, err := conn.Children(parent)
		return c, err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range children {
		if !strings.HasPrefix(c, base) {
			continue
		}
		p := parent + "/" + c
		_, err := rawCall(ctx, s, func() (struct{}, error) { return struct{}{}, conn.Delete(p, -1) })
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
	}
	return nil
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
