package zktest_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
	os.Exit(0)
}

func TestSingleServerServesThroughStableAddresses(t *testing.T) {
	c := zktest.Start(t)
	ctx := timeoutCtx(t, time.Minute)
	require.Len(t, c.Members(), 1)
	mode, err := c.Members()[0].Mode(ctx)
	require.NoError(t, err)
	assert.Equal(t, zktest.ModeStandalone, mode)

	// The session must outlive the restart: ZooKeeper gives a session
	// restored from its log its whole timeout again from the moment the new
	// process starts tracking sessions, and the client can reconnect only
	// once that process serves, which on a loaded machine (a cold JVM on 2
	// cores beside the rest of the suite) has taken more than 2 s.
	cl := connect(t, c.Servers(), 20*time.Second)
	id := cl.SessionID()
	_, err = cl.Create("/kept", []byte("v1"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	// The direct addresses, without the proxy, reach the same server.
	direct, err := c.DirectServers(ctx)
	require.NoError(t, err)
	dcl := connect(t, direct, 2*time.Second)
	data, _, err := dcl.Get("/kept")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(data))
	dcl.Close()

	// A restart publishes the member on a new host port; the client keeps
	// the addresses it was given and finds the data (and its session) again.
	require.NoError(t, c.Members()[0].Restart(ctx))
	require.NoError(t, c.WaitServing(ctx))
	data, _, err = cl.Get("/kept")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(data))
	assert.Equal(t, id, cl.SessionID(), "the client's session did not outlive the restart")
}

func TestEnsembleServesWithOneMemberStoppedAndNotWithTwo(t *testing.T) {
	c := zktest.Start(t, zktest.WithEnsemble(3))
	ctx := timeoutCtx(t, 3*time.Minute)
	leader, err := c.Leader(ctx)
	require.NoError(t, err)

	cl := connect(t, c.Servers(), 4*time.Second)
	require.NoError(t, writable(cl.Conn))

	// Stop the leader: the two others elect a new one and keep serving.
	require.NoError(t, leader.Stop(ctx))
	require.NoError(t, c.WaitServing(ctx))
	require.NoError(t, writable(cl.Conn), "a write with one member of three stopped")

	// Stop one more: no quorum, so no write may succeed.
	var second *zktest.Member
	for _, m := range c.Members() {
		if m != leader {
			second = m
			break
		}
	}
	require.NoError(t, second.Stop(ctx))
	err = writable(cl.Conn)
	require.Error(t, err, "a write with two members of three stopped")
	t.Logf("write without quorum: %v", err)

	// Quorum back: writes succeed again.
	require.NoError(t, second.Start(ctx))
	require.NoError(t, c.WaitServing(ctx))
	require.Eventually(t, func() bool { return writable(cl.Conn) == nil }, time.Minute, 100*time.Millisecond)
}

func TestPausedMemberDisconnectsItsClients(t *testing.T) {
	c := zktest.Start(t)
	ctx := timeoutCtx(t, time.Minute)
	// The client notices after 2/3 of its session timeout; the pause must
	// end well before the timeout, or the server, once thawed, expires the
	// session at once.
	cl := connect(t, c.Servers(), 6*time.Second)
	sid := cl.SessionID()

	m := c.Members()[0]
	require.NoError(t, m.Pause(ctx))
	require.NoError(t, cl.waitState(ctx, zk.StateDisconnected))
	srvrCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err := m.Mode(srvrCtx)
	require.Error(t, err, "a paused member answered srvr")

	// Unpaused in time, the client gets its session back.
	require.NoError(t, m.Unpause(ctx))
	require.NoError(t, cl.waitState(ctx, zk.StateHasSession))
	assert.Equal(t, sid, cl.SessionID())
	assert.False(t, cl.saw(zk.StateExpired))
}

func TestBlackholedClientDisconnectsThenLosesSessionAndEphemerals(t *testing.T) {
	c := zktest.Start(t)
	ctx := timeoutCtx(t, time.Minute)
	p, err := c.NewProxy()
	require.NoError(t, err)

	victim := connect(t, p.Servers(), time.Second)
	observer := connect(t, c.Servers(), 10*time.Second)
	oldSession := victim.SessionID()
	_, err = victim.Create("/mine", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	p.Blackhole()
	require.NoError(t, victim.waitState(ctx, zk.StateDisconnected))
	// Held past the session timeout, the server expires the session and
	// deletes its ephemeral node; the observer, on its own path, sees it.
	require.NoError(t, waitDeleted(ctx, observer.Conn, "/mine"))

	p.Heal()
	require.NoError(t, victim.waitState(ctx, zk.StateExpired))
	require.NoError(t, victim.waitState(ctx, zk.StateHasSession))
	assert.NotEqual(t, oldSession, victim.SessionID())
}

func TestCutClientDisconnectsAtOnceAndKeepsSessionAfterHeal(t *testing.T) {
	c := zktest.Start(t)
	ctx := timeoutCtx(t, time.Minute)
	p, err := c.NewProxy()
	require.NoError(t, err)
	cl := connect(t, p.Servers(), 10*time.Second)
	other := connect(t, c.Servers(), 10*time.Second)
	sid := cl.SessionID()

	p.Cut()
	require.NoError(t, cl.waitState(ctx, zk.StateDisconnected))
	require.NoError(t, writable(other.Conn), "cutting one client touched another")

	p.Heal()
	require.NoError(t, cl.waitState(ctx, zk.StateHasSession))
	assert.Equal(t, sid, cl.SessionID())
}

func TestDelayedClientWaitsAtLeastTheDelayBothWays(t *testing.T) {
	c := zktest.Start(t)
	p, err := c.NewProxy()
	require.NoError(t, err)
	cl := connect(t, p.Servers(), 10*time.Second)

	const delay = 150 * time.Millisecond
	p.Delay(delay)
	start := time.Now()
	_, _, err = cl.Get("/")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 2*delay, "request and reply are each delayed")
}

