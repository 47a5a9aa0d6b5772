package lock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// TestMutexAndWriterOnOnePathExcludeEachOther is defect 7 of issue 15: any
// node a known recipe or client made blocks an exclusive hold, so a mutex
// and a read-write lock on one path never both hold.
func TestMutexAndWriterOnOnePathExcludeEachOther(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t, nil) // one Session, as a service has
	m, err := lock.New(s, path)
	require.NoError(t, err)
	rw, err := rwlock.New(s, path)
	require.NoError(t, err)

	h, err := m.Lock(ctx)
	require.NoError(t, err)
	_, err = rw.TryLock(ctx)
	assert.ErrorIs(t, err, recipes.ErrWouldBlock, "a writer held beside a mutex")
	_, err = rw.TryRLock(ctx)
	assert.ErrorIs(t, err, recipes.ErrWouldBlock, "a reader held beside a mutex")
	require.NoError(t, h.Unlock(ctx))

	w, err := rw.Lock(ctx)
	require.NoError(t, err)
	_, err = m.TryLock(ctx)
	assert.ErrorIs(t, err, lock.ErrLocked, "a mutex held beside a writer")
	require.NoError(t, w.Unlock(ctx))

	r, err := rw.RLock(ctx)
	require.NoError(t, err)
	_, err = m.TryLock(ctx)
	assert.ErrorIs(t, err, lock.ErrLocked, "a mutex held beside a reader")
	got := make(chan error, 1)
	go func() {
		h, err := m.Lock(ctx)
		if err == nil {
			err = h.Unlock(ctx)
		}
		got <- err
	}()
	waitContenders(t, ctx, m, 2)
	require.NoError(t, r.Unlock(ctx))
	require.NoError(t, <-got)
}
