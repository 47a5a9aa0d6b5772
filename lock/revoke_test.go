package lock_test

import (
	"context"
	pathpkg "path"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestRevokeAsksTheHolderAndEndsNothing: a revocation request reaches the
// holder and a named waiter, ends neither, and leaves the holder's node
// as it was (its max hold declared): the hold stays trusted, its guarded
// writes go through, and the waiter is granted once the holder lets go.
func TestRevokeAsksTheHolderAndEndsNothing(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil)
	m, err := lock.New(s, path, lock.WithMaxHold(time.Minute))
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	before, _, err := s.Conn().Get(h.Path())
	require.NoError(t, err)

	got := make(chan *lock.Hold, 1)
	go func() {
		w, err := m.Lock(ctx) // a waiter on the same Session
		assert.NoError(t, err)
		got <- w
	}()
	waitContenders(t, ctx, m, 2)

	asker := session(t, nil)
	asked, err := recipes.Revoke(ctx, asker, path)
	require.NoError(t, err)
	require.Len(t, asked, 1, "only the holder is asked")
	assert.Equal(t, h.Path(), asked[0].Path)
	select {
	case <-h.RevokeRequested():
	case <-ctx.Done():
		t.Fatal("the holder was not told")
	}
	require.NoError(t, waitFor(ctx, func() bool {
		data, _, err := s.Conn().Get(h.Path())
		return err == nil && string(data) == string(before)
	}), "the holder's data was not put back")
	assert.NoError(t, h.Err(), "a request ended the hold")
	_, err = h.Multi(ctx, &zk.CheckVersionRequest{Path: "/", Version: -1})
	assert.NoError(t, err, "the guard does not follow the restored node")

	cs, err := m.Contenders(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 2)
	_, err = recipes.Revoke(ctx, asker, path, cs[1].Name) // the waiter, by name
	require.NoError(t, err)
	_, err = recipes.Revoke(ctx, asker, path, "lock-0000000999")
	assert.Error(t, err, "a node that is not a contender was asked")

	require.NoError(t, h.Unlock(ctx))
	w := <-got
	require.NotNil(t, w)
	select {
	case <-w.RevokeRequested():
	default:
		t.Fatal("the waiter asked by name was not told")
	}
	assert.NoError(t, w.Err())
	require.NoError(t, w.Unlock(ctx))
}

// TestRevokeRequestsPutNoEvictionOff: requests sent again and again to a
// hung holder with a max hold do not reset the waiter's count: it evicts
// the holder on time.
func TestRevokeRequestsPutNoEvictionOff(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	const maxHold = 500 * time.Millisecond
	hung, err := maxHoldMutex(t, path, maxHold).Lock(ctx)
	require.NoError(t, err)
	asker := session(t, nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_, _ = recipes.Revoke(ctx, asker, path, pathpkg.Base(hung.Path()))
			}
		}
	}()
	defer func() { close(stop); <-done }()

	t0 := time.Now()
	next, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	h, err := next.Lock(ctx)
	require.NoError(t, err)
	waited := time.Since(t0)
	t.Logf("granted %v after it began waiting, under a request every 50ms", waited)
	assert.Less(t, waited, maxHold+recipes.EvictionMargin+time.Second, "the requests put the eviction off")
	assert.ErrorIs(t, hung.Err(), lock.ErrMaxHoldExceeded)
	require.NoError(t, h.Unlock(ctx))
}

// TestWritesRaceRevokeRequestsAndWin: an Extend or a guarded Multi that
// races a revocation request (its version check fails on the request's
// version, or on the restore after it) is sent again; the hold is never
// ended by a request. Any other write still ends it.
func TestWritesRaceRevokeRequestsAndWin(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	h, err := maxHoldMutex(t, path, time.Minute).Lock(ctx)
	require.NoError(t, err)
	other := session(t, nil)
	reg := path + "-register"
	plainNode(t, other, reg, nil)
	for i := range 30 {
		_, err := other.Conn().Set(h.Path(), []byte("__REVOKE__"), -1)
		require.NoError(t, err)
		if i%2 == 0 {
			require.NoError(t, h.Extend(ctx, time.Minute), "round %d", i)
		} else {
			_, err = h.Multi(ctx, &zk.SetDataRequest{Path: reg, Data: []byte{byte(i)}, Version: -1})
			require.NoError(t, err, "round %d", i)
		}
		require.NoError(t, h.Err(), "round %d", i)
	}
	var data []byte
	require.NoError(t, waitFor(ctx, func() bool { // the last request's restore runs in the background
		data, _, err = other.Conn().Get(h.Path())
		d, ok := core.DeclaredMaxHold(data)
		return err == nil && ok && d == time.Minute
	}), "the max hold is not declared again: %q", data)
	assert.NoError(t, h.Err())

	_, err = other.Conn().Set(h.Path(), []byte("someone else's"), -1)
	require.NoError(t, err)
	select {
	case <-h.Done():
		assert.ErrorIs(t, h.Err(), recipes.ErrNodeMismatch, "any other write still ends the hold")
	case <-ctx.Done():
		t.Fatal("a foreign write did not end the hold")
	}
	_ = h.Unlock(context.Background())
}
