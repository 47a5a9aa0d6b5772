package barrier_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/internal/wiretest"
	"github.com/zkrecipes/zkrecipes/recipes"
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
	assert.ErrorIs(t, err, recipes.ErrInvalidPath)
	_, err = barrier.NewDouble(nil, "no/slash", 2)
	assert.ErrorIs(t, err, recipes.ErrInvalidPath)
	_, err = barrier.NewDouble(nil, "/ok", 0)
	assert.ErrorContains(t, err, "want at least 1")
}

// TestRemoveAndSetAgainReleasesEveryWaiter: waiters on one shared Session
// and on sessions of their own wait on a barrier; it is removed and set
// again at once (the next phase), round after round. Every waiter of the
// removed barrier returns, although a barrier stands again.
func TestRemoveAndSetAgainReleasesEveryWaiter(t *testing.T) {
	const sharing, alone, rounds = 10, 3, 5
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	var waiting atomic.Int32
	t.Cleanup(barrier.OnWaiting(func() { waiting.Add(1) }))

	setter, err := barrier.New(session(t), path)
	require.NoError(t, err)
	var waiters []*barrier.Barrier
	shared := session(t)
	for i := range sharing + alone {
		s := shared
		if i >= sharing {
			s = session(t)
		}
		w, err := barrier.New(s, path)
		require.NoError(t, err)
		waiters = append(waiters, w)
	}
	require.NoError(t, setter.Set(ctx))
	for r := range rounds {
		waiting.Store(0)
		done := make(chan error, len(waiters))
		for _, w := range waiters {
			go func() { done <- w.Wait(ctx) }()
		}
		require.NoError(t, waitFor(ctx, func() bool { return waiting.Load() == int32(len(waiters)) }),
			"round %d: the waiters never waited", r)
		require.NoError(t, setter.Remove(ctx))
		require.NoError(t, setter.Set(ctx))
		bound, cancel := context.WithTimeout(ctx, 10*time.Second)
		for i := range waiters {
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-bound.Done():
				cancel()
				t.Fatalf("round %d: %d of %d waiters still blocked on a barrier removed 10 s ago",
					r, len(waiters)-i, len(waiters))
			}
		}
		cancel()
	}
	require.NoError(t, setter.Remove(ctx))
}

// TestSetWhoseReplyIsLostSucceedsOnce: the create of the barrier reaches
// the server, its reply is lost and the connection drops. Set retries once
// connected again, finds the barrier it made, and succeeds; the node is
// the one made by the first create.
func TestSetWhoseReplyIsLostSucceedsOnce(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t) + "/barrier"
	observer := session(t)
	// The parent exists, so that the first create is the barrier's own.
	require.NoError(t, core.Of(observer).CreateParents(ctx, testPath(t)))
	p := testutil.Proxy(t, cluster)
	b, err := barrier.New(testutil.Session(t, p.Servers()), path)
	require.NoError(t, err)

	p.BlackholeReplies()
	done := make(chan error, 1)
	go func() { done <- b.Set(ctx) }()
	var czxid int64
	require.NoError(t, waitFor(ctx, func() bool {
		ok, st, err := observer.Conn().Exists(path)
		if err == nil && ok {
			czxid = st.Czxid
		}
		return czxid != 0
	}))
	p.Cut()
	p.Heal()
	require.NoError(t, <-done, "Set whose reply was lost")
	ok, st, err := observer.Conn().Exists(path)
	require.NoError(t, err)
	require.True(t, ok, "the barrier is not set")
	assert.Equal(t, czxid, st.Czxid, "the barrier was made again")
	require.NoError(t, b.Remove(ctx))
}

// TestWaitsThatGiveUpShareOneWatch: Waits with a timeout, one after
// another, on a barrier that stands (a loop that checks now and then)
// read the barrier once, and share the watch that read set. Before, each
// Wait set a watch of its own, and go-zookeeper keeps every watch until
// it fires: they piled up for as long as the barrier stood. Once the
// barrier is removed, a Wait returns.
func TestWaitsThatGiveUpShareOneWatch(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	var reads atomic.Int32
	count := func(op int32, frame []byte) error {
		if op == wiretest.OpGetData && bytes.Contains(frame, []byte(path)) {
			reads.Add(1)
		}
		return nil
	}
	b, err := barrier.New(testutil.Session(t, cluster.Servers(), recipes.WithDialer(wiretest.Dialer(wiretest.Hooks{Request: count}))), path)
	require.NoError(t, err)
	require.NoError(t, b.Set(ctx))
	var waiting atomic.Int32
	t.Cleanup(barrier.OnWaiting(func() { waiting.Add(1) }))
	wait := func() (cancel func(), done <-chan error) {
		wctx, cancel := context.WithCancel(ctx)
		ch := make(chan error, 1)
		n := waiting.Load()
		go func() { ch <- b.Wait(wctx) }()
		require.NoError(t, waitFor(ctx, func() bool { return waiting.Load() > n }))
		return cancel, ch
	}
	for range 20 {
		cancel, done := wait()
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	}
	assert.Equal(t, int32(1), reads.Load(), "reads of the barrier by 20 Waits")

	_, done := wait()
	remover, err := barrier.New(session(t), path)
	require.NoError(t, err)
	require.NoError(t, remover.Remove(ctx))
	require.NoError(t, <-done)
}
