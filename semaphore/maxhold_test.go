package semaphore_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/internal/wiretest"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

func limitedSem(t *testing.T, path string, max int, d time.Duration) *semaphore.Semaphore {
	t.Helper()
	m, err := semaphore.New(session(t, nil), path, max, semaphore.WithMaxHold(d))
	require.NoError(t, err)
	return m
}

// TestHungLeasesAreEvictedAfterTheirMaxHold: both leases of a semaphore
// of 2 are held by holders that hang with their sessions alive. An
// acquirer (without the option) waits; once the max hold and the margin
// have passed since it listed them, it deletes them and is granted, long
// before a session timeout. The hung leases end with ErrMaxHoldExceeded,
// and their late guarded writes are refused.
func TestHungLeasesAreEvictedAfterTheirMaxHold(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	const maxHold = 500 * time.Millisecond
	var hung []*semaphore.Lease
	for range 2 {
		l, err := limitedSem(t, path, 2, maxHold).Acquire(ctx)
		require.NoError(t, err)
		hung = append(hung, l)
	}
	t0 := time.Now()
	l, err := newSem(t, session(t, nil), path, 2).Acquire(ctx)
	require.NoError(t, err)
	waited := time.Since(t0)
	t.Logf("granted %v after it began waiting", waited)
	assert.GreaterOrEqual(t, waited, maxHold+recipes.EvictionMargin-100*time.Millisecond, "evicted before the margin")
	assert.Less(t, waited, recipes.DefaultSessionTimeout, "no faster than an expiry")
	for _, h := range hung {
		select {
		case <-h.Done():
		case <-ctx.Done():
			t.Fatal("an evicted lease is still trusted")
		}
		assert.ErrorIs(t, h.Err(), semaphore.ErrMaxHoldExceeded)
		_, err := h.Multi(ctx, &zk.CheckVersionRequest{Path: "/", Version: -1})
		assert.Error(t, err, "a late guarded write of an evicted lease went through")
	}
	require.NoError(t, l.Unlock(ctx))
}

// TestLeasesWithinTheirMaxHoldAreNeverEvicted: leases held for most of
// their limit, with acquirers waiting long enough to read and time them,
// are returned in time and never evicted.
func TestLeasesWithinTheirMaxHoldAreNeverEvicted(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	var wg sync.WaitGroup
	for range 3 {
		m := limitedSem(t, path, 1, 1500*time.Millisecond)
		wg.Go(func() {
			for range 2 {
				l, err := m.Acquire(ctx)
				if !assert.NoError(t, err) {
					return
				}
				time.Sleep(1200 * time.Millisecond) // the work: longer than the margin, within the limit
				assert.NoError(t, l.Err())
				assert.NoError(t, l.Unlock(ctx))
			}
		})
	}
	wg.Wait()
}

// TestExtendMovesALeasesLimit: a lease extended past its first limit is
// not evicted when the first one (and the margin) have passed.
func TestExtendMovesALeasesLimit(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	l, err := limitedSem(t, path, 1, 300*time.Millisecond).Acquire(ctx)
	require.NoError(t, err)
	require.NoError(t, l.Extend(ctx, 10*time.Second))
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond+recipes.EvictionMargin+time.Second)
	defer cancel()
	_, err = newSem(t, session(t, nil), path, 1).Acquire(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "granted past the old limit despite the extension")
	assert.NoError(t, l.Err())
	require.NoError(t, l.Unlock(ctx))
}

// TestAnUnreadableLeaseDoesNotFailTheAcquirer: the last lease is another
// client's node whose ACL forbids us to read it. The acquirer waits past
// the first EvictionMargin, when it reads the leases to time their max
// holds, and reads that one's stat instead: it declares nothing we can
// see, so we have no duty towards it, and the acquirer waits on. Before,
// the read's ErrNoAuth failed the acquisition.
func TestAnUnreadableLeaseDoesNotFailTheAcquirer(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	admin := session(t, nil)
	require.NoError(t, core.Of(admin).CreateParents(ctx, path+"/leases"))
	foreign, err := admin.Conn().Create(path+"/leases/_c_"+uuid.NewString()+"-lease-", nil, zk.FlagEphemeral|zk.FlagSequence, zk.DigestACL(zk.PermAll, "someone", "secret"))
	require.NoError(t, err)
	stated := make(chan struct{})
	var once sync.Once
	hook := func(op int32, frame []byte) error {
		if op == wiretest.OpExists && bytes.Contains(frame, []byte(foreign)) {
			once.Do(func() { close(stated) })
		}
		return nil
	}
	m := newSem(t, session(t, nil, recipes.WithDialer(wiretest.Dialer(wiretest.Hooks{Request: hook}))), path, 1)
	got := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx)
		if err == nil {
			err = l.Unlock(ctx)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the acquirer ended (%v) with the last lease another client's", err)
	case <-stated:
	}
	require.NoError(t, admin.Conn().Delete(foreign, -1))
	require.NoError(t, <-got)
}
