package leader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Errors returned by this package; the shared ones are the recipes errors.
var (
	// ErrNoLeader is returned by Leader when no candidate is campaigning.
	ErrNoLeader = errors.New("leader: no leader")
	// ErrNotHeld is returned by Resign on a leadership already resigned.
	ErrNotHeld = recipes.ErrNotHeld
	// ErrLost matches every cause of lost leadership.
	ErrLost = recipes.ErrLost
	// ErrInvalidPath is returned by New for a path ZooKeeper would reject.
	ErrInvalidPath = recipes.ErrInvalidPath
	// ErrMaxHoldExceeded ends a term at its limit (WithMaxTerm).
	ErrMaxHoldExceeded = recipes.ErrMaxHoldExceeded
)

var markers = []core.Marker{core.LatchMarker}

// Election is one election at a ZooKeeper path. It is cheap: no server call
// until a method needs one. Every Campaign is a candidate of its own. An
// Election is safe for concurrent use.
type Election struct {
	s      *recipes.Session
	q      *core.Queue
	marker core.Marker // how its candidates' nodes are named (see Layout)
}

// New returns the election at path on session s. It checks path and its
// options (an unknown Layout is an error) and makes no server call.
func New(s *recipes.Session, path string, opts ...Option) (*Election, error) {
	var o options
	core.Apply(&o, opts)
	c, err := core.Prepare(s, path)
	if err != nil {
		return nil, fmt.Errorf("leader: %w", err)
	}
	if o.layout < LeaderLatch || o.layout > KazooElection {
		return nil, fmt.Errorf("leader %s: layout %d: want LeaderLatch, LeaderSelector or KazooElection", path, o.layout)
	}
	q, err := core.NewQueue(c, path, markers, core.AnyBlocks, core.WithMaxHold(o.maxTerm), core.Measured("leader", path, "leader campaign", "leader resign"))
	if err != nil {
		return nil, fmt.Errorf("leader: %w", err)
	}
	return &Election{s: s, q: q, marker: o.layout.marker()}, nil
}

// Option configures an Election.
type Option func(*options)

type options struct {
	maxTerm time.Duration
	layout  Layout
}

// Layout is how candidates' nodes are named, for elections shared with
// another client's recipe. Whatever the layout, every candidate's value is
// its node's data, and the head of the queue leads.
type Layout int

const (
	// LeaderLatch names nodes as Curator's LeaderLatch does
	// (_c_<uuid>-latch-<seq>): the default.
	LeaderLatch Layout = iota
	// LeaderSelector names them as Curator's LeaderSelector does, which
	// queues on an InterProcessMutex (_c_<uuid>-lock-<seq>) with the
	// participant's id as data.
	LeaderSelector
	// KazooElection names them so that Kazoo's Election, which queues on
	// its Lock (<uuid>__lock__<seq>, the identifier as data), counts them.
	KazooElection
)

func (l Layout) marker() core.Marker {
	switch l {
	case LeaderSelector:
		return core.MutexMarker
	case KazooElection:
		return core.KazooLockMarker
	}
	return core.LatchMarker
}

// WithLayout makes candidates queue in another client's layout, so that
// Curator's LeaderSelector or Kazoo's Election candidates share the
// election. Use one layout per path: each of those clients counts only
// its own kind of node.
func WithLayout(l Layout) Option { return func(o *options) { o.layout = l } }

// WithMaxTerm limits every term of this Election's candidates to d, as
// lock.WithMaxHold limits a hold: the leadership's context ends d after it
// began (ErrMaxHoldExceeded), and the candidate next in line (or the one after
// it) deletes its node once d and recipes.EvictionMargin have passed since it
// saw it lead, so that a leader whose code hangs while its session lives leads
// no longer than that. With Reelect, Run campaigns again.
func WithMaxTerm(d time.Duration) Option { return func(o *options) { o.maxTerm = d } }

// Path returns the election's path.
func (e *Election) Path() string {
	if e.made() != nil {
		return ""
	}
	return e.q.Path()
}

// made returns an error for an Election that New did not make (nil or
// zero), whose methods then fail instead of panicking.
func (e *Election) made() error {
	if e == nil || e.q == nil {
		return fmt.Errorf("leader: %w", core.ErrNoSession)
	}
	return nil
}

// Campaign joins the election with value (for example the candidate's
// address, which [Election.Leader] and observers see) and blocks until
// this candidate leads. If ctx ends first, it withdraws (deletes its node)
// and returns ctx.Err(). If the session is lost meanwhile, it returns an
// error matching ErrLost.
func (e *Election) Campaign(ctx context.Context, value []byte) (*Leadership, error) {
	if err := e.made(); err != nil {
		return nil, err
	}
	if value == nil {
		value = []byte{}
	}
	h, err := e.q.Acquire(ctx, e.marker, true, value)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("leader %s: campaign: %w", e.q.Path(), err)
	}
	l := &Leadership{h: h, value: value}
	core.Set(&l.Holding, h)
	return l, nil
}

// Leader returns the current leader: its value (Data), token and node. It
// returns ErrNoLeader when nobody campaigns. It is a snapshot.
func (e *Election) Leader(ctx context.Context) (recipes.Contender, error) {
	if err := e.made(); err != nil {
		return recipes.Contender{}, err
	}
	c, ok, err := e.q.Head(ctx)
	switch {
	case err != nil:
		return recipes.Contender{}, fmt.Errorf("leader %s: %w", e.q.Path(), err)
	case !ok:
		return recipes.Contender{}, fmt.Errorf("leader %s: %w", e.q.Path(), ErrNoLeader)
	}
	return recipes.Contender(c), nil
}

// Observe returns a channel that receives the leader each time leadership
// changes hands, in order (tokens only grow). A leader that comes and goes
// between two reads may be missed. The channel is closed when ctx ends or
// the session is lost or closed.
func (e *Election) Observe(ctx context.Context) <-chan recipes.Contender {
	if e.made() != nil {
		ch := make(chan recipes.Contender)
		close(ch)
		return ch
	}
	return core.ObserveHead(ctx, e.q, func(c core.Contender) recipes.Contender { return recipes.Contender(c) })
}

// Contenders returns the leader (first, Held) and the other candidates in
// line, with their values. It is a snapshot; see [recipes.Contenders].
func (e *Election) Contenders(ctx context.Context) ([]recipes.Contender, error) {
	if err := e.made(); err != nil {
		return nil, err
	}
	return recipes.Contenders(ctx, e.s, e.q.Path())
}

// Leadership is this candidate's term as leader. See [recipes.Holding]
// for Done, Context, Err, Path, Token, Guard and Multi; Resign ends it.
type Leadership struct {
	recipes.Holding
	h     *core.Hold
	value []byte
}

// Value returns the value this candidate campaigned with.
func (l *Leadership) Value() []byte { return l.value }

// Resign ends the term by deleting the candidate's node, so the next candidate
// leads. It retries through connection loss until ctx ends (then in the
// background). Resigning twice (or a nil Leadership) returns ErrNotHeld;
// resigning a lost leadership returns the cause, matching ErrLost.
func (l *Leadership) Resign(ctx context.Context) error {
	if l == nil { // misuse: a Resign deferred before Campaign's error was checked
		return fmt.Errorf("leader: resign: %w", ErrNotHeld)
	}
	return core.OrNone(l.h).Release(ctx)
}
