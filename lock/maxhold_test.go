package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/wiretest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

func maxHoldMutex(t *testing.T, path string, d time.Duration) *lock.Mutex {
	t.Helper()
	m, err := lock.New(session(t, nil), path, lock.WithMaxHold(d))
	require.NoError(t, err)
	return m
}

// TestHungHolderIsEvictedAfterItsMaxHold: a holder that declared a max
// hold hangs with its session alive. Its context ends at the max hold
// (ErrMaxHoldExceeded); the waiter next in line deletes its node once the
// margin has passed too, and is granted, long before a session timeout;
// the holder's late guarded write is refused, and its token is older.
func TestHungHolderIsEvictedAfterItsMaxHold(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	const maxHold = 500 * time.Millisecond
	hungSession := session(t, nil)
	hungMutex, err := lock.New(hungSession, path, lock.WithMaxHold(maxHold))
	require.NoError(t, err)
	hung, err := hungMutex.Lock(ctx)
	require.NoError(t, err)

	t0 := time.Now()
	next, err := lock.New(session(t, nil), path) // any of our waiters enforces
	require.NoError(t, err)
	h, err := next.Lock(ctx)
	require.NoError(t, err)
	waited := time.Since(t0)
	t.Logf("granted %v after it began waiting", waited)
	assert.GreaterOrEqual(t, waited, maxHold+recipes.EvictionMargin-100*time.Millisecond, "evicted before the margin")
	assert.Less(t, waited, recipes.DefaultSessionTimeout, "no faster than an expiry")

	select {
	case <-hung.Done():
	default:
		t.Fatal("the evicted holder is still trusted")
	}
	assert.ErrorIs(t, hung.Err(), lock.ErrMaxHoldExceeded)
	assert.ErrorIs(t, hung.Err(), lock.ErrLost)
	_, err = hung.Multi(ctx, &zk.CheckVersionRequest{Path: "/", Version: -1})
	assert.Error(t, err, "a late guarded write of the evicted holder went through")
	// The server refuses it too: Multi above is refused by the hold
	// itself, which knows it was evicted; a process that learns late
	// sends its guard anyway.
	_, err = hungSession.Conn().Multi(hung.Guard(), &zk.CheckVersionRequest{Path: "/", Version: -1})
	assert.ErrorIs(t, err, zk.ErrNoNode, "the server let the evicted holder's guard through")
	assert.Greater(t, h.Token(), hung.Token())
	require.NoError(t, h.Unlock(ctx))
	assert.ErrorIs(t, hung.Unlock(ctx), lock.ErrMaxHoldExceeded)
}

// TestAHungHolderIsEvictedFromBehindAWaiterThatEnforcesNothing: between
// a hung holder with a max hold and our waiter waits a contender that
// enforces no max hold (a Curator or Kazoo process, here a bare node). Our
// waiter watches the holder as the node two ahead, and evicts it; then it
// waits for the contender, as it must. Before, no one evicted the holder.
func TestAHungHolderIsEvictedFromBehindAWaiterThatEnforcesNothing(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	hung, err := maxHoldMutex(t, path, 300*time.Millisecond).Lock(ctx)
	require.NoError(t, err)
	other := session(t, nil)
	foreign, err := other.Conn().Create(path+"/_c_"+uuid.NewString()+"-lock-", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	next, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	granted := make(chan error, 1)
	go func() {
		h, err := next.Lock(ctx)
		if err == nil {
			err = h.Unlock(ctx)
		}
		granted <- err
	}()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, waitFor(wctx, func() bool {
		ok, _, err := other.Conn().Exists(hung.Path())
		return err == nil && !ok
	}), "the hung holder was not evicted")
	assert.ErrorIs(t, hung.Err(), lock.ErrMaxHoldExceeded)
	select {
	case err := <-granted:
		t.Fatalf("granted (%v) while the foreign contender waits ahead", err)
	default:
	}
	require.NoError(t, other.Conn().Delete(foreign, -1))
	require.NoError(t, <-granted)
}

// TestHoldersWithinTheirMaxHoldAreNeverEvicted: holders that unlock in
// time, round after round, with waiters behind them, are never evicted
// and never lose a hold.
func TestHoldersWithinTheirMaxHoldAreNeverEvicted(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	done := make(chan struct{})
	for range 3 {
		m := maxHoldMutex(t, path, 300*time.Millisecond)
		go func() {
			defer func() { done <- struct{}{} }()
			for range 10 {
				h, err := m.Lock(ctx)
				if !assert.NoError(t, err) {
					return
				}
				time.Sleep(20 * time.Millisecond) // the work, well within the limit
				assert.NoError(t, h.Err())
				assert.NoError(t, h.Unlock(ctx))
			}
		}()
	}
	for range 3 {
		<-done
	}
}

