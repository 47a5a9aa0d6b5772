package group_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/group"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

func ids(ms []group.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestJoinListLeave(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t)
	g, err := group.New(s, path)
	require.NoError(t, err)
	none, err := g.Members(ctx)
	require.NoError(t, err)
	assert.Empty(t, none, "a group that does not exist has no members")
	a, err := g.Join(ctx, "a", []byte("payload a"))
	require.NoError(t, err)
	assert.Equal(t, path+"/a", a.Path(), "Curator's GroupMember layout")
	_, err = g.Join(ctx, "a", nil)
	assert.ErrorIs(t, err, group.ErrMemberExists)
	_, err = g.Join(ctx, "x/y", nil)
	assert.Error(t, err)
	other, err := group.New(session(t), path)
	require.NoError(t, err)
	b, err := other.Join(ctx, "b", []byte("payload b"))
	require.NoError(t, err)
	ms, err := g.Members(ctx)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	assert.Equal(t, group.Member{ID: "a", Payload: []byte("payload a"), Session: s.ID(), Node: "a"}, ms[0])
	assert.Equal(t, "b", ms[1].ID)
	require.NoError(t, b.Leave(ctx))
	<-b.Done()
	ms, err = g.Members(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, ids(ms))
	select {
	case <-a.Done():
		t.Fatal("a member that stayed is told it left")
	default:
	}
}

// TestLeaveAfterTheNodeWasReplacedLeavesTheNewMember: an operator deletes
// a member's node, and a replacement joins under the same id, from
// another process or from a goroutine of the same one (a supervisor),
// before the first member calls its (deferred) Leave. That Leave must not
// take the replacement out: before, it deleted whatever node had the id,
// and then still whatever node of the id its own Session owned.
func TestLeaveAfterTheNodeWasReplacedLeavesTheNewMember(t *testing.T) {
	for _, tt := range []struct {
		name string
		same bool // the replacement joins on the first member's Session
	}{{"another session", false}, {"the same session", true}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			path := testPath(t)
			first := session(t)
			g, err := group.New(first, path)
			require.NoError(t, err)
			old, err := g.Join(ctx, "worker-1", []byte("old"))
			require.NoError(t, err)
			operator := session(t)
			require.NoError(t, operator.Conn().Delete(old.Path(), -1))
			<-old.Done()

			s := first
			if !tt.same {
				s = session(t)
			}
			replacement, err := group.New(s, path)
			require.NoError(t, err)
			now, err := replacement.Join(ctx, "worker-1", []byte("new"))
			require.NoError(t, err)
			require.NoError(t, old.Leave(ctx))

			ms, err := replacement.Members(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"worker-1"}, ids(ms), "the old member's Leave took the replacement out")
			assert.Equal(t, s.ID(), ms[0].Session)
			assert.Equal(t, "new", string(ms[0].Payload))
			select {
			case <-now.Done():
				t.Fatal("the replacement is told it left")
			default:
			}
		})
	}
}

// TestNoGoroutineOfTheGroupOutlivesClose: a membership's watch and a
// Watch end before the Session's Close returns. Before, they ended
// whenever they next ran, after Close had returned.
func TestNoGoroutineOfTheGroupOutlivesClose(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	s := session(t)
	g, err := group.New(s, testPath(t))
	require.NoError(t, err)
	_, err = g.Join(ctx, "a", nil)
	require.NoError(t, err)
	views := g.Watch(ctx)
	<-views
	require.NoError(t, s.Close())
	assert.Zero(t, testutil.Goroutines("group.(*Membership).watch"), "a membership's watch")
	assert.Zero(t, testutil.Goroutines("group.(*Group).Watch"), "a Watch")
}

// TestWatchDeliversEveryMembershipInOrder: members join one after another
// and then leave in the same order; every view the watcher gets is one of
// the states the group went through, in the order it went through them
// (it may skip states that came close together, and send one again after
// a change that left the members as they were), down to the empty group.
//
// The group starts with a member, a, that leaves last: a watcher may get
// only the last view (it keeps the latest for a slow reader), and had the
// group started empty, that view would be the first state as much as the
// last. It was: the test took the last view for the first and waited for
// the last until its deadline, whenever it read the views after the
// members had left.
func TestWatchDeliversEveryMembershipInOrder(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	g, err := group.New(session(t), path)
	require.NoError(t, err)
	a, err := g.Join(ctx, "a", nil)
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := g.Watch(wctx)
	names := []string{"a"}
	states := [][]string{slices.Clone(names)} // in order
	var joined []*group.Membership
	for i := range 5 {
		m, err := group.New(session(t), path)
		require.NoError(t, err)
		id := fmt.Sprintf("m%d", i)
		j, err := m.Join(ctx, id, nil)
		require.NoError(t, err)
		joined = append(joined, j)
		names = append(names, id)
		states = append(states, slices.Clone(names))
	}
	for i, j := range joined {
		require.NoError(t, j.Leave(ctx))
		states = append(states, append([]string{"a"}, names[i+2:]...))
	}
	require.NoError(t, a.Leave(ctx))
	states = append(states, nil)
	at := 0
	for at < len(states)-1 {
		select {
		case v, ok := <-w:
			require.True(t, ok, "the watch ended at state %d", at)
			got := ids(v)
			next := slices.IndexFunc(states[at:], func(s []string) bool { return slices.Equal(s, got) })
			require.GreaterOrEqual(t, next, 0, "view %v is not a state after %v", got, states[at])
			at += next
		case <-ctx.Done():
			t.Fatalf("never saw the group empty again; at state %d", at)
		}
	}
}

