package leader_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
)

func TestOneLeaderAndResignHandsOverInOrder(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	a := election(t, session(t, nil), path)
	la, err := a.Campaign(ctx, []byte("a:8080"))
	require.NoError(t, err)
	b := campaign(t, ctx, election(t, session(t, nil), path), "b:8080", 2)
	c := campaign(t, ctx, election(t, session(t, nil), path), "c:8080", 3)

	cur, err := a.Leader(ctx)
	require.NoError(t, err)
	assert.Equal(t, "a:8080", string(cur.Data))
	assert.Equal(t, la.Token(), cur.Token)
	assert.Len(t, b, 0)
	assert.Len(t, c, 0)

	require.NoError(t, la.Resign(ctx))
	got := <-b
	require.NoError(t, got.err)
	assert.True(t, got.alone, "b was granted with a contender ahead of it")
	assert.Len(t, c, 0, "two leaders after one resigned")
	assert.Greater(t, got.l.Token(), la.Token())
	require.NoError(t, got.l.Resign(ctx))
	got = <-c
	require.NoError(t, got.err)
	assert.True(t, got.alone, "c was granted with a contender ahead of it")
	require.NoError(t, got.l.Resign(ctx))
	assert.ErrorIs(t, got.l.Resign(ctx), leader.ErrNotHeld)
	_, err = a.Leader(ctx)
	assert.ErrorIs(t, err, leader.ErrNoLeader)
}

func TestLeaderSessionExpiryElectsExactlyOneNewLeader(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	l, err := election(t, s, path).Campaign(ctx, []byte("old"))
	require.NoError(t, err)
	b := campaign(t, ctx, election(t, session(t, nil), path), "b", 2)
	c := campaign(t, ctx, election(t, session(t, nil), path), "c", 3)

	require.NoError(t, cluster.ExpireSession(ctx, s.ID()))
	<-l.Done()
	assert.ErrorIs(t, l.Err(), leader.ErrLost)
	got := <-b
	require.NoError(t, got.err)
	assert.True(t, got.alone, "b was granted with a contender ahead of it")
	cs, _, err := session(t, nil).Conn().Children(path)
	require.NoError(t, err)
	assert.Len(t, cs, 2, "the old leader's node is gone, two candidates remain")
	assert.Len(t, c, 0, "a second new leader")
	require.NoError(t, got.l.Resign(ctx))
	got = <-c
	require.NoError(t, got.err)
	assert.True(t, got.alone, "c was granted with a contender ahead of it")
	require.NoError(t, got.l.Resign(ctx))
}

func TestCampaignCancelWithdraws(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	e := election(t, session(t, nil), path)
	l, err := e.Campaign(ctx, []byte("leader"))
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	waiting := campaign(t, cctx, election(t, session(t, nil), path), "waiting", 2)
	cancel()
	assert.ErrorIs(t, (<-waiting).err, context.Canceled)
	cs, err := e.Contenders(ctx)
	require.NoError(t, err)
	assert.Len(t, cs, 1)
	require.NoError(t, l.Resign(ctx))
}

// TestCutOffLeaderStepsDownBeforeAnotherIsToldItLeads black-holes the
// leader's connection to a 3-node ensemble, many times: with the default
// policy its Done must close before the next candidate's Campaign returns.
func TestCutOffLeaderStepsDownBeforeAnotherIsToldItLeads(t *testing.T) {
	c := zktest.Start(t, zktest.WithEnsemble(3))
	const runs = 5
	for i := range runs {
		ctx := ctxFor(t, time.Minute)
		path := testPath(t)
		p := testutil.Proxy(t, c)
		ls, err := recipes.Connect(ctx, p.Servers(), recipes.WithSessionTimeout(2*time.Second))
		require.NoError(t, err)
		l, err := election(t, ls, path).Campaign(ctx, []byte("old"))
		require.NoError(t, err)
		next := campaign(t, ctx, election(t, session(t, c.Servers()), path), "next", 2)

		p.Blackhole()
		<-l.Done()
		stepped := time.Now()
		got := <-next
		require.NoError(t, got.err)
		assert.True(t, stepped.Before(got.at), "run %d: old leader stepped down at %v, new one told at %v", i, stepped, got.at)
		t.Logf("run %d: stepped down %v before the next leader was told", i, got.at.Sub(stepped))
		require.NoError(t, got.l.Resign(ctx))
		p.Heal()
		ls.Close()
	}
}