// TestExtendMovesTheLimit: a holder extends its max hold; the waiter times
// the new one, and is not granted when the old one (and the margin) would
// have passed.
func TestExtendMovesTheLimit(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	h, err := maxHoldMutex(t, path, 300*time.Millisecond).Lock(ctx)
	require.NoError(t, err)
	require.NoError(t, h.Extend(ctx, 5*time.Second))
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond+recipes.EvictionMargin+500*time.Millisecond)
	defer cancel()
	_, err = maxHoldMutex(t, path, time.Second).Lock(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "granted past the old limit despite the extension")
	assert.NoError(t, h.Err())
	require.NoError(t, h.Unlock(ctx))

	plain, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	p, err := plain.Lock(ctx)
	require.NoError(t, err)
	assert.Error(t, p.Extend(ctx, time.Second), "a hold without a max hold cannot be extended")
	require.NoError(t, p.Unlock(ctx))
}

// TestTheNextWaiterTakesOverTheDuty: the waiter next in line gives up
// while the holder hangs; the one behind it becomes next, times the holder
// itself, and evicts it.
func TestTheNextWaiterTakesOverTheDuty(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	hung, err := maxHoldMutex(t, path, 300*time.Millisecond).Lock(ctx)
	require.NoError(t, err)
	quitter, cancel := context.WithCancel(ctx)
	first := maxHoldMutex(t, path, time.Second)
	go first.Lock(quitter)
	waitContenders(t, ctx, first, 2)
	got := make(chan *lock.Hold, 1)
	go func() {
		h, err := maxHoldMutex(t, path, time.Second).Lock(ctx)
		assert.NoError(t, err)
		got <- h
	}()
	waitContenders(t, ctx, first, 3)
	cancel()
	h := <-got
	require.NotNil(t, h)
	assert.ErrorIs(t, hung.Err(), lock.ErrMaxHoldExceeded)
	require.NoError(t, h.Unlock(ctx))
}

// TestEvictionOnAnEnsemble: on a 3-node ensemble, with the hung holder,
// the waiter next in line and the one behind it each connected to a member
// of its own, the waiter next in line gives up while the holder hangs, and
// the one behind it takes over the duty and evicts the holder after its
// max hold and the margin: each learns of the queue from its own member.
func TestEvictionOnAnEnsemble(t *testing.T) {
	c := zktest.Start(t, zktest.WithEnsemble(3))
	ctx := ctxFor(t, time.Minute)
	direct, err := c.DirectServers(ctx)
	require.NoError(t, err)
	path := testPath(t)
	const maxHold = 500 * time.Millisecond
	on := func(i int) *lock.Mutex {
		m, err := lock.New(session(t, direct[i:i+1]), path, lock.WithMaxHold(time.Minute))
		require.NoError(t, err)
		return m
	}
	limited, err := lock.New(session(t, direct[:1]), path, lock.WithMaxHold(maxHold))
	require.NoError(t, err)
	hung, err := limited.Lock(ctx)
	require.NoError(t, err)

	quitter, cancel := context.WithCancel(ctx)
	first := on(1)
	go first.Lock(quitter)
	waitContenders(t, ctx, first, 2)
	t0 := time.Now()
	got := make(chan *lock.Hold, 1)
	go func() {
		h, err := on(2).Lock(ctx)
		assert.NoError(t, err)
		got <- h
	}()
	waitContenders(t, ctx, first, 3)
	cancel()
	h := <-got
	require.NotNil(t, h)
	waited := time.Since(t0)
	t.Logf("granted %v after it began waiting", waited)
	assert.GreaterOrEqual(t, waited, maxHold+recipes.EvictionMargin-200*time.Millisecond, "evicted before the margin")
	assert.Less(t, waited, recipes.DefaultSessionTimeout, "no faster than an expiry")
	select {
	case <-hung.Done():
	case <-ctx.Done():
		t.Fatal("the evicted holder is still trusted")
	}
	assert.ErrorIs(t, hung.Err(), lock.ErrMaxHoldExceeded)
	assert.Greater(t, h.Token(), hung.Token())
	require.NoError(t, h.Unlock(ctx))
}

// TestACallDoesNotWaitPastItsCtxForAnotherWrite: an Extend's write is in
// flight, unanswered, when another goroutine calls Multi on the same hold
// with a short ctx. The hold's writes go one at a time and a Multi waits
// for a write, but only until its ctx ends: it returns ctx.Err() while the
// Extend is still out. Before, it waited for the Extend's answer (up to
// two thirds of a session timeout with the server silent).
func TestACallDoesNotWaitPastItsCtxForAnotherWrite(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	gate := wiretest.NewGate(wiretest.OpSetData)
	s := session(t, nil, recipes.WithDialer(gate.Dialer()))
	m, err := lock.New(s, path, lock.WithMaxHold(time.Minute))
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	defer h.Unlock(ctx)

	gate.Arm(0)
	extended := make(chan error, 1)
	go func() { extended <- h.Extend(ctx, 2*time.Minute) }()
	<-gate.Held()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	multi := make(chan error, 1)
	go func() {
		_, err := h.Multi(short, &zk.CheckVersionRequest{Path: path, Version: -1})
		multi <- err
	}()
	select {
	case err := <-multi:
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	case err := <-extended:
		t.Fatalf("Extend returned (%v) before Multi, whose ctx had ended", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Multi waited past its ctx for the Extend in flight")
	}
	gate.Release()
	require.NoError(t, <-extended)
	assert.NoError(t, h.Err())
}