// TestASessionsEndTakesItsMemberOut: a member whose session is closed
// leaves the group, and its Done closes.
func TestASessionsEndTakesItsMemberOut(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t)
	g, err := group.New(s, path)
	require.NoError(t, err)
	m, err := g.Join(ctx, "leaving", nil)
	require.NoError(t, err)
	watcher, err := group.New(session(t), path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	select {
	case <-m.Done():
	case <-ctx.Done():
		t.Fatal("Done did not close with the session")
	}
	require.NoError(t, waitFor(ctx, func() bool { ms, err := watcher.Members(ctx); return err == nil && len(ms) == 0 }))
}

// TestARefusedJoinLeavesTheMemberToTheSessionsEnd: on a Session over the
// application's connection, a second Join of an id this Session is a
// member with is refused, and the member it has still goes when the
// Session closes, the connection living on. Before, the refused create
// made the Session forget the name, and the member stayed on the
// connection's session for its life: a ghost.
func TestARefusedJoinLeavesTheMemberToTheSessionsEnd(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s, conn := testutil.Wrapped(t, ctx, cluster.Servers())
	g, err := group.New(s, path)
	require.NoError(t, err)
	_, err = g.Join(ctx, "a", nil)
	require.NoError(t, err)
	_, err = g.Join(ctx, "a", nil)
	require.ErrorIs(t, err, group.ErrMemberExists)
	require.NoError(t, s.Close())
	ok, _, err := conn.Exists(path + "/a")
	require.NoError(t, err)
	assert.False(t, ok, "the member outlived its Session")
}

// TestARefusedJoinLeavesTheApplicationsNodeAlone: on a Session over the
// application's connection, a Join refused because the application made
// a node of that id itself, on the same connection (so on the same
// ZooKeeper session), leaves that node alone when the Session closes.
func TestARefusedJoinLeavesTheApplicationsNodeAlone(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s, conn := testutil.Wrapped(t, ctx, cluster.Servers())
	g, err := group.New(s, path)
	require.NoError(t, err)
	_, err = g.Join(ctx, "other", nil) // makes the path
	require.NoError(t, err)
	_, err = conn.Create(path+"/host1", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = g.Join(ctx, "host1", nil)
	require.ErrorIs(t, err, group.ErrMemberExists)
	require.NoError(t, s.Close())
	ok, _, err := conn.Exists(path + "/host1")
	require.NoError(t, err)
	assert.True(t, ok, "the Session deleted the application's node")
}

// TestKazooPartyNodesAreMembers: Kazoo's Party nodes count, by their
// identifier; WithKazooParty joins as one.
func TestKazooPartyNodesAreMembers(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t)
	g, err := group.New(s, path, group.WithKazooParty())
	require.NoError(t, err)
	m, err := g.Join(ctx, "go-1", nil)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(m.Path(), "__party__"))
	data, _, err := s.Conn().Get(m.Path())
	require.NoError(t, err)
	assert.Equal(t, "go-1", string(data), "Kazoo reads the identifier from the data")
	_, err = s.Conn().Create(path+"/0123456789abcdef0123456789abcdef__party__", []byte("py-1"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	ms, err := g.Members(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"go-1", "py-1"}, ids(ms))
}

// TestANilMembershipIsNotAMember: a Leave deferred before Join's error was
// checked, and the other methods of a nil Membership, say there is no
// membership instead of panicking.
func TestANilMembershipIsNotAMember(t *testing.T) {
	var m *group.Membership
	assert.ErrorIs(t, m.Leave(context.Background()), recipes.ErrNotHeld)
	assert.Empty(t, m.Path())
	select {
	case <-m.Done():
	default:
		t.Fatal("a nil Membership's Done is open")
	}
}

// TestAMemberNobodyMayReadIsListed: a member whose node's ACL forbids us
// to read it (another service's, made with its own ACL) is listed, with
// no payload. Before, it failed the whole listing with ErrNoAuth.
func TestAMemberNobodyMayReadIsListed(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t)
	g, err := group.New(s, path)
	require.NoError(t, err)
	_, err = g.Join(ctx, "open", []byte("payload"))
	require.NoError(t, err)
	private := session(t)
	_, err = private.Conn().Create(path+"/private", []byte("secret"), zk.FlagEphemeral, zk.DigestACL(zk.PermAll, "someone", "secret"))
	require.NoError(t, err)
	ms, err := g.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"open", "private"}, ids(ms))
	assert.Equal(t, "payload", string(ms[0].Payload))
	assert.Empty(t, ms[1].Payload)
	assert.Equal(t, private.ID(), ms[1].Session)
}
