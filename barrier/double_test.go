package barrier_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/internal/wiretest"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestMembersEnterAndLeaveTogetherManyRounds: nobody passes Enter before
// the N-th member has arrived, nobody passes Leave before the last one has
// started to leave, round after round on one path, and nothing is left.
func TestMembersEnterAndLeaveTogetherManyRounds(t *testing.T) {
	const n, rounds = 4, 6
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	var arrived, leaving [rounds]atomic.Int32
	var wg sync.WaitGroup
	for range n {
		d, err := barrier.NewDouble(session(t), path, n)
		require.NoError(t, err)
		wg.Go(func() {
			for r := range rounds {
				arrived[r].Add(1)
				if !assert.NoError(t, d.Enter(ctx)) {
					return
				}
				assert.EqualValues(t, n, arrived[r].Load(), "round %d: passed Enter before all arrived", r)
				time.Sleep(time.Millisecond) // the phase's work
				leaving[r].Add(1)
				if !assert.NoError(t, d.Leave(ctx)) {
					return
				}
				assert.EqualValues(t, n, leaving[r].Load(), "round %d: passed Leave before all left", r)
			}
		})
	}
	wg.Wait()
	observer := session(t)
	assert.Empty(t, children(t, observer, path), "nodes left behind")
}

// TestMemberKilledWhileEnteringLeavesTheCountAndAFreshMemberCompletes: of
// three members, two are waiting when one of them dies; the count drops,
// nobody passes, a waiter's deadline still ends its wait, and two fresh
// members complete the round with the survivor.
func TestMemberKilledWhileEnteringLeavesTheCountAndAFreshMemberCompletes(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	const n = 3
	observer := session(t)
	count := func(k int) {
		t.Helper()
		require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == k }))
	}
	survivor, err := barrier.NewDouble(session(t), path, n)
	require.NoError(t, err)
	entered := make(chan error, 1)
	go func() { entered <- survivor.Enter(ctx) }()
	doomed := session(t)
	dd, err := barrier.NewDouble(doomed, path, n)
	require.NoError(t, err)
	doomedDone := make(chan error, 1)
	go func() { doomedDone <- dd.Enter(ctx) }()
	count(2)
	require.NoError(t, cluster.ExpireSession(ctx, doomed.ID()))
	assert.Error(t, <-doomedDone, "the dead member's Enter")
	count(1)

	// A waiter is not stuck forever: its deadline ends its wait.
	impatient, err := barrier.NewDouble(session(t), path, n)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, impatient.Enter(short), context.DeadlineExceeded)
	assert.Len(t, entered, 0, "passed with a dead member counted")

	var wg sync.WaitGroup
	fresh := []*barrier.DoubleBarrier{}
	for range 2 {
		f, err := barrier.NewDouble(session(t), path, n)
		require.NoError(t, err)
		fresh = append(fresh, f)
		wg.Go(func() { assert.NoError(t, f.Enter(ctx)) })
	}
	wg.Wait()
	require.NoError(t, <-entered)
	for _, d := range append(fresh, survivor) {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	assert.Empty(t, children(t, observer, path))
}

func TestMemberKilledMidPhaseLetsTheOthersLeave(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	const n = 3
	var members []*barrier.DoubleBarrier
	var sessions []*recipes.Session
	for range n {
		s := session(t)
		d, err := barrier.NewDouble(s, path, n)
		require.NoError(t, err)
		members = append(members, d)
		sessions = append(sessions, s)
	}
	var wg sync.WaitGroup
	for _, d := range members {
		wg.Go(func() { assert.NoError(t, d.Enter(ctx)) })
	}
	wg.Wait()
	require.NoError(t, cluster.ExpireSession(ctx, sessions[0].ID()))
	for _, d := range members[1:] {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	assert.Empty(t, children(t, session(t), path))
}

// TestCancelledEnterRemovesItsNode: Enter cancelled while it waits
// returns ctx.Err(), and its member node goes (in the background: its ctx
// has ended).
func TestCancelledEnterRemovesItsNode(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	observer := session(t)
	d, err := barrier.NewDouble(session(t), path, 2)
	require.NoError(t, err)
	ectx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Enter(ectx) }()
	require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == 1 }))
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	wctx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	assert.NoError(t, waitFor(wctx, func() bool { return len(children(t, observer, path)) == 0 }), "the member node stayed")
}

