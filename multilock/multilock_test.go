package multilock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/multilock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

func mutex(t *testing.T, s *recipes.Session, path string) *lock.Mutex {
	t.Helper()
	m, err := lock.New(s, path)
	require.NoError(t, err)
	return m
}

// TestOppositeOrdersNeverDeadlock: goroutines on one Session and on
// Sessions of their own lock the same two paths, half of them listing the
// parts in the opposite order, round after round. Taken in the callers'
// order, they would deadlock; taken in path order, every round completes,
// and no two hold either path at once.
func TestOppositeOrdersNeverDeadlock(t *testing.T) {
	const workers, rounds = 6, 10
	ctx := ctxFor(t, time.Minute)
	a, b := testPath(t)+"/a", testPath(t)+"/b"
	shared := session(t)
	var inside [2]int32
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range workers {
		s := shared
		if i%2 == 1 {
			s = session(t)
		}
		ma, mb := mutex(t, s, a), mutex(t, s, b)
		parts := []multilock.Part{multilock.Mutex(ma), multilock.Mutex(mb)}
		if i%2 == 0 {
			parts[0], parts[1] = parts[1], parts[0]
		}
		wg.Go(func() {
			for range rounds {
				h, err := multilock.Lock(ctx, parts...)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				inside[0]++
				inside[1]++
				assert.Equal(t, [2]int32{1, 1}, inside, "two holders of one path")
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				inside[0]--
				inside[1]--
				mu.Unlock()
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	wg.Wait()
	assert.Empty(t, testutil.Children(t, shared, a))
	assert.Empty(t, testutil.Children(t, shared, b))
}

// TestAllOrNothing: with one path held elsewhere, a Lock over it and a
// free one holds the free one while it waits; when its ctx ends, it gives
// that back and leaves no node on either path.
func TestAllOrNothing(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	a, b := testPath(t)+"/a", testPath(t)+"/b"
	s := session(t)
	other, err := mutex(t, session(t), b).Lock(ctx)
	require.NoError(t, err)

	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := multilock.Lock(wctx, multilock.Mutex(mutex(t, s, b)), multilock.Mutex(mutex(t, s, a)))
		done <- err
	}()
	require.NoError(t, waitFor(ctx, func() bool { return len(testutil.Children(t, s, a)) == 1 && len(testutil.Children(t, s, b)) == 2 }),
		"never held a while waiting for b: %v, %v", testutil.Children(t, s, a), testutil.Children(t, s, b))
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, waitFor(ctx, func() bool { return len(testutil.Children(t, s, a)) == 0 && len(testutil.Children(t, s, b)) == 1 }),
		"left behind: %v, %v", testutil.Children(t, s, a), testutil.Children(t, s, b))
	h, err := mutex(t, session(t), a).TryLock(ctx)
	require.NoError(t, err, "a is still held")
	require.NoError(t, h.Unlock(ctx))
	require.NoError(t, other.Unlock(ctx))
}

// TestAPartLostWhileWaitingEndsTheLock: a Lock holds a and waits for b;
// a's node is deleted meanwhile. Lock stops waiting, says why, and leaves
// no node; it would otherwise wait on, holding nothing it could trust.
func TestAPartLostWhileWaitingEndsTheLock(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	a, b := testPath(t)+"/a", testPath(t)+"/b"
	s := session(t)
	other, err := mutex(t, session(t), b).Lock(ctx)
	require.NoError(t, err)
	defer other.Unlock(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := multilock.Lock(ctx, multilock.Mutex(mutex(t, s, a)), multilock.Mutex(mutex(t, s, b)))
		done <- err
	}()
	require.NoError(t, waitFor(ctx, func() bool { return len(testutil.Children(t, s, a)) == 1 && len(testutil.Children(t, s, b)) == 2 }))
	require.NoError(t, session(t).Conn().Delete(a+"/"+testutil.Children(t, s, a)[0], -1))
	err = <-done
	assert.ErrorIs(t, err, recipes.ErrNodeDeleted)
	assert.ErrorContains(t, err, a)
	require.NoError(t, waitFor(ctx, func() bool { return len(testutil.Children(t, s, a)) == 0 && len(testutil.Children(t, s, b)) == 1 }),
		"left behind: %v, %v", testutil.Children(t, s, a), testutil.Children(t, s, b))
}

// TestMultiNamesThePartWhoseGuardFailed: the parts are on two sessions,
// the second behind a slow link, so that it has not yet heard that its
// node is gone when Multi goes out on the first part's session: the
// server refuses the transaction on the second part's guard, and the
// error says so.
func TestMultiNamesThePartWhoseGuardFailed(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	a, b := testPath(t)+"/a", testPath(t)+"/b"
	p := testutil.Proxy(t, cluster)
	slow := testutil.Session(t, p.Servers(), recipes.WithTolerateSuspension())
	h, err := multilock.Lock(ctx, multilock.Mutex(mutex(t, session(t), a)), multilock.Mutex(mutex(t, slow, b)))
	require.NoError(t, err)
	p.Delay(2 * time.Second)
	require.NoError(t, session(t).Conn().Delete(h.Holds()[1].Path(), -1))
	reg := testPath(t) + "-register"
	_, err = h.Multi(ctx, &zk.CreateRequest{Path: reg, Acl: zk.WorldACL(zk.PermAll)})
	require.Error(t, err)
	assert.ErrorIs(t, err, recipes.ErrNodeDeleted)
	assert.ErrorContains(t, err, h.Holds()[1].Path())
	ok, _, err := session(t).Conn().Exists(reg)
	require.NoError(t, err)
	assert.False(t, ok, "written although a guard failed")
	p.Delay(0)
	<-h.Done()
	h.Unlock(ctx)
}

// TestMultiAfterARevocationRequestOnAPartIsSentAgain: a revocation
// request written to a part other than the first moves that part's
// version, so the transaction's guard on it fails; as Holding.Multi does,
// the multi-lock reads the part, sees the request, and sends the
// transaction again: it is written, and the hold stays. Before, it
// returned ErrNodeDeleted for a part that was still held. A write by
// another client ends the part, and the hold, with ErrNodeMismatch.
func TestMultiAfterARevocationRequestOnAPartIsSentAgain(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	a, b := testPath(t)+"/a", testPath(t)+"/b"
	s := session(t)
	h, err := multilock.Lock(ctx, multilock.Mutex(mutex(t, s, a)), multilock.Mutex(mutex(t, s, b)))
	require.NoError(t, err)
	defer h.Unlock(ctx)
	other := session(t)
	_, err = recipes.Revoke(ctx, other, b)
	require.NoError(t, err)
	reg := testPath(t) + "-register"
	_, err = h.Multi(ctx, &zk.CreateRequest{Path: reg, Acl: zk.WorldACL(zk.PermAll)})
	require.NoError(t, err)
	ok, _, err := other.Conn().Exists(reg)
	require.NoError(t, err)
	assert.True(t, ok, "not written")
	require.NoError(t, h.Err())

	_, err = other.Conn().Set(h.Holds()[1].Path(), []byte("someone else's"), -1)
	require.NoError(t, err)
	_, err = h.Multi(ctx, &zk.DeleteRequest{Path: reg, Version: -1})
	assert.ErrorIs(t, err, recipes.ErrNodeMismatch)
	<-h.Done()
	assert.ErrorIs(t, h.Err(), recipes.ErrNodeMismatch)
	ok, _, err = other.Conn().Exists(reg)
	require.NoError(t, err)
	assert.True(t, ok, "written although a guard failed")
	require.NoError(t, other.Conn().Delete(reg, -1))
}

// TestBadPartsAreErrors: no parts, a zero part, a nil lock: errors, never
// a panic.
func TestBadPartsAreErrors(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	_, err := multilock.Lock(ctx)
	assert.Error(t, err)
	_, err = multilock.Lock(ctx, multilock.Part{})
	assert.Error(t, err)
	_, err = multilock.Lock(ctx, multilock.Mutex(nil), multilock.Lease(nil))
	assert.Error(t, err)
}

// TestMixedPartsHoldTogetherAndEndTogether: a mutex, a read hold and a
// lease are taken together; Multi writes only while all are held; when
// one part's node is deleted, the whole hold ends, and Multi refuses.
func TestMixedPartsHoldTogetherAndEndTogether(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	base := testPath(t)
	s := session(t)
	rw, err := rwlock.New(s, base+"/rw")
	require.NoError(t, err)
	sem, err := semaphore.New(s, base+"/sem", 2)
	require.NoError(t, err)
	h, err := multilock.Lock(ctx, multilock.Lease(sem), multilock.Read(rw), multilock.Mutex(mutex(t, s, base+"/m")))
	require.NoError(t, err)
	var paths []string
	for _, p := range h.Holds() {
		paths = append(paths, p.Path()[:len(base)+2])
		assert.Positive(t, p.Token())
	}
	assert.Equal(t, []string{base + "/m", base + "/r", base + "/s"}, paths, "taken in path order")

	reg := base + "-register"
	_, err = s.Conn().Create(reg, []byte("0"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	t.Cleanup(func() { s.Conn().Delete(reg, -1) })
	res, err := h.Multi(ctx, &zk.SetDataRequest{Path: reg, Data: []byte("1"), Version: -1})
	require.NoError(t, err)
	require.Len(t, res, 1)

	admin := session(t)
	require.NoError(t, admin.Conn().Delete(h.Holds()[1].Path(), -1)) // the read hold's node
	select {
	case <-h.Done():
	case <-ctx.Done():
		t.Fatal("the hold outlived one of its parts")
	}
	assert.ErrorIs(t, h.Err(), recipes.ErrNodeDeleted)
	_, err = h.Multi(ctx, &zk.SetDataRequest{Path: reg, Data: []byte("2"), Version: -1})
	assert.Error(t, err)
	data, _, err := s.Conn().Get(reg)
	require.NoError(t, err)
	assert.Equal(t, "1", string(data))
	assert.ErrorIs(t, h.Unlock(ctx), recipes.ErrNodeDeleted)
	assert.Empty(t, testutil.Children(t, s, base+"/m"))
	assert.Empty(t, testutil.Children(t, s, base+"/sem/leases"))
}

func TestTwoPartsOnOnePathAreRefused(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	s := session(t)
	rw, err := rwlock.New(s, testPath(t))
	require.NoError(t, err)
	_, err = multilock.Lock(ctx, multilock.Read(rw), multilock.Write(rw))
	assert.ErrorIs(t, err, multilock.ErrDuplicate)
}

// TestTryLockTakesAllOrNone: TryLock over a mutex, a read hold and a lease
// fails at once, with the blocked part's own error, when any one of them
// is held against it, and leaves no node of its own on any path; with
// nothing held against it, it takes them all.
func TestTryLockTakesAllOrNone(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	base := testPath(t)
	s, other := session(t), session(t)
	rw, err := rwlock.New(s, base+"/rw")
	require.NoError(t, err)
	sem, err := semaphore.New(s, base+"/sem", 1)
	require.NoError(t, err)
	m := mutex(t, s, base+"/m")
	parts := []multilock.Part{multilock.Mutex(m), multilock.Read(rw), multilock.Lease(sem)}
	ours := func() int {
		n := 0
		for _, p := range []string{base + "/m", base + "/rw", base + "/sem/leases", base + "/sem/locks"} {
			for _, c := range testutil.Children(t, s, p) {
				ok, st, err := s.Conn().Exists(p + "/" + c)
				require.NoError(t, err)
				if ok && st.EphemeralOwner == s.ID() {
					n++
				}
			}
		}
		return n
	}

	otherRW, err := rwlock.New(other, base+"/rw")
	require.NoError(t, err)
	otherSem, err := semaphore.New(other, base+"/sem", 1)
	require.NoError(t, err)
	type unlocker interface{ Unlock(context.Context) error }
	for _, tt := range []struct {
		name string
		hold func() (unlocker, error)
		want error
	}{
		{"mutex", func() (unlocker, error) { return mutex(t, other, base+"/m").Lock(ctx) }, lock.ErrLocked},
		{"read", func() (unlocker, error) { return otherRW.Lock(ctx) }, rwlock.ErrLocked},
		{"lease", func() (unlocker, error) { return otherSem.Acquire(ctx) }, semaphore.ErrNoLease},
	} {
		held, err := tt.hold()
		require.NoError(t, err, tt.name)
		_, err = multilock.TryLock(ctx, parts...)
		assert.ErrorIs(t, err, tt.want, tt.name)
		assert.ErrorIs(t, err, recipes.ErrWouldBlock, tt.name)
		assert.Zero(t, ours(), "%s: TryLock left nodes of its own", tt.name)
		require.NoError(t, held.Unlock(ctx))
	}
	h, err := multilock.TryLock(ctx, parts...)
	require.NoError(t, err)
	assert.Len(t, h.Holds(), 3)
	require.NoError(t, h.Unlock(ctx))
	assert.Zero(t, ours())
}

// TestALockThatLostAPartToACutReturnsWhileCutOff: a Lock holds a and
// waits for b, and its connection is cut off (black-holed, so it does not
// come back): a is lost to the suspension. Lock returns that loss while
// the link is still cut, giving a back in the background. Before, it
// waited to delete a's node until the connection came back: here, never.
func TestALockThatLostAPartToACutReturnsWhileCutOff(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	a, b := testPath(t)+"/a", testPath(t)+"/b"
	p := testutil.Proxy(t, cluster)
	s := testutil.Session(t, p.Servers(), recipes.WithSessionTimeout(2*time.Second))
	other, err := mutex(t, session(t), b).Lock(ctx)
	require.NoError(t, err)
	defer other.Unlock(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := multilock.Lock(context.Background(), multilock.Mutex(mutex(t, s, a)), multilock.Mutex(mutex(t, s, b)))
		done <- err
	}()
	observer := session(t)
	require.NoError(t, waitFor(ctx, func() bool {
		return len(testutil.Children(t, observer, a)) == 1 && len(testutil.Children(t, observer, b)) == 2
	}))
	p.Blackhole()
	defer p.Heal()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, recipes.ErrLost)
		assert.ErrorContains(t, err, a)
	case <-wctx.Done():
		t.Fatal("Lock waited for the connection to give a back")
	}
}