// TestRunWithNoFnIsAnError: Run with a nil fn returns an error before it
// campaigns. Before, it won, then panicked, its node left until the
// session ended.
func TestRunWithNoFnIsAnError(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	assert.ErrorContains(t, election(t, s, path).Run(ctx, []byte("runner"), nil), "nil fn")
	_, _, err := s.Conn().Children(path)
	assert.ErrorIs(t, err, zk.ErrNoNode, "it campaigned")
}

func TestRunCallsFnOnlyWhileLeading(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	e := election(t, s, path)
	errDone := errors.New("done")
	ran := 0
	err := e.Run(ctx, []byte("runner"), func(ctx context.Context) error {
		ran++
		cur, err := e.Leader(ctx)
		if err != nil {
			return err
		}
		assert.Equal(t, "runner", string(cur.Data))
		return errDone
	})
	assert.ErrorIs(t, err, errDone)
	assert.Equal(t, 1, ran)
	_, err = e.Leader(ctx)
	assert.ErrorIs(t, err, leader.ErrNoLeader, "Run did not resign")

	// Losing leadership cancels fn's context at once.
	lost := make(chan error, 1)
	go func() {
		lost <- e.Run(ctx, []byte("runner"), func(ctx context.Context) error {
			<-ctx.Done()
			return nil
		})
	}()
	require.NoError(t, waitFor(ctx, func() bool { _, err := e.Leader(ctx); return err == nil }))
	require.NoError(t, cluster.ExpireSession(ctx, s.ID()))
	assert.ErrorIs(t, <-lost, leader.ErrLost)
}

func TestObserversSeeEveryChangeInOrder(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	obsCtx, stop := context.WithCancel(ctx)
	defer stop()
	seen := election(t, session(t, nil), path).Observe(obsCtx)

	var tokens []int64
	for _, v := range []string{"a", "b", "c", "d"} {
		l, err := election(t, session(t, nil), path).Campaign(ctx, []byte(v))
		require.NoError(t, err)
		got := <-seen
		assert.Equal(t, v, string(got.Data))
		assert.Equal(t, l.Token(), got.Token)
		tokens = append(tokens, got.Token)
		require.NoError(t, l.Resign(ctx))
	}
	assert.IsIncreasing(t, tokens)
	stop()
	for range seen { // closed once its ctx ends
	}
}

// TestRunWithReelectCampaignsAgainHoweverFnReturns: fn returns its
// context's error when its term ends, as the README's pattern does. A term
// lost to an operator deleting the leader's node is followed by a second
// one, and a session expiry ends Run with an error naming the expiry, not
// the suspension that came before it.
func TestRunWithReelectCampaignsAgainHoweverFnReturns(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	e := election(t, s, path)
	terms := make(chan int64, 2)
	ran := make(chan error, 1)
	go func() {
		ran <- e.Run(ctx, []byte("runner"), func(ctx context.Context) error {
			cur, err := e.Leader(ctx)
			if err != nil {
				return err
			}
			terms <- cur.Token
			<-ctx.Done()
			return ctx.Err()
		}, leader.Reelect())
	}()
	nextTerm := func() int64 {
		t.Helper()
		select {
		case tok := <-terms:
			return tok
		case err := <-ran:
			t.Fatalf("Run returned while its session and ctx are fine: %v", err)
		case <-ctx.Done():
			t.Fatal("no term")
		}
		return 0
	}
	first := nextTerm()

	op := session(t, nil)
	cur, err := election(t, op, path).Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, first, cur.Token)
	require.NoError(t, op.Conn().Delete(cur.Path, -1), "the operator deletes the leader's node")
	second := nextTerm()
	assert.Greater(t, second, first)

	require.NoError(t, cluster.ExpireSession(ctx, s.ID()))
	select {
	case err = <-ran:
	case <-ctx.Done():
		t.Fatal("Run did not return after its session expired")
	}
	assert.ErrorIs(t, err, recipes.ErrSessionLost)
	assert.NotErrorIs(t, err, recipes.ErrSuspended)
	assert.Len(t, terms, 0, "a term on an expired session")
	_, err = election(t, op, path).Leader(ctx)
	assert.ErrorIs(t, err, leader.ErrNoLeader, "a node is left behind")
}