func TestTooManyMembersIsAnError(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	var wg sync.WaitGroup
	var in []*barrier.DoubleBarrier
	for range 2 {
		d, err := barrier.NewDouble(session(t), path, 2)
		require.NoError(t, err)
		in = append(in, d)
		wg.Go(func() { assert.NoError(t, d.Enter(ctx)) })
	}
	wg.Wait()
	extra, err := barrier.NewDouble(session(t), path, 2)
	require.NoError(t, err)
	assert.ErrorIs(t, extra.Enter(ctx), barrier.ErrTooManyMembers)
	for _, d := range in {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	assert.Empty(t, children(t, session(t), path))
}

// TestMembersThatEnterTogetherAreRefusedByArrival: of more than N members
// that enter together, the first N pass, whatever each counted. Here the
// second member's first count is held until a third member's node exists:
// it sees three members for a barrier of two, yet it came second, so it
// passes, as the first did on counting it. (Refusing everyone who counted
// more than N let the first member pass with nobody beside it.)
func TestMembersThatEnterTogetherAreRefusedByArrival(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	first, err := barrier.NewDouble(session(t), path, 2)
	require.NoError(t, err)
	firstIn := make(chan error, 1)
	go func() { firstIn <- first.Enter(ctx) }()
	require.NoError(t, waitFor(ctx, func() bool { return len(children(t, session(t), path)) == 1 }))

	gate := wiretest.NewGate(wiretest.OpGetChildren, wiretest.OpGetChildren2)
	s := testutil.Session(t, cluster.Servers(), recipes.WithDialer(gate.Dialer()))
	second, err := barrier.NewDouble(s, path, 2)
	require.NoError(t, err)
	gate.Arm(0)
	secondIn := make(chan error, 1)
	go func() { secondIn <- second.Enter(ctx) }()
	<-gate.Held()
	require.NoError(t, <-firstIn, "the first member counted two")

	third := session(t) // a member whose node is made while the second's count is held
	_, err = third.Conn().Create(path+"/"+uuid.NewString(), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	gate.Release()
	require.NoError(t, <-secondIn, "the second member to enter was refused")

	late, err := barrier.NewDouble(session(t), path, 2)
	require.NoError(t, err)
	assert.ErrorIs(t, late.Enter(ctx), barrier.ErrTooManyMembers, "a fourth member")

	require.NoError(t, third.Close())
	var wg sync.WaitGroup
	for _, d := range []*barrier.DoubleBarrier{first, second} {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	assert.Empty(t, children(t, session(t), path))
}

// TestAMemberGoneBeforeTheCheckIsNotCountedAhead: a member sees more than
// N members at its first count, and one of those ahead of it goes before
// it checks which entered first. The one gone does not count: here the
// third to enter, second of those left, passes. Before, a gone member
// counted as ahead of everyone (go-zookeeper reads a missing node's stat
// as zeros), the member was refused, and the one left passed alone.
func TestAMemberGoneBeforeTheCheckIsNotCountedAhead(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	leaving := session(t)
	first, err := barrier.NewDouble(leaving, path, 2)
	require.NoError(t, err)
	firstIn := make(chan error, 1)
	go func() { firstIn <- first.Enter(ctx) }()
	observer := session(t)
	require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == 1 }))
	second, err := barrier.NewDouble(session(t), path, 2)
	require.NoError(t, err)
	require.NoError(t, second.Enter(ctx))
	require.NoError(t, <-firstIn)

	gate := wiretest.NewGate(wiretest.OpExists)
	s := testutil.Session(t, cluster.Servers(), recipes.WithDialer(gate.Dialer()))
	third, err := barrier.NewDouble(s, path, 2)
	require.NoError(t, err)
	// Hold the check of who entered first, once it counts three: the
	// first Exists reads our own node, the second checks a member.
	gate.Arm(1)
	thirdIn := make(chan error, 1)
	go func() { thirdIn <- third.Enter(ctx) }()
	<-gate.Held()
	require.NoError(t, leaving.Close()) // the first member goes
	gate.Release()
	require.NoError(t, <-thirdIn, "refused, counting a member gone")

	var wg sync.WaitGroup
	for _, d := range []*barrier.DoubleBarrier{second, third} {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
}

// TestReadyIsDroppedThroughAConnectionDrop: the connection of the member
// that made this round's ready node drops just as Leave, done, deletes
// it. The deletion goes on once the connection is back, and the path is
// left empty: before, the ready node stayed for the session's life, and
// Curator's members of the next round, which pass Enter at once where
// they find one, would not have waited for each other.
func TestReadyIsDroppedThroughAConnectionDrop(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	var members []*barrier.DoubleBarrier
	var arms []*atomic.Bool
	for range 2 {
		var arm atomic.Bool
		// The first read of ready in dropReady fails, as a dropped
		// connection would fail it.
		s := testutil.Session(t, cluster.Servers(), recipes.WithDialer(testutil.FailWrite(wiretest.OpExists, &arm)))
		d, err := barrier.NewDouble(s, path, 2)
		require.NoError(t, err)
		members, arms = append(members, d), append(arms, &arm)
	}
	var wg sync.WaitGroup
	for _, d := range members {
		wg.Go(func() { assert.NoError(t, d.Enter(ctx)) })
	}
	wg.Wait()
	observer := session(t)
	require.Contains(t, children(t, observer, path), "ready")
	for _, arm := range arms {
		arm.Store(true)
	}
	for _, d := range members {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	assert.NoError(t, waitFor(wctx, func() bool { return len(children(t, observer, path)) == 0 }), "ready stayed")
}

// TestReadyIsMadeThroughAConnectionDrop: our member counts N and makes
// the ready node, which a Curator member that counted fewer waits for
// alone (here a bare member node stands for one), and its connection
// drops at that create: before the create is sent, or after the server
// made the node and before its answer came. Enter makes the node all the
// same, taking the one the lost create made for its own, and Leave
// deletes it. Before, Enter gave up on the ready node quietly: none was
// made, and the Curator member would have waited for ever; or the one
// made stayed after the round, for the next round's Curator members to
// pass Enter at once.
func TestReadyIsMadeThroughAConnectionDrop(t *testing.T) {
	for _, tt := range []struct {
		name string
		sent bool // the create reaches the server; its answer is lost
	}{{"unsent", false}, {"answer lost", true}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			path := testPath(t)
			observer := session(t)
			curator, err := core.Of(observer).Create(ctx, path+"/"+uuid.NewString(), nil, zk.FlagEphemeral)
			require.NoError(t, err)

			p := testutil.Proxy(t, cluster)
			var armed atomic.Bool
			armed.Store(true)
			drop := func(op int32, frame []byte) error {
				if op != wiretest.OpCreate || !bytes.Contains(frame, []byte(path+"/ready")) || !armed.CompareAndSwap(true, false) {
					return nil
				}
				if tt.sent {
					p.BlackholeReplies()
					return nil
				}
				return wiretest.ErrBrokenPipe
			}
			s := testutil.Session(t, p.Servers(), recipes.WithDialer(wiretest.Dialer(wiretest.Hooks{Request: drop})))
			d, err := barrier.NewDouble(s, path, 2)
			require.NoError(t, err)
			entered := make(chan error, 1)
			go func() { entered <- d.Enter(ctx) }()
			if tt.sent {
				require.NoError(t, waitFor(ctx, func() bool { return slices.Contains(children(t, observer, path), "ready") }))
				p.Cut()
				p.Heal()
			}
			require.NoError(t, <-entered)
			assert.False(t, armed.Load(), "the ready node's create was not dropped")
			assert.Contains(t, children(t, observer, path), "ready", "no ready node for the Curator member")

			left := make(chan error, 1)
			go func() { left <- d.Leave(ctx) }()
			require.NoError(t, core.Of(observer).DeleteEphemeral(ctx, curator))
			require.NoError(t, <-left)
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			assert.NoError(t, waitFor(wctx, func() bool { return len(children(t, observer, path)) == 0 }), "the ready node stayed after the round")
		})
	}
}

