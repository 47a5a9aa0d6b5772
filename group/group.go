package group

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// ErrMemberExists is returned by Join for an id another member has.
var ErrMemberExists = errors.New("group: a member with this id exists")

// kazooParty ends the names of Kazoo's Party nodes.
const kazooParty = "__party__"

// Group is the group at one ZooKeeper path. It is cheap: no server call
// until one of its methods. A Group is safe for concurrent use.
type Group struct {
	s     *core.Session
	path  string
	kazoo bool // join as a Kazoo Party node
}

// Option configures a Group.
type Option func(*Group)

// WithKazooParty makes Join create Kazoo Party's node (a random name ending
// in __party__, the id as data; Kazoo has no payload) instead of Curator's.
func WithKazooParty() Option { return func(g *Group) { g.kazoo = true } }

// New returns the group at path on session s. It checks its arguments and
// makes no server call.
func New(s *recipes.Session, p string, opts ...Option) (*Group, error) {
	cs, err := core.Prepare(s, p)
	if err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	g := &Group{s: cs, path: p}
	core.Apply(g, opts)
	return g, nil
}

// Path returns the group's path.
func (g *Group) Path() string { return g.path }

// Member is one member as listed.
type Member struct {
	ID      string // Curator's node name; for a Kazoo Party node, its identifier
	Payload []byte // the node's data
	Session int64  // the session whose member it is
	Node    string // the node's name
}

// Join makes this session a member with id and payload, until Leave or
// the session's end. The id must be a valid node name (no "/"). It blocks
// until the server answers or ctx ends, trying again through connection
// loss; if ctx ends first, a node the request made is deleted (one made
// by a create whose answer the connection lost, once the connection is
// back, unless a later Join with the id takes it for its own first).
// Joining with an id another member has returns
// ErrMemberExists, but two Joins with one id on one Session, while the
// connection drops, may both take the node one of them made. Once the
// session is lost, Join returns an error matching ErrLost.
func (g *Group) Join(ctx context.Context, id string, payload []byte) (*Membership, error) {
	name, data := id, payload
	if g.kazoo {
		name, data = strings.ReplaceAll(uuid.NewString(), "-", "")+kazooParty, []byte(id)
	}
	p := path.Join(g.path, name)
	if strings.Contains(name, "/") || core.ValidatePath(p) != nil || path.Dir(p) != g.path {
		return nil, fmt.Errorf("group %s: join: %q is not a node name", g.path, id)
	}
	err := g.s.CreateEphemeral(ctx, p, data)
	switch {
	case errors.Is(err, zk.ErrNodeExists):
		return nil, fmt.Errorf("group %s: join %s: %w", g.path, id, ErrMemberExists)
	case err != nil:
		return nil, fmt.Errorf("group %s: join %s: %w", g.path, id, err)
	}
	m := &Membership{s: g.s, path: p, done: make(chan struct{})}
	if !g.s.Go(m.watch) { // the session ended since the create, and the member with it
		return nil, fmt.Errorf("group %s: join %s: %w", g.path, id, g.s.Err())
	}
	return m, nil
}

// Members returns the members, in node name order. It lists the group and
// reads every member's node, up to 64 reads in flight; a member gone
// meanwhile is left out, and one whose ACL forbids reading it has no
// payload (a Kazoo Party node then has its node name for ID, as one with
// an empty identifier does). A path that does not exist has none.
func (g *Group) Members(ctx context.Context) ([]Member, error) {
	ms, _, err := g.members(ctx, false)
	return ms, err
}

func (g *Group) members(ctx context.Context, watch bool) ([]Member, <-chan zk.Event, error) {
	type listing struct {
		names []string
		ch    <-chan zk.Event
	}
	l, err := core.Call(ctx, g.s, func(c *zk.Conn) (listing, error) {
		if !watch {
			n, _, err := c.Children(g.path)
			return listing{n, nil}, err
		}
		n, _, ch, err := c.ChildrenW(g.path)
		if errors.Is(err, zk.ErrNoNode) { // not made yet: watch for it
			var ok bool
			ok, _, ch, err = c.ExistsW(g.path)
			if err == nil && ok {
				err = errRelist
			} else if err == nil {
				err = zk.ErrNoNode
			}
		}
		return listing{n, ch}, err
	})
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return []Member{}, l.ch, nil
	case err != nil:
		return nil, l.ch, err
	}
	slices.Sort(l.names)
	paths := make([]string, len(l.names))
	for i, n := range l.names {
		paths[i] = path.Join(g.path, n)
	}
	got, err := g.s.ReadAll(ctx, paths)
	if err != nil {
		return nil, l.ch, fmt.Errorf("group %s: %w", g.path, err)
	}
	out := make([]Member, 0, len(l.names))
	for i, n := range l.names {
		if got[i] == nil {
			continue // left meanwhile
		}
		m := Member{ID: n, Payload: got[i].Data, Session: got[i].Stat.EphemeralOwner, Node: n}
		if strings.HasSuffix(n, kazooParty) && len(got[i].Data) > 0 {
			m.ID = string(got[i].Data)
		}
		out = append(out, m)
	}
	return out, l.ch, nil
}

