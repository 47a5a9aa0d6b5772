package recipes

import (
	"context"
	"fmt"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/internal/core"
)

// State is what a [Session] knows about its ZooKeeper session.
type State int

const (
	// StateConnecting: the session is not established yet.
	StateConnecting State = iota
	// StateConnected: the session is established and the connection is up.
	StateConnected
	// StateSuspended: the connection dropped; the session may still live.
	StateSuspended
	// StateLost: the session expired or was replaced by a new one. Final.
	StateLost
	// StateClosed: Close was called. Final.
	StateClosed
)

func (s State) String() string { return core.State(s).String() }

// sessionRef carries the core session; recipe packages reach it with
// core.Of, users cannot.
type sessionRef = core.Ref[core.Session]

// Session is one ZooKeeper session, watched closely enough that every hold
// made through it learns when it can no longer be trusted.
//
// go-zookeeper's Conn silently opens a new session after the old one
// expires, sends what was queued under it, and drops events when its
// channel is full. A Session relies on none of that: it follows the
// connection's state itself and, once its session expires or is replaced,
// is lost for good, and so is everything held through it; make a new
// Session to go on. A lost session is dead: see [Connect] and [NewSession]
// for what that means for the connection.
//
// A Session is safe for concurrent use, and meant to be shared: one per
// process, used by many goroutines and recipes at once. Goroutines
// exclude each other through it exactly as processes do.
type Session struct{ sessionRef }

func wrap(c *core.Session) *Session {
	s := &Session{}
	core.Set(s, c)
	return s
}

// Connect opens a new ZooKeeper session to servers ("host:port") and
// blocks until it is established. If ctx ends first, it closes the
// connection and returns ctx.Err(). Close the Session when done: that ends
// the ZooKeeper session and so releases everything it holds.
//
// The Session owns its connection and follows one ZooKeeper session only.
// The moment that session is lost, the connection is closed: requests
// queued across the loss fail (go-zookeeper would otherwise send them
// under a new session of its own), and the connection never opens another
// session. Make a new Session to go on.
func Connect(ctx context.Context, servers []string, opts ...Option) (*Session, error) {
	c, err := core.Connect(ctx, servers, configure(opts))
	if err != nil {
		return nil, err
	}
	return wrap(c), nil
}

// NewSession wraps a connection the application already has. It blocks
// until the connection has a session (or returns ctx.Err()), then follows
// that one session by reading the connection's state every poll interval
// ([WithPollInterval]), so it notices loss up to one interval late. Close
// releases what the Session still holds, deletes the nodes of contenders
// still waiting, and leaves conn open; once conn's session is lost, the
// Session is lost too even though conn goes on with a new one. Requests
// the Session had queued across the loss may then run under conn's new
// session: a node they made that carries an id of ours (every contender's
// node, a double barrier member's), or that one answered create says it
// made, the Session deletes through conn in the background, and at Close.
// One of a name anyone may make (a group member named by its id, as
// Curator names them), whose create's answer the connection lost too,
// cannot be told from a node the application made under the new session,
// and stays.
// Acquisitions on it cost one round trip more than on a Session made by
// [Connect], which reads the fencing token from the create's reply on the
// wire; here each new node is read back instead. And the events of the
// watches on its nodes come only through each watch's channel, where a
// Session made by Connect takes every event from the connection itself:
// here a goroutine waits on up to 128 of them at once, so that 100,000
// idle holds cost about 800 goroutines (on Connect's, none).
//
// The Session cannot see conn's negotiated session timeout: give it with
// [WithSessionTimeout], which bounds Close's waits and, with
// [WithTolerateSuspension] (which requires it here), how long a
// suspension is tolerated.
func NewSession(ctx context.Context, conn *zk.Conn, opts ...Option) (*Session, error) {
	c, err := core.NewSession(ctx, conn, configure(opts))
	if err != nil {
		return nil, err
	}
	return wrap(c), nil
}

// Conn returns the underlying connection, for plain ZooKeeper calls. Do
// not close it: [Session.Close] does, for a Session made by [Connect].
func (s *Session) Conn() *zk.Conn {
	if c := s.of(); c != nil {
		return c.Conn()
	}
	return nil
}

// ID returns the ZooKeeper session id this Session follows: the owner that
// ZooKeeper records on its ephemeral nodes ([Contender].Session).
func (s *Session) ID() int64 {
	if c := s.of(); c != nil {
		return c.ID()
	}
	return 0
}

// State returns the session's current state.
func (s *Session) State() State {
	if c := s.of(); c != nil {
		return State(c.State())
	}
	return StateClosed
}

// Done returns a channel closed when the session is lost or closed.
func (s *Session) Done() <-chan struct{} {
	if c := s.of(); c != nil {
		return c.Done()
	}
	return core.Closed
}

// Err returns nil while the session lives, then an error matching
// [ErrSessionLost] or [ErrSessionClosed] (both match [ErrLost]).
func (s *Session) Err() error {
	if c := s.of(); c != nil {
		return c.Err()
	}
	return errNeverMade
}

// WaitConnected blocks until the session is connected (it returns nil),
// lost or closed (an error matching [ErrLost]), or ctx ends (ctx.Err()).
// After a request failed with a connection error, whose outcome is
// unknown, it tells when the request can be tried again, or its outcome
// read back.
func (s *Session) WaitConnected(ctx context.Context) error {
	if c := s.of(); c != nil {
		return c.WaitConnected(ctx)
	}
	return errNeverMade
}

// Close releases every hold the Session still has, ends the ZooKeeper
// session if Connect made it, and waits for the Session's goroutines. It is
// safe to call more than once; later calls return nil. From the moment it
// begins, no acquisition starts (it returns an error matching
// [ErrSessionClosed]), and a waiter granted meanwhile gets a hold already
// lost with that error.
//
// On a Session made by [NewSession], Close also deletes, through the
// application's connection, every node of ours that may remain (those of
// contenders still waiting included). While that connection is down, each
// of its steps (releasing, background cleanups, deleting) waits up to the
// session timeout, and Close waits for every request still queued on the
// connection to be answered (go-zookeeper answers each, if only with a
// connection error), then deletes what those made.
func (s *Session) Close() error {
	if c := s.of(); c != nil {
		return c.Close()
	}
	return errNeverMade
}

// of returns the core session: nil for a nil Session, or a zero one that
// neither Connect nor NewSession made, whose methods then report
// [StateClosed] and an error instead of panicking.
func (s *Session) of() *core.Session {
	if s == nil {
		return nil
	}
	return core.Of(s)
}

// errNeverMade is the error of a Session that was never made: it is
// closed, as its State says.
var errNeverMade = fmt.Errorf("%w (%w)", ErrSessionClosed, core.ErrNoSession)