// memberBehind returns a double barrier member for n at path whose session
// goes through a proxy of its own, and the proxy.
func memberBehind(t *testing.T, path string, n int, opts ...recipes.Option) (*barrier.DoubleBarrier, *recipes.Session, *zktest.Proxy) {
	t.Helper()
	p := testutil.Proxy(t, cluster)
	s := testutil.Session(t, p.Servers(), opts...)
	d, err := barrier.NewDouble(s, path, n)
	require.NoError(t, err)
	return d, s, p
}

// roundTrip sends a request on s's connection and waits for its answer,
// retrying through connection loss: what s sent before it has then been
// answered too.
func roundTrip(t *testing.T, ctx context.Context, s *recipes.Session, path string) {
	t.Helper()
	for {
		require.NoError(t, s.WaitConnected(ctx))
		_, err := core.Call(ctx, core.Of(s), func(conn *zk.Conn) (string, error) { return conn.Sync(path) })
		if !core.Retryable(err) {
			require.NoError(t, err)
			return
		}
	}
}

// TestEnterCancelledWhileCutOffReturnsAtOnce is defect 6 of issue 15: a
// member cut off (its connection black-holed) while it waits in Enter, or
// while its create awaits its reply, is cancelled. Enter returns ctx.Err()
// at once, bounded by nothing but ctx, and once the link heals no member
// node is left.
func TestEnterCancelledWhileCutOffReturnsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name    string
		waiting bool // cut off while waiting, not while creating
	}{{"waiting", true}, {"creating", false}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			path := testPath(t)
			observer := session(t)
			d, s, p := memberBehind(t, path, 2)
			ectx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			if tt.waiting {
				go func() { done <- d.Enter(ectx) }()
				require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == 1 }))
				p.Blackhole()
			} else {
				// The create reaches the server; its reply does not.
				require.NoError(t, core.Of(observer).CreateParents(ctx, path))
				p.BlackholeReplies()
				go func() { done <- d.Enter(ectx) }()
				require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == 1 }))
			}
			cancel()
			cancelled := time.Now()
			select {
			case err := <-done:
				assert.ErrorIs(t, err, context.Canceled)
				t.Logf("Enter returned %v after cancel", time.Since(cancelled))
			case <-time.After(time.Second):
				p.Heal()
				t.Fatalf("Enter still blocked 1 s after its ctx was cancelled: %v", <-done)
			}
			p.Heal()
			roundTrip(t, ctx, s, path)
			require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == 0 }),
				"the cancelled member's node is left: %v", children(t, observer, path))
		})
	}
}