var errRelist = errors.New("group: list again")

// Watch sends the membership, then the whole membership again after every
// change (a member joined or left), in order: each is listed after the one
// before it was, so a view is never older than one sent before it (changes
// that come close together may be sent as one). The channel holds the
// latest view for a slow reader, and closes when ctx ends, the session is
// lost, or a listing fails for another reason than a dropped connection
// (it lists again once the connection is back).
func (g *Group) Watch(ctx context.Context) <-chan []Member {
	out := make(chan []Member, 1)
	watch := func() {
		defer close(out)
		for {
			ms, ch, err := g.members(ctx, true)
			switch {
			case errors.Is(err, errRelist):
				continue
			case core.Retryable(err): // a dropped connection: list again once it is back
				if g.s.WaitConnected(ctx) != nil {
					return
				}
				continue
			case err != nil:
				return
			}
			select {
			case <-out: // unread: the newer view replaces it
			default:
			}
			out <- ms
			select {
			case <-ch:
			case <-ctx.Done():
				return
			case <-g.s.Done():
				return
			}
		}
	}
	if !g.s.Go(watch) {
		close(out)
	}
	return out
}

// Membership is this session's place in a group.
type Membership struct {
	s    *core.Session
	path string
	done chan struct{}
	once sync.Once
	gone atomic.Bool // the watch saw our node go: a node of the path now is another member's
}

// Path returns the member's node ("" for a nil Membership).
func (m *Membership) Path() string {
	if m == nil {
		return ""
	}
	return m.path
}

// Done returns a channel closed when the member is no longer in the group:
// it left, its node was deleted, or its session ended (was lost or
// closed). A suspended connection does not close it: the node stays while
// the session lives, though other members see it go if the session
// expires before this process hears of it. A nil Membership's is closed.
func (m *Membership) Done() <-chan struct{} {
	if m == nil {
		return core.Closed
	}
	return m.done
}

func (m *Membership) watch() {
	defer m.once.Do(func() { close(m.done) })
	for {
		type w struct {
			ok bool
			ch <-chan zk.Event
		}
		r, err := core.Call(context.Background(), m.s, func(c *zk.Conn) (w, error) {
			_, st, ch, err := c.GetW(m.path)
			if errors.Is(err, zk.ErrNoNode) {
				return w{}, nil
			}
			// A node of that name owned by another session (it joined with
			// our id once ours was gone) is not our membership.
			return w{err == nil && st.EphemeralOwner == m.s.ID(), ch}, err
		})
		switch {
		case core.Retryable(err):
			if m.s.WaitConnected(context.Background()) != nil {
				return
			}
			continue
		case err != nil:
			return
		case !r.ok:
			m.gone.Store(true)
			return
		}
		select {
		case ev := <-r.ch:
			if ev.Type == zk.EventNodeDeleted {
				m.gone.Store(true)
				return
			}
		case <-m.s.Done():
			return
		}
	}
}

// Leave deletes the member's node, retrying through connection loss until
// ctx ends (then in the background); Done closes. A node of the member's
// id that another session owns (made after ours was deleted) is left
// alone, and so is one this Session made since Done saw ours deleted (a
// replacement joined by another goroutine). Leave of a nil Membership
// returns an error matching recipes.ErrNotHeld.
func (m *Membership) Leave(ctx context.Context) error {
	if m == nil { // misuse: a Leave deferred before Join's error was checked
		return fmt.Errorf("group: leave: %w", recipes.ErrNotHeld)
	}
	if m.gone.Load() {
		m.once.Do(func() { close(m.done) })
		return nil
	}
	err := m.s.DeleteEphemeral(ctx, m.path)
	m.once.Do(func() { close(m.done) })
	return err
}
