package group_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/group"
	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

var quiet = recipes.WithLogger(slog.New(slog.DiscardHandler))

// joinAcrossExpiry has n goroutines join, half as Curator's members
// (through g), half as Kazoo's Party nodes (through kazoo), across an
// expiry of s, and returns their errors. A member that joins is left in
// place, for the test to find.
func joinAcrossExpiry(t *testing.T, ctx context.Context, r testutil.Reconnect, p *zktest.Proxy, s *recipes.Session, g, kazoo *group.Group, n int) []error {
	t.Helper()
	return testutil.QueueAcrossExpiry(t, ctx, cluster, r, p, s, n, []string{"Create"}, func(i int) error {
		in := g
		if i%2 == 1 {
			in = kazoo
		}
		_, err := in.Join(ctx, fmt.Sprintf("queued-%d", i), []byte("payload"))
		return err
	})
}

// closes waits until ch closes, draining it.
func closes[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) {
	t.Helper()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatalf("%s did not close", what)
		}
	}
}

// elsewhere is a member that another session keeps in the group, as
// other replicas do: the group's node stays, and what a request queued
// across the expiry makes in it stays too, unless deleted.
func elsewhere(t *testing.T, ctx context.Context, path string) *group.Group {
	t.Helper()
	other, err := group.New(testutil.Session(t, cluster.Servers()), path)
	require.NoError(t, err)
	_, err = other.Join(ctx, "elsewhere", nil)
	require.NoError(t, err)
	return other
}

// behindProxy returns a group at path on a Session whose connection goes
// through a proxy of its own, that Session and the proxy, and the group
// as another Session sees it, with a member of its own (see elsewhere).
func behindProxy(t *testing.T, ctx context.Context, path string) (*group.Group, *recipes.Session, *zktest.Proxy, *group.Group) {
	t.Helper()
	p := testutil.Proxy(t, cluster)
	other := elsewhere(t, ctx, path)
	s := testutil.Session(t, p.Servers(), recipes.WithSessionTimeout(4*time.Second), quiet)
	g, err := group.New(s, path)
	require.NoError(t, err)
	return g, s, p, other
}

// joinCancelledCutOff has g (on s, behind p) join as id with the
// servers' replies cut off, and cancels the Join once its create has
// reached the server (other sees the member) and s is suspended; the
// replies stay cut off.
func joinCancelledCutOff(t *testing.T, ctx context.Context, g *group.Group, s *recipes.Session, p *zktest.Proxy, other *group.Group, id string) {
	t.Helper()
	p.BlackholeReplies()
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := g.Join(jctx, id, []byte("payload"))
		done <- err
	}()
	require.NoError(t, waitFor(ctx, func() bool {
		ms, err := other.Members(ctx)
		return err == nil && len(ms) == 2
	}), "the create did not reach the server")
	require.NoError(t, waitFor(ctx, func() bool { return s.State() == recipes.StateSuspended }))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// membersLeft returns the ids of the group's members as other lists them,
// once only "elsewhere" is left, or after a few seconds: a Session over
// the application's connection deletes its nodes in the background.
func membersLeft(t *testing.T, ctx context.Context, other *group.Group) []string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var last []group.Member
	var err error
	waitFor(wctx, func() bool {
		last, err = other.Members(ctx)
		return err == nil && len(last) == 1
	})
	require.NoError(t, err)
	return ids(last)
}