// TestLeaveCancelledWhileCutOffReturnsAtOnceAndLetsTheOthersGo: of three
// members, the lowest (which leaves last) is cut off and cancelled in
// Leave. Leave returns at once; once the link heals its node is removed,
// so the others' Leave returns; and a later Leave of its own returns nil.
func TestLeaveCancelledWhileCutOffReturnsAtOnceAndLetsTheOthersGo(t *testing.T) {
	const n = 3
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	observer := session(t)
	type member struct {
		d *barrier.DoubleBarrier
		s *recipes.Session
		p *zktest.Proxy
	}
	var ms []member
	var wg sync.WaitGroup
	for range n {
		d, s, p := memberBehind(t, path, n)
		ms = append(ms, member{d, s, p})
		wg.Go(func() { assert.NoError(t, d.Enter(ctx)) })
	}
	wg.Wait()
	members := func() []string {
		return slices.DeleteFunc(children(t, observer, path), func(c string) bool { return c == "ready" })
	}
	// The lowest member node (as Curator sorts) leaves last.
	_, st, err := observer.Conn().Exists(path + "/" + slices.Min(members()))
	require.NoError(t, err)
	i := slices.IndexFunc(ms, func(m member) bool { return m.s.ID() == st.EphemeralOwner })
	require.GreaterOrEqual(t, i, 0)
	lowest := ms[i]
	ms = slices.Delete(ms, i, i+1)

	leaving := make(chan error, len(ms))
	go func() { leaving <- ms[0].d.Leave(ctx) }()
	require.NoError(t, waitFor(ctx, func() bool { return len(members()) == n-1 }))
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- lowest.d.Leave(lctx) }()
	lowest.p.Blackhole()
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(time.Second):
		lowest.p.Heal()
		t.Fatalf("Leave still blocked 1 s after its ctx was cancelled: %v", <-done)
	}
	lowest.p.Heal()
	go func() { leaving <- ms[1].d.Leave(ctx) }()
	bound, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	for range ms {
		select {
		case err := <-leaving:
			require.NoError(t, err)
		case <-bound.Done():
			t.Fatalf("the others still wait 20 s later for a member that gave up: %v", members())
		}
	}
	require.NoError(t, lowest.d.Leave(ctx), "a later Leave of the member that gave up")
	require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == 0 }))
}