// TestHoldOffersExactlyItsVerbs: the core hold's machinery (Release,
// SetData) does not leak through the recipe's hold.
func TestHoldOffersExactlyItsVerbs(t *testing.T) {
	assert.Equal(t, []string{"Context", "Done", "Err", "Extend", "Guard", "Multi", "Path", "Resign", "RevokeRequested", "Token", "Value"}, testutil.Methods[*leader.Leadership]())
}

// TestHungLeaderIsEvictedAfterItsMaxTerm: a leader with a max term hangs
// with its session alive; its term ends at the limit, and the next
// candidate, which times it, deletes its node and leads, seeing the value
// without the declaration.
func TestHungLeaderIsEvictedAfterItsMaxTerm(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	e, err := leader.New(session(t, nil), path, leader.WithMaxTerm(300*time.Millisecond))
	require.NoError(t, err)
	hung, err := e.Campaign(ctx, []byte("hung"))
	require.NoError(t, err)
	lead, err := e.Leader(ctx)
	require.NoError(t, err)
	assert.Equal(t, "hung", string(lead.Data), "the declaration shows in the leader's value")

	next, err := leader.New(session(t, nil), path)
	require.NoError(t, err)
	l, err := next.Campaign(ctx, []byte("next"))
	require.NoError(t, err)
	assert.ErrorIs(t, hung.Err(), leader.ErrMaxHoldExceeded)
	assert.Greater(t, l.Token(), hung.Token())
	require.NoError(t, l.Resign(ctx))
}

// TestCampaignsAndResignsAreMeasured: a campaign, a term lost to its
// max term, and a resignation are counted, with spans named for them.
func TestCampaignsAndResignsAreMeasured(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	tel, opts := testutil.NewTelemetry()
	e, err := leader.New(session(t, nil, opts...), path, leader.WithMaxTerm(200*time.Millisecond))
	require.NoError(t, err)
	l, err := e.Campaign(ctx, []byte("a"))
	require.NoError(t, err)
	<-l.Done()
	assert.ErrorIs(t, l.Resign(ctx), leader.ErrMaxHoldExceeded)
	assert.Equal(t, map[string]int64{"granted": 1}, tel.By(t, "zkrecipes.acquisitions", "zkrecipes.outcome"))
	assert.Equal(t, map[string]int64{"max_hold": 1}, tel.By(t, "zkrecipes.losses", "zkrecipes.cause"))
	assert.Len(t, tel.Spans("leader campaign"), 1)
	assert.Len(t, tel.Spans("leader resign"), 1)
}

// TestRunResignsWhenFnPanics: fn panics, and the caller recovers (as an
// HTTP server does): Run gives leadership up on the way out, so the next
// candidate leads at once. Before, the leader's node stayed until its
// Session closed.
func TestRunResignsWhenFnPanics(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	e := election(t, session(t, nil), path)
	func() {
		defer func() { assert.NotNil(t, recover(), "fn's panic was swallowed") }()
		e.Run(ctx, []byte("a"), func(context.Context) error { panic("fn failed") })
	}()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := election(t, session(t, nil), path).Campaign(cctx, []byte("b"))
	require.NoError(t, err, "the leader whose fn panicked kept its node")
	require.NoError(t, l.Resign(ctx))
}

// TestAnUnknownLayoutIsRefused: New refuses a Layout that is none of the
// three, where it used to name the nodes as LeaderLatch's without a word.
func TestAnUnknownLayoutIsRefused(t *testing.T) {
	_, err := leader.New(session(t, nil), testPath(t), leader.WithLayout(leader.Layout(7)))
	assert.ErrorContains(t, err, "layout 7")
	_, err = leader.New(session(t, nil), testPath(t), leader.WithLayout(leader.KazooElection))
	assert.NoError(t, err)
}

// TestAValueOthersWouldMisreadIsRefused: Campaign refuses a value that
// reads as a revocation request (its own hold would answer it by writing
// it back, over and over, for the whole term) or as a max-hold
// declaration it never made (waiters would evict it), and leaves no node.
func TestAValueOthersWouldMisreadIsRefused(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	e := election(t, s, path)
	for _, v := range []string{"__REVOKE__", "host-1 zkrecipes-max-hold=1s"} {
		_, err := e.Campaign(ctx, []byte(v))
		assert.Error(t, err, "%q", v)
	}
	assert.Empty(t, testutil.Children(t, s, path))
	l, err := e.Campaign(ctx, []byte("host-1"))
	require.NoError(t, err)
	require.NoError(t, l.Resign(ctx))
}
