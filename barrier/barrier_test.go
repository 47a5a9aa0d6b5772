package barrier_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/barrier"
)

func TestBarrierHoldsWaitersUntilRemoved(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	b, err := barrier.New(session(t), path)
	require.NoError(t, err)
	require.NoError(t, b.Wait(ctx), "waiting on a barrier that is not set returns at once")

	require.NoError(t, b.Set(ctx))
	require.NoError(t, b.Set(ctx), "setting twice")
	released := make(chan error, 3)
	for range 3 {
		w, err := barrier.New(session(t), path)
		require.NoError(t, err)
		go func() { released <- w.Wait(ctx) }()
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, b.Wait(short), context.DeadlineExceeded, "Wait returned while the barrier is set")
	assert.Len(t, released, 0)

	require.NoError(t, b.Remove(ctx))
	for range 3 {
		require.NoError(t, <-released)
	}
	require.NoError(t, b.Remove(ctx), "removing twice")
}

func TestBarrierRejectsBadPath(t *testing.T) {
	_, err := barrier.New(nil, "no/slash")
	assert.Error(t, err)
	_, err = barrier.NewDouble(nil, "/ok", 0)
	assert.Error(t, err)
}
