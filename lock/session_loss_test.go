package lock_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/internal/wiretest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

var quiet = recipes.WithLogger(slog.New(slog.DiscardHandler))

// queueAcrossExpiry cuts p's clients off, starts n Lock calls on m (one
// goroutine each: one Session shared as services share it), expires the
// session server-side while its creates are queued, and heals. It returns
// the Lock calls' errors.
func queueAcrossExpiry(t *testing.T, ctx context.Context, p *zktest.Proxy, s *recipes.Session, m *lock.Mutex, n int) []error {
	t.Helper()
	sid := s.ID()
	p.Blackhole()
	require.NoError(t, waitFor(ctx, func() bool { return s.State() != recipes.StateConnected }))
	errs := make([]error, n)
	var wg sync.WaitGroup
	started := make(chan struct{}, n)
	for i := range n {
		wg.Go(func() {
			started <- struct{}{}
			h, err := m.Lock(ctx)
			if err == nil {
				h.Unlock(ctx)
			}
			errs[i] = err
		})
	}
	for range n {
		<-started
	}
	require.NoError(t, cluster.ExpireSession(ctx, sid))
	p.Heal()
	wg.Wait()
	return errs
}

// TestQueuedAcquisitionsDieWithTheirSession is defect 1 of issue 15: a Lock
// queued while the connection is down, whose session expires meanwhile,
// must not run under the session go-zookeeper opens in its place. Before
// the fix the create went out under the new session on the lost Session's
// connection, and its node blocked the path for good.
func TestQueuedAcquisitionsDieWithTheirSession(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	p := testutil.Proxy(t, cluster)
	s := session(t, p.Servers(), recipes.WithSessionTimeout(2*time.Second), quiet)
	m, err := lock.New(s, path)
	require.NoError(t, err)

	for _, err := range queueAcrossExpiry(t, ctx, p, s, m, 4) {
		assert.ErrorIs(t, err, recipes.ErrSessionLost)
	}
	assert.ErrorIs(t, s.Err(), recipes.ErrSessionLost)
	// The connection is closed for good: it opens no other session.
	require.NoError(t, waitFor(ctx, func() bool { return s.Conn().State() == zk.StateDisconnected }))
	assert.Zero(t, s.Conn().SessionID())

	other, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	cs, err := other.Contenders(ctx)
	require.NoError(t, err)
	assert.Empty(t, cs, "a node outlived the session that queued it")
	tryCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	h, err := other.Lock(tryCtx)
	require.NoError(t, err, "the path is blocked")
	require.NoError(t, h.Unlock(ctx))
}

// TestWrappedSessionLeavesNoNodeAfterAnExpiry is defect 2 of issue 15: on a
// connection the application made, go-zookeeper opens a new session once
// the old one expired, and the Session learns of it only at its next poll.
// A Lock in that window must not leave a node under the new session (before
// the fix it was called foreign and left for as long as the connection
// lived), nor must Locks queued across the expiry.
func TestWrappedSessionLeavesNoNodeAfterAnExpiry(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	p := testutil.Proxy(t, cluster)
	queued, _ := testutil.Wrapped(t, ctx, p.Servers())
	m, err := lock.New(queued, path)
	require.NoError(t, err)
	for _, err := range queueAcrossExpiry(t, ctx, p, queued, m, 4) {
		assert.ErrorIs(t, err, recipes.ErrLost)
	}

	s, conn := testutil.Wrapped(t, ctx, p.Servers(), recipes.WithPollInterval(5*time.Second))
	sid := s.ID()
	m, err = lock.New(s, path)
	require.NoError(t, err)
	testutil.ReplaceSession(t, ctx, cluster, p, conn, sid)
	// The poll may not have seen the new session yet.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			_, err := m.Lock(ctx)
			assert.ErrorIs(t, err, recipes.ErrLost)
		})
	}
	wg.Wait()
	assert.ErrorIs(t, s.Err(), recipes.ErrSessionLost)

	other, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	var last []recipes.Contender
	require.NoError(t, waitFor(ctx, func() bool {
		last, err = other.Contenders(ctx)
		return err == nil && len(last) == 0
	}), "nodes left: %v", last)
	h, err := other.TryLock(ctx)
	require.NoError(t, err)
	require.NoError(t, h.Unlock(ctx))
}