func TestServerSideExpiryGivesExpiredStateAndNewSession(t *testing.T) {
	c := zktest.Start(t)
	ctx := timeoutCtx(t, time.Minute)
	cl := connect(t, c.Servers(), 10*time.Second)
	observer := connect(t, c.Servers(), 10*time.Second)
	oldSession := cl.SessionID()
	_, err := cl.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	require.NoError(t, c.ExpireSession(ctx, oldSession))
	require.NoError(t, cl.waitState(ctx, zk.StateExpired))
	require.NoError(t, cl.waitState(ctx, zk.StateHasSession))
	assert.NotEqual(t, oldSession, cl.SessionID())
	require.NoError(t, waitDeleted(ctx, observer.Conn, "/eph"))
	assert.Equal(t, zk.StateHasSession, observer.State(), "expiring one session touched another")

	// Expiring it again, or a session no proxy saw, is reported plainly.
	require.NoError(t, c.ExpireSession(ctx, oldSession))
	err = c.ExpireSession(ctx, 12345)
	assert.True(t, errors.Is(err, zktest.ErrUnknownSession), "got %v", err)
}

func TestDisconnectedMemberRejoinsAndCatchesUp(t *testing.T) {
	c := zktest.Start(t, zktest.WithEnsemble(3))
	ctx := timeoutCtx(t, 3*time.Minute)
	leader, err := c.Leader(ctx)
	require.NoError(t, err)
	var cut *zktest.Member
	for _, m := range c.Members() {
		if m != leader {
			cut = m
			break
		}
	}
	i := cut.ID() - 1
	// Clients pinned to one member each: the one cut off and the leader.
	pinned := connect(t, c.Servers()[i:i+1], 4*time.Second)
	writer := connect(t, c.Servers()[leader.ID()-1:leader.ID()], 4*time.Second)

	require.NoError(t, cut.Disconnect(ctx))
	require.NoError(t, pinned.waitState(ctx, zk.StateDisconnected))
	_, err = writer.Create("/during-partition", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "the majority side keeps serving")

	require.NoError(t, cut.Reconnect(ctx))
	require.NoError(t, c.WaitServing(ctx))
	mode, err := cut.Mode(ctx)
	require.NoError(t, err)
	assert.Equal(t, zktest.ModeFollower, mode)
	require.NoError(t, pinned.waitState(ctx, zk.StateHasSession))
	_, err = pinned.Sync("/during-partition")
	require.NoError(t, err)
	ok, _, err := pinned.Exists("/during-partition")
	require.NoError(t, err)
	assert.True(t, ok, "the rejoined member has the write made without it")
}

func TestKilledMemberStopsServingAtOnce(t *testing.T) {
	c := zktest.Start(t)
	ctx := timeoutCtx(t, time.Minute)
	cl := connect(t, c.Servers(), 10*time.Second)
	m := c.Members()[0]
	require.NoError(t, m.Kill(ctx))
	require.NoError(t, cl.waitState(ctx, zk.StateDisconnected))
	require.NoError(t, m.Start(ctx))
	require.NoError(t, c.WaitServing(ctx))
	require.NoError(t, cl.waitState(ctx, zk.StateHasSession))
}

// TestATerminateThatFailedIsTriedAgain: a Terminate whose ctx has ended
// fails, and leaves the cluster for a later Terminate to remove (Start's
// cleanup does that). Before, the first call marked the cluster closed,
// and every later one did nothing: the containers stayed.
func TestATerminateThatFailedIsTriedAgain(t *testing.T) {
	ctx := timeoutCtx(t, time.Minute)
	c, err := zktest.Run(ctx, zktest.Image(), zktest.Quiet())
	require.NoError(t, err)
	ctr := c.Members()[0].Container()
	ended, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, c.Terminate(ended))
	require.NoError(t, c.Terminate(ctx))
	_, err = ctr.State(ctx)
	assert.Error(t, err, "the container is still there")
	require.NoError(t, c.Terminate(ctx), "once done, Terminate does nothing")
}

func TestRunRejectsBadEnsembleSize(t *testing.T) {
	_, err := zktest.Run(timeoutCtx(t, time.Minute), zktest.Image(), zktest.WithEnsemble(2))
	require.Error(t, err)
}

func TestFiveMemberEnsembleHasOneLeader(t *testing.T) {
	c := zktest.Start(t, zktest.WithEnsemble(5))
	ctx := timeoutCtx(t, time.Minute)
	modes := map[string]int{}
	for _, m := range c.Members() {
		mode, err := m.Mode(ctx)
		require.NoError(t, err)
		modes[mode]++
	}
	assert.Equal(t, map[string]int{zktest.ModeLeader: 1, zktest.ModeFollower: 4}, modes)
	cl := connect(t, c.Servers(), 4*time.Second)
	require.NoError(t, writable(cl.Conn))
}