// TestEnterQueuedAcrossExpiryLeavesNoMember is defect 1 of issue 15 for the
// double barrier: two members sharing one Session start Enter while its
// connection is down, and the session expires before it comes back. Their
// Enter fails with the session, and no member node of theirs is left (under
// any session) for the barrier to count: a waiting member does not pass,
// and two fresh members complete the round with it. On a 3-node ensemble,
// where go-zookeeper keeps the queued creates while it tries every member.
func TestEnterQueuedAcrossExpiryLeavesNoMember(t *testing.T) {
	const n = 3
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	c := zktest.Start(t, zktest.WithEnsemble(3))
	sessionOn := func() *recipes.Session { return testutil.Session(t, c.Servers()) }
	observer := sessionOn()
	members := func() []string {
		return slices.DeleteFunc(children(t, observer, path), func(c string) bool { return c == "ready" })
	}
	waiter, err := barrier.NewDouble(sessionOn(), path, n)
	require.NoError(t, err)
	waiting := make(chan error, 1)
	go func() { waiting <- waiter.Enter(ctx) }()
	require.NoError(t, waitFor(ctx, func() bool { return len(members()) == 1 }))

	p := testutil.Proxy(t, c)
	s := testutil.Session(t, p.Servers(), recipes.WithSessionTimeout(2*time.Second),
		recipes.WithLogger(slog.New(slog.DiscardHandler)))
	sid := s.ID()
	p.Blackhole()
	require.NoError(t, waitFor(ctx, func() bool { return s.State() != recipes.StateConnected }))
	doomed := make(chan error, 2)
	for range 2 {
		d, err := barrier.NewDouble(s, path, n)
		require.NoError(t, err)
		go func() { doomed <- d.Enter(ctx) }()
	}
	require.NoError(t, c.ExpireSession(ctx, sid))
	p.Heal()
	for range 2 {
		assert.ErrorIs(t, <-doomed, recipes.ErrSessionLost)
	}
	require.NoError(t, waitFor(ctx, func() bool { return len(members()) == 1 }),
		"members of an expired session are left: %v", members())
	assert.Len(t, waiting, 0, "the barrier passed with members whose Enter failed")

	var wg sync.WaitGroup
	fresh := []*barrier.DoubleBarrier{waiter}
	for range n - 1 {
		d, err := barrier.NewDouble(sessionOn(), path, n)
		require.NoError(t, err)
		fresh = append(fresh, d)
		wg.Go(func() { assert.NoError(t, d.Enter(ctx)) })
	}
	wg.Wait()
	require.NoError(t, <-waiting)
	for _, d := range fresh {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	// The observer's server may lag behind the members' (reads are not
	// synced): wait for it to catch up.
	require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == 0 }),
		"nodes left: %v", children(t, observer, path))
}

// TestEnterWhoseCreateReplyIsLostEntersOnce: the create of the member node
// reaches the server, its reply is lost and the connection drops. Enter
// retries once connected again, takes the node it finds by its UUID for
// its own, and enters with that one node.
func TestEnterWhoseCreateReplyIsLostEntersOnce(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	observer := session(t)
	require.NoError(t, core.Of(observer).CreateParents(ctx, path))
	d, _, p := memberBehind(t, path, 1)
	p.BlackholeReplies()
	done := make(chan error, 1)
	go func() { done <- d.Enter(ctx) }()
	require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == 1 }))
	made := children(t, observer, path)
	p.Cut()
	p.Heal()
	require.NoError(t, <-done, "Enter whose create reply was lost")
	members := slices.DeleteFunc(children(t, observer, path), func(c string) bool { return c == "ready" })
	assert.Equal(t, made, members, "not the one node the first create made")
	require.NoError(t, d.Leave(ctx))
	assert.Empty(t, children(t, observer, path))
}

// TestCloseOfAWrappedSessionLeavesNoMember: a Session over the
// application's connection, closed with one member waiting in Enter and
// another that has entered, leaves no member node on that connection,
// which lives on.
func TestCloseOfAWrappedSessionLeavesNoMember(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	conn, _, err := zk.Connect(cluster.Servers(), 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer conn.Close()
	s, err := recipes.NewSession(ctx, conn)
	require.NoError(t, err)

	entered, err := barrier.NewDouble(s, path, 2)
	require.NoError(t, err)
	partner, err := barrier.NewDouble(session(t), path, 2)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- partner.Enter(ctx) }()
	require.NoError(t, entered.Enter(ctx))
	require.NoError(t, <-done)

	next := testPath(t) + "-next"
	waiting, err := barrier.NewDouble(s, next, 2)
	require.NoError(t, err)
	go func() { done <- waiting.Enter(ctx) }()
	observer := session(t)
	require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, next)) == 1 }))

	require.NoError(t, s.Close())
	assert.ErrorIs(t, <-done, recipes.ErrSessionClosed)
	assert.Empty(t, children(t, observer, next), "the waiting member's node outlived Close")
	for _, c := range children(t, observer, path) {
		_, st, err := observer.Conn().Get(path + "/" + c)
		if err == nil {
			assert.NotEqual(t, conn.SessionID(), st.EphemeralOwner, "%s outlived Close", c)
		}
	}
	assert.Equal(t, zk.StateHasSession, conn.State(), "Close closed the application's connection")
}