// TestJoinsQueuedAcrossAnExpiryFailAndLeaveNoMember: goroutines sharing a
// Session join while it is cut off, and its session expires meanwhile.
// Every Join fails with an error matching ErrLost (ErrSessionLost on a
// Session made by Connect; before the fix, a Join whose create the
// connection failed before the expiry was known returned "zk: could not
// connect to a server"). None of their creates leaves a node under the
// session go-zookeeper opens in place of the expired one (on the
// application's own connection, it sends what was queued under that new
// session: before the fix, the group then listed, for as long as the
// connection lived, members that no one is). A membership taken before the
// loss, and a Watch, end with it; the application's connection stays open.
func TestJoinsQueuedAcrossAnExpiryFailAndLeaveNoMember(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(map[bool]string{false: "connect", true: "wrapped"}[wrap], func(t *testing.T) {
			testutil.ForReconnects(t, func(t *testing.T, r testutil.Reconnect) {
				ctx := ctxFor(t, time.Minute)
				path := testPath(t)
				p := testutil.Proxy(t, cluster)
				other := elsewhere(t, ctx, path)
				var s *recipes.Session
				var conn *zk.Conn
				if wrap {
					s, conn = testutil.Wrapped(t, ctx, r.Servers(p), recipes.WithSessionTimeout(2*time.Second))
				} else {
					s = testutil.Session(t, r.Servers(p), recipes.WithSessionTimeout(2*time.Second), quiet)
				}
				g, err := group.New(s, path)
				require.NoError(t, err)
				kazoo, err := group.New(s, path, group.WithKazooParty())
				require.NoError(t, err)
				before, err := g.Join(ctx, "before", nil)
				require.NoError(t, err)
				w := g.Watch(ctx)
				require.Equal(t, []string{"before", "elsewhere"}, ids(<-w))

				for i, err := range joinAcrossExpiry(t, ctx, r, p, s, g, kazoo, 6) {
					assert.ErrorIs(t, err, recipes.ErrLost, "join %d", i)
					if !wrap {
						assert.ErrorIs(t, err, recipes.ErrSessionLost, "join %d", i)
					}
				}
				require.NoError(t, waitFor(ctx, func() bool { return s.Err() != nil }))
				assert.ErrorIs(t, s.Err(), recipes.ErrSessionLost)
				select {
				case <-before.Done():
				case <-ctx.Done():
					t.Fatal("a membership outlived its session")
				}
				closes(t, ctx, w, "the watch of a lost session")
				assert.Equal(t, []string{"elsewhere"}, membersLeft(t, ctx, other), "a member outlived its session, or joined under another")
				if wrap {
					assert.Equal(t, zk.StateHasSession, conn.State(), "the application's connection was closed")
				}
			})
		})
	}
}

// TestWrappedSessionJoinsAfterTheConnectionMovedOnLeaveNoMember: the
// application's connection has a new session already, and the Session has
// not polled it yet. Joins in that window fail with ErrLost and make no
// member under the connection's new session.
func TestWrappedSessionJoinsAfterTheConnectionMovedOnLeaveNoMember(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	p := testutil.Proxy(t, cluster)
	other := elsewhere(t, ctx, path)
	s, conn := testutil.Wrapped(t, ctx, p.Servers(), recipes.WithSessionTimeout(2*time.Second), recipes.WithPollInterval(5*time.Second))
	sid := s.ID()
	g, err := group.New(s, path)
	require.NoError(t, err)
	kazoo, err := group.New(s, path, group.WithKazooParty())
	require.NoError(t, err)
	testutil.ReplaceSession(t, ctx, cluster, p, conn, sid)
	var wg sync.WaitGroup
	for i := range 6 {
		in := g
		if i%2 == 1 {
			in = kazoo
		}
		wg.Go(func() {
			_, err := in.Join(ctx, fmt.Sprintf("late-%d", i), nil)
			assert.ErrorIs(t, err, recipes.ErrLost, "join %d", i)
		})
	}
	wg.Wait()
	assert.ErrorIs(t, s.Err(), recipes.ErrSessionLost)
	assert.Equal(t, []string{"elsewhere"}, membersLeft(t, ctx, other), "a member joined under the connection's new session")
}

// TestJoinWhoseReplyIsLostIsAMember: the create of a Join reaches the
// server, and its reply is lost with the connection; the session lives
// on. Join returns the membership of the node it made (before the fix it
// returned "zk: connection closed", and the node stayed in the group, a
// member that no Membership could Leave, for as long as the session
// lived), and Leave takes it out.
func TestJoinWhoseReplyIsLostIsAMember(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	g, s, p, other := behindProxy(t, ctx, testPath(t))

	p.BlackholeReplies()
	type joined struct {
		m   *group.Membership
		err error
	}
	done := make(chan joined, 1)
	go func() {
		m, err := g.Join(ctx, "in-flight", []byte("payload"))
		done <- joined{m, err}
	}()
	require.NoError(t, waitFor(ctx, func() bool {
		ms, err := other.Members(ctx)
		return err == nil && len(ms) == 2
	}), "the create did not reach the server")
	require.NoError(t, waitFor(ctx, func() bool { return s.State() == recipes.StateSuspended }))
	p.Heal()
	j := <-done
	require.NoError(t, j.err)
	require.NoError(t, s.Err(), "the session did not live on")
	ms, err := other.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"elsewhere", "in-flight"}, ids(ms))
	assert.Equal(t, s.ID(), ms[1].Session)
	assert.Equal(t, testPath(t)+"/in-flight", j.m.Path())
	require.NoError(t, j.m.Leave(ctx))
	assert.Equal(t, []string{"elsewhere"}, membersLeft(t, ctx, other), "Leave left the member")
}

