package core

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
)

// Queue is the sequential-node queue at one recipe path, shared by every
// recipe: contenders create ephemeral sequential children, and a contender
// holds once no node ahead of it blocks it under the queue's rule.
//
// A waiter sets up to three watches (see [waiter]): on the nearest
// blocking node ahead, on the blocker before that one, and on its own
// node. Under a rule where every node ahead blocks (a mutex, an election)
// each node is watched by at most two waiters, so one release wakes no
// herd; under the read-write rule every reader behind a writer watches
// it, and each is granted by its release.
//
// The parent is created on demand as a CONTAINER node, which the server
// deletes once it is empty. A Queue is safe for concurrent use.
type Queue struct {
	s       *Session
	path    string
	markers []Marker
	rule    BlockRule
	yields  YieldRule
	// unlisted: no listing behind a create (see Unlisted)
	unlisted bool
	maxHold  time.Duration // declared by every hold (see WithMaxHold)
	// unwatched: no hold watches its own node (see Unwatched)
	unwatched bool
	measure   *Measure // nil: not measured (see Measured)
	// listKey names the queue among the Session's listers: every Queue
	// value of one path and markers shares listings
	listKey string
}

// YieldRule reports whether other, which blocks me by name, lets me pass
// after all, judged by what its node holds (for the read-write lock: a
// write holder that downgraded to read marks its node). Called with a nil
// read, it reports whether other could yield at all, so that a try reads
// no node of a blocker that never yields.
type YieldRule func(me, other Node, r *Read) bool

// Read is what a read of a node gave: its data and stat.
type Read struct {
	Data []byte
	Stat *zk.Stat
}

// QueueOption configures a [Queue].
type QueueOption func(*Queue)

// WithYieldRule lets blockers yield by what their nodes hold; see
// [YieldRule]. By
// default no blocker yields.
func WithYieldRule(r YieldRule) QueueOption { return func(q *Queue) { q.yields = r } }

// WithMaxHold makes every hold of the queue declare a max hold of d in its
// node's data, and end d after its grant (see EvictionMargin).
func WithMaxHold(d time.Duration) QueueOption { return func(q *Queue) { q.maxHold = d } }

// Unwatched is for a queue whose holds are short and matter only while
// their session does (the mutex a semaphore's acquirers take turns on):
// neither a waiter nor a hold watches its own node, which saves a request
// per acquisition. Such a hold still ends with its session, or its
// connection's suspension, but not when its node alone is deleted.
func Unwatched() QueueOption { return func(q *Queue) { q.unwatched = true } }

// Unlisted is for a queue whose nodes are made with Join and never waited
// on in turn (a semaphore's leases): no listing goes out behind a create.
func Unlisted() QueueOption { return func(q *Queue) { q.unlisted = true } }

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
	names := []string{path}
	for _, m := range all {
		names = append(names, m.Name, strconv.Itoa(int(m.Role)))
	}
	q := &Queue{s: s, path: path, markers: all, rule: rule, listKey: strings.Join(names, "\x00")}
	Apply(q, opts)
	if q.maxHold < 0 {
		return nil, fmt.Errorf("max hold %v: want a positive duration", q.maxHold)
	}
	return q, nil
}

// Path returns the queue's path.
func (q *Queue) Path() string { return q.path }

// Session returns the queue's session.
func (q *Queue) Session() *Session { return q.s }

// Acquire joins the queue as a contender named with m, whose node holds
// data (nil: the session's identity, Config.Identity; with WithMaxHold,
// declaring the max hold too, and the hold ends that long after its
// grant), and, if wait is true, blocks until nothing ahead blocks it; if wait is false and
// something does, it returns ErrWouldBlock at once. If ctx ends first it
// removes its node and returns ctx.Err(). On every error the node is
// removed (in the background if the connection is down).
func (q *Queue) Acquire(ctx context.Context, m Marker, wait bool, data []byte) (*Hold, error) {
	ctx, op := q.Begin(ctx)
	h, err := q.acquire(ctx, m, wait, data)
	if err != nil {
		err = CtxErr(ctx, err)
		op.End(err)
		return nil, err
	}
	op.End(nil, h)
	return h, nil
}

func (q *Queue) acquire(ctx context.Context, m Marker, wait bool, data []byte) (*Hold, error) {
	if data == nil {
		data = q.s.cfg.Identity
	}
	if err := ownData(data); err != nil {
		return nil, q.wrap(err)
	}
	own, first, err := q.enter(ctx, m, declare(data, q.maxHold, 0))
	if err != nil {
		return nil, err
	}
	h, err := q.await(ctx, own, first, wait, data)
	if err != nil {
		// Ours by its protected id, even when another session owns it.
		q.s.abandon(own)
		return nil, err
	}
	return h, nil
}

