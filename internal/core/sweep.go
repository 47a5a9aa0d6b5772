package core

import (
	"context"
	"errors"
	"maps"
	"path"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
)

// Every contender node carries a protected id made for its one acquisition
// (see [ProtectedName]), so a node carrying it is ours to delete, whatever
// session owns it. A Session over a connection the application gave us
// (NewSession) keeps the name of each node of ours that may exist (for a
// sequential node in flight, the name it was created with), from just
// before its create is sent until it is known to be gone, so that the
// connection is left with none of our nodes: not those of contenders still
// waiting at Close, nor those that requests queued across a lost session
// made under the session go-zookeeper opened in its place. A Session made
// by Connect needs none of it: its nodes go with its session, and it
// opens no other.

// ours is a name of ours that may exist.
type ours struct {
	creating int // creates in flight: while one is, a listing proves nothing
	answered int // creates answered, so that a sweep notices one answered meanwhile
}

// track notes that a node named prefix, or prefix plus a sequence number,
// may exist, and reports whether the name was not tracked yet (fresh): no
// node of ours had it.
func (s *Session) track(prefix string) (fresh bool) {
	if s.owned {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mine[prefix] != nil {
		return false
	}
	s.mine[prefix] = &ours{}
	return true
}

// creating notes a create of prefix about to be sent.
func (s *Session) creating(prefix string) {
	s.withOurs(prefix, func(o *ours) { o.creating++ })
}

// answered notes the answer to a create of prefix.
func (s *Session) answered(prefix string) {
	s.withOurs(prefix, func(o *ours) {
		o.creating--
		o.answered++
	})
}

func (s *Session) withOurs(prefix string, f func(o *ours)) {
	if s.owned {
		return
	}
	s.mu.Lock()
	if o := s.mine[prefix]; o != nil {
		f(o)
	}
	s.mu.Unlock()
}

// untrack notes that no node named prefix (or prefix plus a sequence
// number) exists, unless a create of it is still in flight.
func (s *Session) untrack(prefix string) { s.untrackSince(prefix, -1) }

// answers returns how many creates of prefix have been answered; -1 if
// it is not tracked.
func (s *Session) answers(prefix string) int {
	n := -1
	s.withOurs(prefix, func(o *ours) { n = o.answered })
	return n
}

// untrackSince is untrack for a sweep that found no node of prefix after
// the answer numbered gen (see answers): a create answered since may have
// made one. gen < 0 means no such check.
func (s *Session) untrackSince(prefix string, gen int) {
	if s.owned {
		return
	}
	s.mu.Lock()
	if o := s.mine[prefix]; o != nil && o.creating == 0 && (gen < 0 || o.answered == gen) {
		delete(s.mine, prefix)
	}
	s.mu.Unlock()
}

// untrackNode notes that the node at p is gone: p is a tracked name, or
// one plus the sequence ZooKeeper appended (%010d of an int32: 10 digits,
// or a minus sign and 9 or 10 digits).
func (s *Session) untrackNode(p string) {
	if s.owned {
		return
	}
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
		prefixes, strays := s.tracked(), s.strayNodes()
		if len(prefixes) == 0 && len(strays) == 0 {
			return
		}
		for p, sid := range strays {
			if err := s.removeStray(ctx, p, sid); err != nil && ctx.Err() != nil {
				return
			}
		}
		for _, p := range prefixes {
			// removeOurs untracks p itself, unless a create answered
			// meanwhile may have made a node the listing missed.
			if err := s.removeOurs(ctx, p, true); err != nil && ctx.Err() != nil {
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

// sweepFor sweeps for at most d.
func (s *Session) sweepFor(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s.sweep(ctx)
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

// removeTask returns removeOurs as a task for retry and cleanup.
func (s *Session) removeTask(prefix string) func(context.Context) error {
	return func(ctx context.Context) error { return s.removeOurs(ctx, prefix, false) }
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
	gen := s.answers(prefix)
	var children []string
	err := do(func(conn *zk.Conn) (err error) { children, _, err = conn.Children(parent); return err })
	if errors.Is(err, zk.ErrNoNode) {
		s.untrackSince(prefix, gen)
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
		err := do(func(conn *zk.Conn) error { return s.deleteOurs(conn, p) })
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
	}
	s.untrackSince(prefix, gen)
	return nil
}

// deleteOurs deletes the node at p through conn if it is ours: whatever
// session owns it, if its name carries an id made for one create (see
// uniqueName); otherwise only while our session owns it, since anyone may
// make a node of that name (a group member's id, a double barrier's ready
// node) once ours is gone.
func (s *Session) deleteOurs(conn *zk.Conn, p string) error {
	if uniqueName(path.Base(p)) {
		return conn.Delete(p, -1)
	}
	for {
		ok, st, err := conn.Exists(p)
		if err != nil || !ok || st.EphemeralOwner != s.ID() {
			return err
		}
		// Version-checked: a node written since the read is read again.
		// One deleted and made again by another session in between, with
		// the same version, is not told apart (ZooKeeper has no delete
		// conditional on the owner): a window of one round trip.
		if err := conn.Delete(p, st.Version); !errors.Is(err, zk.ErrBadVersion) {
			return err
		}
	}
}

// uniqueName reports whether a name carries an id made for one attempt: a
// protected name, a UUID (a double barrier member's), or one that begins
// with a UUID's 32 hex digits and then "-" or "__" (a partition's party
// node, a Kazoo-style group member).
func uniqueName(base string) bool {
	if strings.HasPrefix(base, protectedPrefix) {
		return true
	}
	if _, err := uuid.Parse(base); err == nil {
		return true
	}
	if len(base) <= 32 || !(base[32] == '-' || strings.HasPrefix(base[32:], "__")) {
		return false
	}
	for _, c := range base[:32] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ourName reports whether child is base or, when base carries a protected
// id (no one else makes such a name), base plus the sequence number
// ZooKeeper appends.
func ourName(child, base string) bool {
	seq, ok := strings.CutPrefix(child, base)
	switch {
	case !ok:
		return false
	case seq == "":
		return true
	case !strings.HasPrefix(base, protectedPrefix):
		return false
	}
	_, ok = parseSequence(seq)
	return ok
}

// createResult is the answer to a create.
type createResult struct {
	path  string
	err   error
	fresh bool // when it was sent, no node of ours had the name (see track)
}

// sendCreate sends the create of a node of ours and returns a channel that
// gets the answer: a reply, connection loss or close. On a connection the
// Session did not make, prefix is tracked from now until the node is known
// to be gone (see removeOurs for which nodes of that name count as ours),
// nothing is sent once the connection has another session, and what a
// create made under another session is deleted (see madeUnderOurs).
func (s *Session) sendCreate(prefix string, data []byte, flags int32) (chan createResult, error) {
	fresh := s.track(prefix)
	ch := make(chan createResult, 1)
	s.creating(prefix)
	if !s.Go(func() {
		conn := s.Conn()
		if !s.owned && conn.SessionID() != s.ID() {
			// The application's connection has another session now, or
			// none (go-zookeeper clears the id when the session expires):
			// ours is lost, and nothing is created under another one.
			s.observe(conn.State(), conn.SessionID())
			err := s.Err()
			if err == nil {
				err = zk.ErrConnectionClosed // not known lost yet: retry, and learn it
			}
			s.answered(prefix)
			ch <- createResult{"", err, fresh}
			return
		}
		p, err := conn.Create(prefix, data, flags, s.cfg.ACL)
		if err == nil && !s.owned {
			if err = s.madeUnderOurs(conn, p); err != nil {
				p = ""
			}
		}
		s.noteExpired(err)
		s.answered(prefix) // before the caller can untrack
		ch <- createResult{p, s.explain(err), fresh}
	}) {
		s.answered(prefix)
		return nil, s.Err()
	}
	return ch, nil
}

// madeUnderOurs checks, on a connection the Session did not make, that a
// create answered without error ran under our session: go-zookeeper sends
// what was queued across an expiry under the session it opens in place of
// ours, which the check before the send cannot foresee. Nothing of ours may
// live under that session, whatever its name (the sweep deletes a name
// anyone may make only while our session owns it), so the node is a stray:
// deleted at once if it can be, else by the sweep that the Session's loss
// starts, and the error says the Session is lost.
func (s *Session) madeUnderOurs(conn *zk.Conn, p string) error {
	sid := conn.SessionID()
	if sid == s.ID() {
		return nil
	}
	if sid != 0 { // 0: that session has expired too, and took the node
		s.mu.Lock()
		s.strays[p] = sid // before the loss starts the sweep
		s.mu.Unlock()
	}
	s.observe(conn.State(), sid)
	if sid != 0 {
		s.removeStray(context.Background(), p, sid) // go-zookeeper answers every request
	}
	if err := s.Err(); err != nil {
		return err
	}
	return zk.ErrConnectionClosed // not known lost yet: retry, and learn it
}

// strayNodes returns the strays left to delete.
func (s *Session) strayNodes() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.strays)
}

// removeStray deletes the node at p if session sid owns it, and forgets
// it once it is gone or another session's; on any error it keeps it for
// the sweep to try again. It sends the requests whatever the Session's
// state (see rawCall).
func (s *Session) removeStray(ctx context.Context, p string, sid int64) error {
	_, err := rawCall(ctx, s, func() (struct{}, error) {
		conn := s.Conn()
		ok, st, err := conn.Exists(p)
		if err != nil || !ok || st.EphemeralOwner != sid {
			return struct{}{}, err
		}
		return struct{}{}, conn.Delete(p, st.Version)
	})
	if err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrSessionExpired) { // else gone with sid
		s.log.Debug("zkrecipes: a node made under the session that replaced ours is not deleted yet", "node", p, "err", err)
		return err // the sweep tries again
	}
	s.mu.Lock()
	delete(s.strays, p)
	s.mu.Unlock()
	return nil
}

// dropWhenAnswered hands a create that its caller gave up on to the
// background cleanup: once it is answered, whatever it made is deleted
// (never before, so that the delete cannot overtake the create).
func (s *Session) dropWhenAnswered(prefix string, ch <-chan createResult) {
	s.Cleanup("remove "+prefix, func(ctx context.Context) error {
		r := <-ch // always comes: reply, connection loss or close
		switch {
		case r.err == nil:
			return s.retry(ctx, "delete "+r.path, s.removeNode(r.path))
		case retryable(r.err):
			return s.retry(ctx, "remove "+prefix, s.removeTask(prefix))
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
