package rwlock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// TestWriterWaitsForAReaderOfItsOwnSession: goroutines A and B share one
// Session. While A holds the read lock, B's writer is blocked exactly as
// another process's would be (TryLock would block, a Lock that runs out
// of time leaves no node), and B is granted once A unlocks.
func TestWriterWaitsForAReaderOfItsOwnSession(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	m, err := rwlock.New(session(t, nil), testPath(t))
	require.NoError(t, err)

	held, release, done := make(chan *rwlock.Hold), make(chan struct{}), make(chan error, 1)
	go func() { // goroutine A
		r, err := m.RLock(ctx)
		if err != nil {
			done <- err
			close(held)
			return
		}
		held <- r
		<-release
		done <- r.Unlock(ctx)
	}()
	r, ok := <-held
	if !ok {
		require.NoError(t, <-done, "A's RLock")
	}

	// goroutine B: this one
	_, err = m.TryLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked)
	assert.ErrorIs(t, err, recipes.ErrWouldBlock)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = m.Lock(short)
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	waitContenders(t, ctx, m, 1) // the timed-out writer's node is gone: only A's
	require.NoError(t, r.Err(), "A's read hold")

	w := start(t, ctx, m, 2, m.Lock)
	assert.True(t, pending(w), "B's writer got in beside A's reader")
	close(release)
	require.NoError(t, <-done)
	got := <-w
	require.NoError(t, got.err)
	assert.True(t, got.hold.Write())
	require.NoError(t, got.hold.Unlock(ctx))
	assert.ErrorIs(t, got.hold.Unlock(ctx), rwlock.ErrNotHeld)
}

// TestUpgradeWaitsLikeSyncRWMutex: one goroutine holds the read lock and
// calls Lock. As with sync.RWMutex it waits for itself; here until its ctx
// ends, leaving no node and the read hold intact.
func TestUpgradeWaitsLikeSyncRWMutex(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	m := newRW(t, testPath(t))
	r, err := m.RLock(ctx)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = m.Lock(short)
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	waitContenders(t, ctx, m, 1)
	require.NoError(t, r.Err())
	assert.Error(t, r.Downgrade(ctx), "a read hold cannot be downgraded")
	require.NoError(t, r.Unlock(ctx))
	w, err := m.Lock(ctx)
	require.NoError(t, err, "after the read hold is released, Lock works")
	require.NoError(t, w.Unlock(ctx))
}

// TestGoroutinesOfOneSessionKeepWritersAlone is the users' shape: one
// Session shared by goroutines that read and write at once, through one
// RWMutex and through a second one on the same path. Each records the
// stretch in which it held; afterwards no write stretch may overlap any
// other stretch, and reads must have overlapped.
func TestGoroutinesOfOneSessionKeepWritersAlone(t *testing.T) {
	const goroutines, rounds = 8, 10
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	s := session(t, nil)
	var locks [2]*rwlock.RWMutex
	for i := range locks {
		var err error
		locks[i], err = rwlock.New(s, path)
		require.NoError(t, err)
	}

	type stretch struct {
		g        int
		write    bool
		from, to time.Time
	}
	var mu sync.Mutex
	var stretches []stretch
	var wg sync.WaitGroup
	for g := range goroutines {
		m := locks[g%2]
		wg.Go(func() {
			for r := range rounds {
				write := (g+r)%3 == 0
				lock := m.RLock
				if write {
					lock = m.Lock
				}
				h, err := lock(ctx)
				if !assert.NoError(t, err) {
					return
				}
				from := time.Now()
				time.Sleep(2 * time.Millisecond) // stay a little, so that holds can overlap
				assert.NoError(t, h.Err())
				assert.Equal(t, write, h.Write())
				to := time.Now()
				mu.Lock()
				stretches = append(stretches, stretch{g, write, from, to})
				mu.Unlock()
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	wg.Wait()

	require.Len(t, stretches, goroutines*rounds)
	var writes, readsTogether int
	for i, a := range stretches {
		if a.write {
			writes++
		}
		for _, b := range stretches[i+1:] {
			if !a.from.Before(b.to) || !b.from.Before(a.to) {
				continue
			}
			if a.write || b.write {
				t.Errorf("goroutine %d (write %v) and goroutine %d (write %v) held together: [%v, %v] and [%v, %v]",
					a.g, a.write, b.g, b.write, a.from, a.to, b.from, b.to)
			} else {
				readsTogether++
			}
		}
	}
	assert.Positive(t, writes)
	assert.Positive(t, readsTogether, "readers never held together")
	t.Logf("%d writes; %d pairs of reads held together", writes, readsTogether)
}