// TestWrappedSessionCloseRemovesWaitingContenders: Close of a Session on
// the application's connection leaves no node of its own, not even those
// of contenders still waiting.
func TestWrappedSessionCloseRemovesWaitingContenders(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	p := testutil.Proxy(t, cluster)
	s, conn := testutil.Wrapped(t, ctx, p.Servers())

	holder, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	h, err := holder.Lock(ctx)
	require.NoError(t, err)
	m, err := lock.New(s, path)
	require.NoError(t, err)
	const waiters = 4
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			_, err := m.Lock(ctx)
			assert.ErrorIs(t, err, recipes.ErrSessionClosed)
		})
	}
	waitContenders(t, ctx, holder, 1+waiters)
	require.NoError(t, s.Close())
	cs, err := holder.Contenders(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 1, "waiting contenders' nodes outlived Close")
	assert.Equal(t, h.Path(), cs[0].Path)
	wg.Wait()
	assert.Equal(t, zk.StateHasSession, conn.State(), "Close closed the application's connection")
	require.NoError(t, h.Unlock(ctx))
}

// TestToleratedSuspensionEndsBeforeTheServerCanExpireTheSession is defect
// 9 of issue 15: WithTolerateSuspension keeps a hold through a suspension,
// but not for as long as the server may keep the session: the hold ends
// before the server expires the cut-off session and grants the lock to the
// next contender. Before, a tolerated hold ended only once the expiry was
// known, after the next holder was granted.
func TestToleratedSuspensionEndsBeforeTheServerCanExpireTheSession(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	p := testutil.Proxy(t, cluster)
	const timeout = 4 * time.Second
	s := session(t, p.Servers(), recipes.WithSessionTimeout(timeout), recipes.WithTolerateSuspension(), quiet)
	m, err := lock.New(s, path)
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	next, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	granted := make(chan time.Time, 1)
	go func() {
		h, err := next.Lock(ctx)
		granted <- time.Now()
		if assert.NoError(t, err) {
			h.Unlock(ctx)
		}
	}()
	waitContenders(t, ctx, m, 2)

	p.Blackhole() // the server hears nothing more, and expires the session
	require.NoError(t, waitFor(ctx, func() bool { return s.State() == recipes.StateSuspended }))
	assert.NoError(t, h.Err(), "a tolerated suspension ended the hold at once")
	var ended time.Time
	select {
	case <-h.Done():
		ended = time.Now()
	case <-ctx.Done():
		t.Fatal("the hold outlived its session")
	}
	assert.ErrorIs(t, h.Err(), recipes.ErrSuspended)
	at := <-granted
	assert.True(t, ended.Before(at), "the next holder was granted %v before the tolerated hold ended", ended.Sub(at))
	t.Logf("the tolerated hold ended %v before the next holder was granted", at.Sub(ended))
	p.Heal()
	assert.ErrorIs(t, h.Unlock(ctx), lock.ErrLost)
}

// TestWrappedSessionToleratesOnlyWithItsTimeout: a Session over the
// application's connection cannot read the session timeout it would
// tolerate a suspension for, so it must be told.
func TestWrappedSessionToleratesOnlyWithItsTimeout(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	conn, _, err := zk.Connect(cluster.Servers(), 2*time.Second, zk.WithLogInfo(false), zk.WithLogger(testutil.ZKQuiet{}))
	require.NoError(t, err)
	defer conn.Close()
	_, err = recipes.NewSession(ctx, conn, recipes.WithTolerateSuspension())
	assert.Error(t, err)
	s, err := recipes.NewSession(ctx, conn, recipes.WithTolerateSuspension(), recipes.WithSessionTimeout(2*time.Second))
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

// TestNoAcquisitionStartsOnceCloseHasBegun: on a Session over the
// application's connection, Close releases what it holds first, which
// takes a round trip or more; a Lock called meanwhile fails at once with
// ErrSessionClosed and sends nothing. Before, it went ahead and was
// granted, or queued its create behind the release, and kept Close
// waiting up to a session timeout for its cleanup.
func TestNoAcquisitionStartsOnceCloseHasBegun(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	gate := wiretest.NewGate(wiretest.OpDelete)
	conn, _, err := zk.Connect(cluster.Servers(), 4*time.Second, zk.WithDialer(gate.Dialer()), zk.WithLogInfo(false), zk.WithLogger(testutil.ZKQuiet{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	s, err := recipes.NewSession(ctx, conn, recipes.WithSessionTimeout(4*time.Second), quiet)
	require.NoError(t, err)
	m, err := lock.New(s, path)
	require.NoError(t, err)
	_, err = m.Lock(ctx)
	require.NoError(t, err)

	gate.Arm(0) // Close's release of that hold
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	<-gate.Held()
	other, err := lock.New(s, path+"-other")
	require.NoError(t, err)
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = other.Lock(lctx) // returns while Close's release is still held back
	assert.ErrorIs(t, err, recipes.ErrSessionClosed)
	gate.Release()
	require.NoError(t, <-closed)
	ok, _, err := conn.Exists(path + "-other")
	require.NoError(t, err)
	assert.False(t, ok, "the Lock refused during Close sent its create")
}
