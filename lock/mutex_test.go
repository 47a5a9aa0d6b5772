package lock_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

func TestCounterIsExactWhenSessionsIncrementUnderTheLock(t *testing.T) {
	const sessions, rounds = 5, 20
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	counter := "/" + t.Name() + "-counter"
	admin := session(t, nil)
	plainNode(t, admin, counter, []byte("0"))

	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for range sessions {
		s := session(t, nil)
		m, err := lock.New(s, path)
		require.NoError(t, err)
		wg.Go(func() {
			for range rounds {
				if err := increment(ctx, s, m, counter, &inside, &overlaps); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	data, _, err := admin.Conn().Get(counter)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(sessions*rounds), string(data), "lost updates")
	assert.Zero(t, overlaps.Load(), "two holders at once")
}

// increment does a read-sleep-write with no version check: without mutual
// exclusion, updates are lost.
func increment(ctx context.Context, s *recipes.Session, m *lock.Mutex, counter string, inside, overlaps *atomic.Int32) error {
	h, err := m.Lock(ctx)
	if err != nil {
		return err
	}
	defer h.Unlock(ctx)
	if inside.Add(1) != 1 {
		overlaps.Add(1)
	}
	defer inside.Add(-1)
	data, _, err := s.Conn().Get(counter)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(string(data))
	if err != nil {
		return err
	}
	time.Sleep(time.Millisecond) // widen the window a lost update needs
	if _, err := s.Conn().Set(counter, []byte(strconv.Itoa(n+1)), -1); err != nil {
		return err
	}
	return h.Err() // the hold must have lasted the whole update
}

func TestGrantsFollowQueueOrder(t *testing.T) {
	const waiters = 6
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	first, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	h, err := first.Lock(ctx)
	require.NoError(t, err)

	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range waiters {
		m, err := lock.New(session(t, nil), path)
		require.NoError(t, err)
		wg.Go(func() {
			h, err := m.Lock(ctx)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			assert.NoError(t, h.Unlock(ctx))
		})
		// Let waiter i queue before i+1 starts.
		waitContenders(t, ctx, first, i+2)
	}
	require.NoError(t, h.Unlock(ctx))
	wg.Wait()
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, order)
}

func TestCancelledLockRemovesItsNode(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	holder, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	h, err := holder.Lock(ctx)
	require.NoError(t, err)

	waiter, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Lock(wctx)
		done <- err
	}()
	waitContenders(t, ctx, holder, 2)
	cancel()
	assert.Equal(t, context.Canceled, <-done, "not ctx.Err() itself")

	cs, err := holder.Contenders(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 1, "the cancelled waiter left its node")
	assert.Equal(t, h.Path(), cs[0].Path)
	require.NoError(t, h.Unlock(ctx))
}

func TestTryLockOnHeldLockReturnsErrLockedAndLeavesNoNode(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	holder, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	h, err := holder.TryLock(ctx)
	require.NoError(t, err, "TryLock on a free lock")

	other, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	_, err = other.TryLock(ctx)
	assert.ErrorIs(t, err, lock.ErrLocked)
	assert.ErrorIs(t, err, recipes.ErrWouldBlock)
	cs, err := holder.Contenders(ctx)
	require.NoError(t, err)
	assert.Len(t, cs, 1)

	require.NoError(t, h.Unlock(ctx))
	h2, err := other.TryLock(ctx)
	require.NoError(t, err, "TryLock once released")
	require.NoError(t, h2.Unlock(ctx))
}

func TestUnlockTwiceIsAnErrorNotAPanic(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	m, err := lock.New(session(t, nil), testPath(t))
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	require.NoError(t, h.Unlock(ctx))
	assert.ErrorIs(t, h.Unlock(ctx), lock.ErrNotHeld)
	assert.ErrorIs(t, h.Err(), lock.ErrNotHeld)
	select {
	case <-h.Done():
	default:
		t.Fatal("Done still open after Unlock")
	}
}

func TestNewRejectsBadPathsBeforeAnyServerCall(t *testing.T) {
	for _, p := range []string{"", "a", "/a/", "/a//b", "/a/../b", "/a\x00", "/zookeeper/x"} {
		_, err := lock.New(nil, p) // a nil session proves nothing is called
		assert.ErrorIs(t, err, lock.ErrInvalidPath, "%q", p)
	}
}

func TestLockOnCancelledContextFailsWithoutServerCall(t *testing.T) {
	m, err := lock.New(session(t, nil), testPath(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = m.Lock(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	cs, err := m.Contenders(ctxFor(t, time.Minute))
	require.NoError(t, err)
	assert.Empty(t, cs)
}

func TestHoldCarriesGrowingFencingTokensAndGuardsWrites(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	m, err := lock.New(s, path)
	require.NoError(t, err)
	reg := "/" + t.Name() + "-register"
	plainNode(t, s, reg, nil)

	var last int64
	for range 3 {
		h, err := m.Lock(ctx)
		require.NoError(t, err)
		assert.Greater(t, h.Token(), last, "tokens grow in grant order")
		last = h.Token()
		_, err = h.Multi(ctx, &zk.SetDataRequest{Path: reg, Data: []byte(strconv.FormatInt(h.Token(), 10)), Version: -1})
		require.NoError(t, err)
		require.NoError(t, h.Unlock(ctx))
	}
	// A stale hold cannot write: its node is gone, so the guard fails and
	// nothing is applied.
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	_, err = s.Conn().Multi(&zk.DeleteRequest{Path: h.Path(), Version: -1})
	require.NoError(t, err)
	_, err = h.Multi(ctx, &zk.SetDataRequest{Path: reg, Data: []byte("stale"), Version: -1})
	assert.ErrorIs(t, err, lock.ErrLost)
	data, _, err := s.Conn().Get(reg)
	require.NoError(t, err)
	assert.Equal(t, strconv.FormatInt(last, 10), string(data))
	_ = h.Unlock(ctx)
}

func TestDeletedNodeEndsTheHold(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	s := session(t, nil)
	m, err := lock.New(s, testPath(t))
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Conn().Delete(h.Path(), -1))
	select {
	case <-h.Done():
	case <-ctx.Done():
		t.Fatal("Done did not close when the node was deleted")
	}
	assert.ErrorIs(t, h.Err(), recipes.ErrNodeDeleted)
	assert.ErrorIs(t, h.Unlock(ctx), lock.ErrLost)
}

func TestContendersShowsHolderThenWaitersWithIdentity(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	sa := session(t, nil, recipes.WithIdentity([]byte("worker-a")))
	a, err := lock.New(sa, path)
	require.NoError(t, err)
	b, err := lock.New(session(t, nil, recipes.WithIdentity([]byte("worker-b"))), path)
	require.NoError(t, err)
	h, err := a.Lock(ctx)
	require.NoError(t, err)
	got := make(chan *lock.Hold, 1)
	go func() {
		h, err := b.Lock(ctx)
		assert.NoError(t, err)
		got <- h
	}()
	waitContenders(t, ctx, a, 2)
	cs, err := a.Contenders(ctx)
	require.NoError(t, err)
	assert.Equal(t, "worker-a", string(cs[0].Data))
	assert.Equal(t, "worker-b", string(cs[1].Data))
	assert.Equal(t, h.Path(), cs[0].Path)
	assert.Equal(t, sa.ID(), cs[0].Session)
	require.NoError(t, h.Unlock(ctx))
	require.NoError(t, (<-got).Unlock(ctx))
}

func TestNoChildrenRemainAndServerDeletesContainerAfterClientsClose(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	var sessions []*recipes.Session
	var mutexes []*lock.Mutex
	for range 4 {
		s, err := recipes.Connect(ctx, cluster.Servers())
		require.NoError(t, err)
		sessions = append(sessions, s)
		m, err := lock.New(s, path)
		require.NoError(t, err)
		mutexes = append(mutexes, m)
	}
	churn(t, ctx, mutexes, 5)

	// Close with one lock still held and one contender still waiting.
	_, err := mutexes[0].Lock(ctx)
	require.NoError(t, err)
	waiting := make(chan error, 1)
	go func() {
		_, err := mutexes[1].Lock(ctx)
		waiting <- err
	}()
	waitContenders(t, ctx, mutexes[0], 2)
	// The waiter's session first: closing the holder's would grant it.
	require.NoError(t, sessions[1].Close())
	assert.ErrorIs(t, <-waiting, recipes.ErrSessionClosed)
	for _, s := range sessions {
		require.NoError(t, s.Close())
	}

	observer := session(t, nil)
	err = waitFor(ctx, func() bool {
		ok, _, err := observer.Conn().Exists(path)
		return err == nil && !ok
	})
	require.NoError(t, err, "the container parent %s was not deleted", path)
}

func TestLockAfterSessionClosedFails(t *testing.T) {
	s, err := recipes.Connect(ctxFor(t, time.Minute), cluster.Servers())
	require.NoError(t, err)
	m, err := lock.New(s, testPath(t))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	_, err = m.Lock(ctxFor(t, time.Minute))
	assert.True(t, errors.Is(err, recipes.ErrSessionClosed), "got %v", err)
}

// TestHoldOffersExactlyItsVerbs: the core hold's machinery (Release,
// SetData) does not leak through the recipe's hold.
func TestHoldOffersExactlyItsVerbs(t *testing.T) {
	assert.Equal(t, []string{"Context", "Done", "Err", "Extend", "Guard", "Multi", "Path", "RevokeRequested", "Token", "Unlock"}, testutil.Methods[*lock.Hold]())
}
