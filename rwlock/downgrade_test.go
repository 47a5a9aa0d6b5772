package rwlock_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// The tests below make a downgrade's outcome unknown for real, through a
// proxy of the holder's own, and check what Downgrade must guarantee
// whatever happened to its request: the hold is ended, or it says what the
// server does (a read hold while readers are admitted, a write hold while
// they are not).

// assertHoldMatchesServer checks that guarantee with a reader of another
// session. (It waits: TryRLock does not apply the yield rule, so it is
// refused beside a downgraded hold.)
func assertHoldMatchesServer(t *testing.T, ctx context.Context, h *rwlock.Hold, path string) {
	t.Helper()
	if err := h.Err(); err != nil {
		assert.ErrorIs(t, err, rwlock.ErrLost)
		return
	}
	write := h.Write()
	wait := 10 * time.Second
	if write {
		wait = time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	r, err := newRW(t, path).RLock(rctx)
	if write {
		assert.ErrorIs(t, err, context.DeadlineExceeded, "a reader admitted beside a trusted write hold")
		return
	}
	require.NoError(t, err, "a read hold that keeps readers out")
	require.NoError(t, r.Unlock(ctx))
}

// holder takes the write lock at path on a session of its own behind a new
// proxy, which tolerates suspension (so that a cut alone does not end the
// hold), and returns a session that reads the node from outside.
func holder(t *testing.T, ctx context.Context, path string) (*rwlock.Hold, *zktest.Proxy, *recipes.Session) {
	t.Helper()
	p := testutil.Proxy(t, cluster)
	s := session(t, p.Servers(), recipes.WithTolerateSuspension(), recipes.WithSessionTimeout(10*time.Second))
	m, err := rwlock.New(s, path)
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	return h, p, session(t, nil)
}

// version reads the version of the node at p from another session.
func version(t *testing.T, s *recipes.Session, p string) int32 {
	t.Helper()
	_, st, err := s.Conn().Get(p)
	require.NoError(t, err)
	return st.Version
}

// TestDowngradeWhoseCtxEndsMidRequestLearnsTheOutcome: the request is on
// its way (the proxy delays it) when ctx ends. The server applies it and
// admits readers, so the hold must not stay a trusted writer: Downgrade
// waits for the answer and the hold is a read hold.
func TestDowngradeWhoseCtxEndsMidRequestLearnsTheOutcome(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	h, p, _ := holder(t, ctx, path)

	p.Delay(500 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := h.Downgrade(short)
	require.Error(t, short.Err(), "ctx did not end before the answer came")
	p.Delay(0)
	assertHoldMatchesServer(t, ctx, h, path)
	require.NoError(t, err, "the downgrade was applied")
	assert.False(t, h.Write())
	_, err = h.Multi(ctx) // the guard alone
	require.NoError(t, err, "the guard follows the node's version")
	require.NoError(t, h.Unlock(ctx))
}

// TestDowngradeWhoseAnswerIsLostIsReadBack: the server applies the
// downgrade, and the connection drops before the answer arrives. Downgrade
// reads the node back once reconnected: a read hold.
func TestDowngradeWhoseAnswerIsLostIsReadBack(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	h, p, peer := holder(t, ctx, path)

	p.BlackholeReplies()
	res := make(chan error, 1)
	go func() { res <- h.Downgrade(ctx) }()
	require.NoError(t, waitFor(ctx, func() bool { return version(t, peer, h.Path()) > 0 }),
		"the downgrade never reached the server")
	p.Cut() // the answer is lost with the connection
	p.Heal()
	err := <-res
	assertHoldMatchesServer(t, ctx, h, path)
	require.NoError(t, err)
	assert.False(t, h.Write())
	assert.NoError(t, h.Err())
	_, err = h.Multi(ctx)
	require.NoError(t, err, "the guard follows the write learned by reading back")
	assert.NoError(t, h.Err())
	require.NoError(t, h.Unlock(ctx))
}

// TestDowngradeLostOnTheWayIsSentAgain: the request goes into a black hole
// and the connection drops, so the server never sees it. Once reconnected,
// Downgrade finds the node unchanged and sends the write again.
func TestDowngradeLostOnTheWayIsSentAgain(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	h, p, peer := holder(t, ctx, path)

	p.Blackhole()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- h.Downgrade(short) }()
	<-short.Done() // the request is in the black hole
	p.Cut()
	p.Heal()
	err := <-res
	assertHoldMatchesServer(t, ctx, h, path)
	require.NoError(t, err)
	assert.False(t, h.Write())
	assert.NoError(t, h.Err())
	assert.Equal(t, int32(1), version(t, peer, h.Path()), "one write applied")
	_, err = h.Multi(ctx)
	require.NoError(t, err, "the guard follows the write sent again")
	require.NoError(t, h.Unlock(ctx))
}

// TestDowngradeWithAnUnknownOutcomeEndsTheHold: no answer and no read back
// gets through in time. Downgrade ends the hold rather than leave it a
// trusted writer: the request may still reach the server. The node is then
// deleted once the connection is back, and a writer gets in.
func TestDowngradeWithAnUnknownOutcomeEndsTheHold(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	h, p, _ := holder(t, ctx, path)
	defer rwlock.SetResolveTimeout(300 * time.Millisecond)()

	p.Blackhole()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := h.Downgrade(short)
	assertHoldMatchesServer(t, ctx, h, path)
	p.Heal() // the request reaches the server now
	assertHoldMatchesServer(t, ctx, h, path)
	assert.ErrorIs(t, err, rwlock.ErrLost)
	assert.ErrorIs(t, h.Err(), rwlock.ErrLost)
	select {
	case <-h.Done():
	default:
		t.Error("the ended hold's Done is open")
	}
	assert.ErrorIs(t, context.Cause(h.Context()), rwlock.ErrLost, "the cause the hold's Context tells")

	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	w, err := newRW(t, path).Lock(wctx)
	require.NoError(t, err, "the ended hold's node was not deleted")
	require.NoError(t, w.Unlock(ctx))
	assert.ErrorIs(t, h.Unlock(ctx), rwlock.ErrLost)
	assert.ErrorIs(t, h.Unlock(ctx), rwlock.ErrNotHeld)
	assert.Error(t, h.Downgrade(ctx), "an ended hold cannot be downgraded")
}

// TestWriteHoldWhoseNodeAnotherClientWritesEnds: another client wrote the
// writer's node, which admits readers (they go by its version). The write
// hold ends at once, and Downgrade refuses it; Unlock deletes the node.
// It used to stay a trusted write hold beside the readers.
func TestWriteHoldWhoseNodeAnotherClientWritesEnds(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	h, _, peer := holder(t, ctx, path)
	_, err := peer.Conn().Set(h.Path(), []byte("not a downgrade"), 0)
	require.NoError(t, err)

	select {
	case <-h.Done():
	case <-ctx.Done():
		t.Fatal("the write hold stayed trusted beside admitted readers")
	}
	assert.ErrorIs(t, h.Err(), recipes.ErrNodeMismatch)
	assertHoldMatchesServer(t, ctx, h, path)
	err = h.Downgrade(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLost)
	assert.ErrorIs(t, h.Unlock(ctx), rwlock.ErrLost)
	ok, _, err := peer.Conn().Exists(h.Path())
	require.NoError(t, err)
	assert.False(t, ok, "the ended hold's node is still there")
}
