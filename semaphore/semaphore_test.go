package semaphore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/internal/wiretest"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// TestNeverMoreThanMaxLeases: goroutines sharing one Session and others
// on Sessions of their own take and return leases of a semaphore with 3,
// round after round. At no moment do more than 3 hold (each counts itself
// in while it holds); at some moment at least 2 do, so the count can fail.
// No node is left.
func TestNeverMoreThanMaxLeases(t *testing.T) {
	const max, sharing, alone, rounds = 3, 5, 3, 10
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	shared := session(t, nil)
	var holding, most atomic.Int32
	var wg sync.WaitGroup
	for i := range sharing + alone {
		s := shared
		if i >= sharing {
			s = session(t, nil)
		}
		m := newSem(t, s, path, max)
		wg.Go(func() {
			for range rounds {
				l, err := m.Acquire(ctx)
				if !assert.NoError(t, err) {
					return
				}
				n := holding.Add(1)
				for {
					old := most.Load()
					if n <= old || most.CompareAndSwap(old, n) {
						break
					}
				}
				time.Sleep(20 * time.Millisecond) // the work the lease allows: long enough to overlap
				holding.Add(-1)
				assert.NoError(t, l.Err(), "a lease lost on a healthy session")
				assert.NoError(t, l.Unlock(ctx))
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, most.Load(), int32(max), "more holders than leases")
	assert.GreaterOrEqual(t, most.Load(), int32(2), "never two holders at once: the test proves nothing")
	assert.Empty(t, testutil.Children(t, shared, path+"/leases"), "leases left")
	assert.Empty(t, testutil.Children(t, shared, path+"/locks"), "mutex nodes left")
}

// TestTryAcquireRefusesWhenFull: with every lease taken, TryAcquire
// returns ErrNoLease at once and leaves no node; once one is returned, it
// succeeds.
func TestTryAcquireRefusesWhenFull(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	m := newSem(t, s, path, 2)
	a, err := m.Acquire(ctx)
	require.NoError(t, err)
	b, err := m.TryAcquire(ctx)
	require.NoError(t, err)
	_, err = newSem(t, session(t, nil), path, 2).TryAcquire(ctx)
	assert.ErrorIs(t, err, semaphore.ErrNoLease)
	assert.ErrorIs(t, err, recipes.ErrWouldBlock)
	assert.Len(t, testutil.Children(t, s, path+"/leases"), 2)
	assert.Empty(t, testutil.Children(t, s, path+"/locks"))
	require.NoError(t, a.Unlock(ctx))
	c, err := m.TryAcquire(ctx)
	require.NoError(t, err)
	assert.Greater(t, c.Token(), b.Token(), "tokens grow in grant order")
	require.NoError(t, b.Unlock(ctx))
	require.NoError(t, c.Unlock(ctx))
	assert.ErrorIs(t, c.Unlock(ctx), semaphore.ErrNotHeld)
}

// TestTryAcquireNIsAllOrNothing: with 2 of 3 leases held, TryAcquireN(2)
// fails at once and leaves no node; TryAcquireN(1) takes the last lease;
// more than the maximum, or fewer than one, is refused before anything
// is made.
func TestTryAcquireNIsAllOrNothing(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	m := newSem(t, s, path, 3)
	held, err := newSem(t, session(t, nil), path, 3).AcquireN(ctx, 2)
	require.NoError(t, err)
	_, err = m.TryAcquireN(ctx, 2)
	assert.ErrorIs(t, err, semaphore.ErrNoLease)
	assert.ErrorIs(t, err, recipes.ErrWouldBlock)
	assert.Len(t, testutil.Children(t, s, path+"/leases"), 2, "TryAcquireN left a lease node")
	assert.Empty(t, testutil.Children(t, s, path+"/locks"))
	_, err = m.TryAcquireN(ctx, 4)
	assert.ErrorIs(t, err, semaphore.ErrTooMany)
	_, err = m.TryAcquireN(ctx, 0)
	assert.Error(t, err)
	last, err := m.TryAcquireN(ctx, 1)
	require.NoError(t, err)
	require.Len(t, last, 1)
	for _, l := range append(held, last...) {
		require.NoError(t, l.Unlock(ctx))
	}
	assert.Empty(t, testutil.Children(t, s, path+"/leases"))
}

// TestAcquireNIsAllOrNothing: with 2 of 3 leases held, AcquireN(2) waits
// holding none (its nodes are pending, and others queue behind it);
// cancelled, it leaves nothing; asked again, it gets both once one lease
// is returned. Asking for more than the maximum fails at once.
func TestAcquireNIsAllOrNothing(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	m := newSem(t, s, path, 3)
	_, err := m.AcquireN(ctx, 4)
	assert.ErrorIs(t, err, semaphore.ErrTooMany)
	held, err := m.AcquireN(ctx, 2)
	require.NoError(t, err)
	require.Len(t, held, 2)

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = m.AcquireN(short, 2)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, waitFor(ctx, func() bool {
		return len(testutil.Children(t, s, path+"/leases")) == 2 && len(testutil.Children(t, s, path+"/locks")) == 0
	}), "a cancelled AcquireN left nodes: leases %v, locks %v", testutil.Children(t, s, path+"/leases"), testutil.Children(t, s, path+"/locks"))

	got := make(chan []*semaphore.Lease, 1)
	go func() {
		ls, err := m.AcquireN(ctx, 2)
		assert.NoError(t, err)
		got <- ls
	}()
	require.NoError(t, waitFor(ctx, func() bool { return len(testutil.Children(t, s, path+"/leases")) == 4 }))
	select {
	case <-got:
		t.Fatal("AcquireN(2) granted with only one lease free")
	default:
	}
	require.NoError(t, held[0].Unlock(ctx))
	ls := <-got
	require.Len(t, ls, 2)
	for _, l := range append(ls, held[1]) {
		require.NoError(t, l.Unlock(ctx))
	}
	assert.Empty(t, testutil.Children(t, s, path+"/leases"))
}

// TestCountedMaximumChangesLive: the maximum is a count node in Curator's
// SharedCount format. Raising it admits the waiter at once; a missing or
// malformed count is an error.
func TestCountedMaximumChangesLive(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	count := path + "-count"
	s := session(t, nil)
	m, err := semaphore.NewCounted(s, path, count)
	require.NoError(t, err)
	_, err = m.Acquire(ctx)
	assert.ErrorIs(t, err, semaphore.ErrNoCount)
	_, err = s.Conn().Create(count, []byte{1}, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	t.Cleanup(func() { s.Conn().Delete(count, -1) })
	_, err = m.Acquire(ctx)
	assert.ErrorIs(t, err, semaphore.ErrNoCount, "a 1-byte count")
	_, err = s.Conn().Set(count, semaphore.FormatCount(1), -1)
	require.NoError(t, err)

	first, err := m.Acquire(ctx)
	require.NoError(t, err)
	got := make(chan *semaphore.Lease, 1)
	go func() {
		l, err := m.Acquire(ctx)
		assert.NoError(t, err)
		got <- l
	}()
	require.NoError(t, waitFor(ctx, func() bool { return len(testutil.Children(t, s, path+"/leases")) == 2 }))
	select {
	case <-got:
		t.Fatal("granted over a count of 1")
	default:
	}
	_, err = s.Conn().Set(count, semaphore.FormatCount(2), -1)
	require.NoError(t, err)
	second := <-got
	require.NotNil(t, second)
	assert.NoError(t, first.Err())
	require.NoError(t, first.Unlock(ctx))
	require.NoError(t, second.Unlock(ctx))
}

// TestCountedMaximumBelowNFailsAcquireN: AcquireN for more than a counted
// maximum fails at once, and fails a waiting AcquireN as soon as the count
// drops below it (waiting would hold the mutex, and every acquirer, for
// good); nothing of it is left.
func TestCountedMaximumBelowNFailsAcquireN(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	count := path + "-count"
	s := session(t, nil)
	_, err := s.Conn().Create(count, semaphore.FormatCount(3), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	t.Cleanup(func() { s.Conn().Delete(count, -1) })
	m, err := semaphore.NewCounted(s, path, count)
	require.NoError(t, err)
	_, err = m.AcquireN(ctx, 4)
	assert.ErrorIs(t, err, semaphore.ErrTooMany)
	held, err := m.AcquireN(ctx, 2)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { _, err := m.AcquireN(ctx, 2); done <- err }()
	require.NoError(t, waitFor(ctx, func() bool { return len(testutil.Children(t, s, path+"/leases")) == 4 }))
	_, err = s.Conn().Set(count, semaphore.FormatCount(1), -1)
	require.NoError(t, err)
	assert.ErrorIs(t, <-done, semaphore.ErrTooMany)
	require.NoError(t, waitFor(ctx, func() bool {
		return len(testutil.Children(t, s, path+"/leases")) == 2 && len(testutil.Children(t, s, path+"/locks")) == 0
	}), "left behind: leases %v, locks %v", testutil.Children(t, s, path+"/leases"), testutil.Children(t, s, path+"/locks"))
	for _, l := range held {
		require.NoError(t, l.Unlock(ctx))
	}
}

// TestLeasesEndWithTheirSession: a holder's session expires; its lease
// ends (Done, ErrLost) and the waiter gets the place.
func TestLeasesEndWithTheirSession(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	doomed := testutil.Session(t, cluster.Servers(), recipes.WithSessionTimeout(4*time.Second))
	l, err := newSem(t, doomed, path, 1).Acquire(ctx)
	require.NoError(t, err)
	got := make(chan *semaphore.Lease, 1)
	m := newSem(t, session(t, nil), path, 1)
	go func() {
		l, err := m.Acquire(ctx)
		assert.NoError(t, err)
		got <- l
	}()
	require.NoError(t, cluster.ExpireSession(ctx, doomed.ID()))
	select {
	case <-l.Done():
	case <-ctx.Done():
		t.Fatal("the lease outlived its session")
	}
	assert.ErrorIs(t, l.Err(), semaphore.ErrLost)
	next := <-got
	require.NotNil(t, next)
	assert.Greater(t, next.Token(), l.Token())
	require.NoError(t, next.Unlock(ctx))
}

// TestLeasesShowsLeasesAndWaiters: the snapshot lists the leases, then the
// acquirers queued for the semaphore's mutex.
func TestLeasesShowsLeasesAndWaiters(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	m := newSem(t, s, path, 1)
	l, err := m.Acquire(ctx)
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := m.Acquire(wctx); done <- err }()
	var leases, waiters []recipes.Contender
	require.NoError(t, waitFor(ctx, func() bool {
		leases, waiters, err = m.Leases(ctx)
		return err == nil && len(leases) == 2 && len(waiters) == 1
	}), "leases %v, waiters %v, err %v", leases, waiters, err)
	assert.Equal(t, l.Path(), leases[0].Path)
	assert.True(t, leases[0].Held)
	assert.False(t, leases[1].Held, "the waiter's pending lease is shown held")
	assert.Equal(t, s.ID(), waiters[0].Session)
	assert.False(t, waiters[0].Held)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, l.Unlock(ctx))
	require.NoError(t, waitFor(ctx, func() bool {
		leases, waiters, err = m.Leases(ctx)
		return err == nil && len(leases) == 0 && len(waiters) == 0
	}), "left behind: leases %v, waiters %v", leases, waiters)
}

func TestNewChecksItsArguments(t *testing.T) {
	_, err := semaphore.New(nil, "bad", 1)
	assert.ErrorIs(t, err, semaphore.ErrInvalidPath)
	_, err = semaphore.New(nil, "/ok", 0)
	assert.ErrorContains(t, err, "want at least 1")
	_, err = semaphore.NewCounted(nil, "/ok", "bad")
	assert.ErrorIs(t, err, semaphore.ErrInvalidPath)
	_, err = semaphore.New(nil, "/ok", 1)
	assert.ErrorContains(t, err, "no session")
}

func TestCountFormatIsCuratorsSharedCount(t *testing.T) {
	for _, n := range []int32{0, 1, 3, 255, 256, 1 << 30, -1} {
		got, ok := semaphore.ParseCount(semaphore.FormatCount(n))
		assert.True(t, ok)
		assert.Equal(t, int(n), got)
	}
	assert.Equal(t, []byte{0, 0, 1, 2}, semaphore.FormatCount(258))
	_, ok := semaphore.ParseCount([]byte{0, 0, 1})
	assert.False(t, ok)
	got, ok := semaphore.ParseCount([]byte{0, 0, 0, 5, 9})
	assert.True(t, ok, "Curator reads the first 4 bytes")
	assert.Equal(t, 5, got)
}

// TestLeaseOffersExactlyItsVerbs: the shared hold surface and Unlock; none
// of the core's machinery.
func TestLeaseOffersExactlyItsVerbs(t *testing.T) {
	assert.Equal(t, []string{"Context", "Done", "Err", "Extend", "Guard", "Multi", "Path", "RevokeRequested", "Token", "Unlock"}, testutil.Methods[*semaphore.Lease]())
}

// TestAcquireDoesNotWaitPastItsCtxForAnotherCountRead: one goroutine's
// read of the count is out, unanswered, when another acquires on the same
// counted Semaphore with a short ctx. The second returns ctx.Err() at its
// deadline; before, it waited for the first read's answer (with the
// server silent, two thirds of a session timeout).
func TestAcquireDoesNotWaitPastItsCtxForAnotherCountRead(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	count := path + "-count"
	admin := session(t, nil)
	admin.Conn().Create("/test", nil, 0, zk.WorldACL(zk.PermAll)) // or it exists
	_, err := admin.Conn().Create(count, semaphore.FormatCount(2), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	t.Cleanup(func() { admin.Conn().Delete(count, -1) })
	gate := wiretest.NewGate(wiretest.OpGetData)
	s := session(t, nil, recipes.WithDialer(gate.Dialer()))
	m, err := semaphore.NewCounted(s, path, count)
	require.NoError(t, err)

	gate.Arm(0)
	type acquired struct {
		l   *semaphore.Lease
		err error
	}
	first := make(chan acquired, 1)
	go func() { l, err := m.Acquire(ctx); first <- acquired{l, err} }()
	<-gate.Held()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() { _, err := m.Acquire(short); second <- err }()
	select {
	case err := <-second:
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire waited past its ctx for another goroutine's read of the count")
	}
	gate.Release()
	a := <-first
	require.NoError(t, a.err)
	require.NoError(t, a.l.Unlock(ctx))
}