// TestJoinCancelledAfterItsReplyWasLostLeavesNoMember: a Join's create
// reaches the server and its reply is lost with the connection; Join's
// ctx ends while the connection is down. Join returns ctx.Err(), and once
// the connection is back, the session (which lived on) has no member in
// the group: before, the node stayed for as long as the session lived, a
// member no Membership could Leave (and a partition party node made so
// kept its id from ever joining again on that Session).
func TestJoinCancelledAfterItsReplyWasLostLeavesNoMember(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	g, s, p, other := behindProxy(t, ctx, testPath(t))

	joinCancelledCutOff(t, ctx, g, s, p, other, "in-flight")
	p.Heal()
	require.NoError(t, s.WaitConnected(ctx))
	require.NoError(t, s.Err(), "the session did not live on")
	assert.Equal(t, []string{"elsewhere"}, membersLeft(t, ctx, other), "the member whose Join was cancelled stayed")
}

// TestAJoinRetriedAfterALostAnswerTakesUpTheNode: a Join's create reaches
// the server, its answer is lost, and its ctx ends while the connection is
// down; the application joins again with the same id before the
// connection is back. The second Join takes the node the first made for
// its own, and the background deletion of that node, due to the first,
// leaves it alone. Before, the second Join failed with ErrMemberExists
// (or, had the deletion come first, its member was deleted under it).
func TestAJoinRetriedAfterALostAnswerTakesUpTheNode(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	g, s, p, other := behindProxy(t, ctx, path)
	joinCancelledCutOff(t, ctx, g, s, p, other, "retried")
	node := path + "/retried"
	direct := testutil.Session(t, cluster.Servers())
	_, first, err := direct.Conn().Exists(node)
	require.NoError(t, err)

	type joined struct {
		m   *group.Membership
		err error
	}
	again := make(chan joined, 1)
	go func() {
		m, err := g.Join(ctx, "retried", []byte("payload"))
		again <- joined{m, err}
	}()
	// The second Join has taken the doubt over, and waits for the answer
	// to its create, when the connection comes back.
	require.NoError(t, waitFor(ctx, func() bool {
		return testutil.Goroutines("core.(*Session).CreateEphemeral", "core.(*Session).createOnce") == 1
	}), "the second Join never sent its create")
	p.Heal()
	j := <-again
	require.NoError(t, j.err, "the retried Join")
	require.NoError(t, s.Err())
	ms, err := other.Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"elsewhere", "retried"}, ids(ms))
	assert.Equal(t, s.ID(), ms[1].Session)
	// The deletion due to the first Join has run (it runs once the
	// connection is back), and left the node, which is the first one.
	require.NoError(t, waitFor(ctx, func() bool { return testutil.Goroutines("core.(*Session).doubt") == 0 }))
	select {
	case <-j.m.Done():
		t.Fatal("the retried member was deleted")
	default:
	}
	_, now, err := direct.Conn().Exists(node)
	require.NoError(t, err)
	assert.Equal(t, first.Czxid, now.Czxid, "the second Join made a node of its own: the first was deleted")
	require.NoError(t, j.m.Leave(ctx))
}

// TestAMemberMadeUnderTheNewSessionGoesThroughAnotherDrop: on the
// application's own connection, a Join queued across the expiry goes out
// under the session go-zookeeper opens in place of ours, and the
// connection drops again just as the Session reads the node to delete it.
// The node is still deleted, once the connection is back: before, that one
// try was all, and the member stayed for as long as the connection lived.
func TestAMemberMadeUnderTheNewSessionGoesThroughAnotherDrop(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	p := testutil.Proxy(t, cluster)
	other := elsewhere(t, ctx, path)
	var drop atomic.Bool
	dial := testutil.FailWrite(3, &drop) // exists
	three := testutil.Reconnects[1]      // requests queued across the expiry go out under the new session
	require.Equal(t, "three addresses", three.Name)
	conn, _, err := zk.Connect(three.Servers(p), 2*time.Second, zk.WithDialer(dial), zk.WithLogInfo(false), zk.WithLogger(testutil.ZKQuiet{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	s, err := recipes.NewSession(ctx, conn, recipes.WithSessionTimeout(2*time.Second), quiet)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	g, err := group.New(s, path)
	require.NoError(t, err)

	drop.Store(true)
	for _, err := range testutil.QueueAcrossExpiry(t, ctx, cluster, three, p, s, 1, []string{"Create"}, func(int) error {
		_, err := g.Join(ctx, "queued", nil)
		return err
	}) {
		assert.ErrorIs(t, err, recipes.ErrLost)
	}
	require.False(t, drop.Load(), "the connection did not drop at the read")
	assert.Equal(t, []string{"elsewhere"}, membersLeft(t, ctx, other), "the member made under the new session stayed")
	assert.Equal(t, zk.StateHasSession, conn.State(), "the application's connection was closed")
}