// enter makes a contender's node, named with m and holding data (nil:
// the session's identity), unless ctx or the session has ended already.
func (q *Queue) enter(ctx context.Context, m Marker, data []byte) (string, created, error) {
	if err := ctx.Err(); err != nil {
		return "", created{}, err
	}
	if err := q.s.accepting(); err != nil {
		return "", created{}, err
	}
	prefix := q.path + "/" + ProtectedName(uuid.NewString(), m)
	if data == nil {
		data = q.s.cfg.Identity
	}
	own, first, err := q.create(ctx, prefix, data)
	if err != nil {
		q.s.untrack(prefix) // unless a create is in flight, whose cleanup untracks it
	}
	return own, first, err
}

// created is what the create of our node already told: the node's Czxid
// (0 if unknown) and the listing asked for right behind the create (nil
// if none): sent at once, or shared with the queue's other waiters (see
// listers). See [createTap].
type created struct {
	token   int64
	listing *listing
}

// create makes our node. A create whose reply was lost may still have
// happened, so before trying again it looks for our protected name among
// the children. If ctx ends meanwhile, what the create left is deleted in
// the background.
func (q *Queue) create(ctx context.Context, prefix string, data []byte) (string, created, error) {
	s := q.s
	base := path.Base(prefix)
	unknown := false // a create may have happened without our hearing of it
	retried := false // a create was sent again after one whose outcome is unknown
	for {
		if unknown {
			if err := s.waitConnected(ctx); err != nil {
				s.Cleanup("remove "+prefix, s.removeTask(prefix))
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
				s.Cleanup("remove "+prefix, s.removeTask(prefix))
				return "", created{}, err
			}
			unknown = false
		}
		p, c, err := q.createNode(ctx, prefix, data)
		switch {
		case err == nil:
			if retried {
				q.removeTwins(ctx, prefix, p)
			}
			return p, c, nil
		case errors.Is(err, zk.ErrNoNode):
			if err := q.s.CreateParents(ctx, q.path); err != nil {
				return "", created{}, err
			}
		case retryable(err):
			unknown, retried = true, true
		default:
			return "", created{}, err
		}
	}
}

// removeTwins deletes the nodes with our prefix other than own: a create
// whose outcome was unknown, and that a listing on a lagging server missed
// before we sent it again, may have made one. Once the create sent again
// is answered, the server that answered has applied the first, so a
// listing now shows it. What it cannot delete now, a background cleanup
// does.
func (q *Queue) removeTwins(ctx context.Context, prefix, own string) {
	s := q.s
	base := path.Base(prefix)
	task := func(ctx context.Context) error {
		children, err := q.children(ctx)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		for _, c := range children {
			if p := q.path + "/" + c; err == nil && p != own && ourName(c, base) {
				if _, derr := call(ctx, s, func() (struct{}, error) { return struct{}{}, s.Conn().Delete(p, -1) }); derr != nil && !errors.Is(derr, zk.ErrNoNode) {
					err = derr
				}
			}
		}
		return err
	}
	if err := task(ctx); err != nil {
		s.Cleanup("remove twins of "+own, task)
	}
}

// createNode issues the create. If ctx ends first, the request still
// completes, and whatever it made is then removed in the background. On a
// tapped connection the listing is asked for right behind the create
// (see nextListing), and the reply gives the token.
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
	if tapped != nil && !q.unlisted {
		select {
		case <-tapped.sent:
			c.listing = q.nextListing() // await reads it, or gives up on ctx
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

// gone explains why our node vanished while we waited.
func (q *Queue) gone() error {
	if err := q.s.Err(); err != nil {
		return q.wrap(err)
	}
	return q.wrap(ErrNodeDeleted)
}

// ownData refuses a contender's data (its value or identity) that others
// would read as something it is not: a revocation request, which its own
// hold would answer by writing the same data back for as long as it
// held; or a max-hold declaration the holder never made, which waiters
// would enforce by deleting its node.
func ownData(data []byte) error {
	switch _, declared := declaration(data); {
	case isRevokeRequest(data):
		return fmt.Errorf("data %q is a revocation request", data)
	case declared:
		return fmt.Errorf("data %q declares a max hold (%s)", data, maxHoldTag)
	}
	return nil
}

// wrap says which queue an error of an acquisition comes from.
func (q *Queue) wrap(err error) error { return fmt.Errorf("acquire %s: %w", q.path, err) }
