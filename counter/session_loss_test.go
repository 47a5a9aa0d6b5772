package counter_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/counter"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

var quiet = recipes.WithLogger(slog.New(slog.DiscardHandler))

var waitFor = testutil.WaitFor

// TestWritesQueuedAcrossAnExpiryFailAndCountNothing: goroutines sharing a
// Session add and compare-and-set while it is cut off, and its session
// expires meanwhile. Every Add fails with ErrSessionLost; every
// CompareAndSet fails, with ErrSessionLost or, if the connection failed
// it before the expiry was known, the connection's error (its outcome
// unknown, as documented). None of them ran: another session reads the
// count unchanged, at the version it had, and a counter first made by a
// CompareAndSet was not made. A Watch on the lost Session closes.
func TestWritesQueuedAcrossAnExpiryFailAndCountNothing(t *testing.T) {
	testutil.ForReconnects(t, func(t *testing.T, r testutil.Reconnect) {
		ctx := testutil.Ctx(t, time.Minute)
		path := testPath(t)
		p := testutil.Proxy(t, cluster)
		s := testutil.Session(t, r.Servers(p), recipes.WithSessionTimeout(2*time.Second), quiet)
		c, err := counter.New(s, path+"/count")
		require.NoError(t, err)
		fresh, err := counter.New(s, path+"/fresh") // does not exist
		require.NoError(t, err)
		_, err = c.Add(ctx, 5)
		require.NoError(t, err)
		before, err := c.Get(ctx)
		require.NoError(t, err)
		w := c.Watch(ctx)
		require.Equal(t, before, <-w)

		const n = 9
		set := make([]bool, n)
		errs := testutil.QueueAcrossExpiry(t, ctx, cluster, r, p, s, n, []string{"Get", "Set", "Create"}, func(i int) (err error) {
			switch i % 3 {
			case 0:
				_, err = c.Add(ctx, 1)
			case 1:
				set[i], err = c.CompareAndSet(ctx, before, before.N+100)
			case 2:
				set[i], err = fresh.CompareAndSet(ctx, counter.Value{}, 1)
			}
			return err
		})
		for i, err := range errs {
			if i%3 == 0 {
				assert.ErrorIs(t, err, recipes.ErrSessionLost, "add %d", i)
				continue
			}
			assert.False(t, set[i], "compare-and-set %d reported a write", i)
			if !errors.Is(err, zk.ErrNoServer) && !errors.Is(err, zk.ErrConnectionClosed) {
				assert.ErrorIs(t, err, recipes.ErrSessionLost, "compare-and-set %d", i)
			}
		}
		assert.ErrorIs(t, s.Err(), recipes.ErrSessionLost)
		closes(t, ctx, w)

		other := session(t)
		c, err = counter.New(other, path+"/count")
		require.NoError(t, err)
		after, err := c.Get(ctx)
		require.NoError(t, err)
		assert.Equal(t, before, after, "a write queued across the expiry ran")
		fresh, err = counter.New(other, path+"/fresh")
		require.NoError(t, err)
		v, err := fresh.Get(ctx)
		require.NoError(t, err)
		assert.False(t, v.Exists, "a create queued across the expiry ran")
	})
}

// closes waits until w closes, draining it.
func closes(t *testing.T, ctx context.Context, w <-chan counter.Value) {
	t.Helper()
	for {
		select {
		case _, ok := <-w:
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatal("the watch of a lost session did not close")
		}
	}
}

// TestAddsQueuedAcrossAConnectionLossCountOnce: goroutines sharing a
// Session add while its connection is down; the connection fails their
// reads, and comes back to the session, which lived on. Every Add reads
// again and adds once (before the fix, each returned "zk: could not
// connect to a server", though it had written nothing).
func TestAddsQueuedAcrossAConnectionLossCountOnce(t *testing.T) {
	ctx := testutil.Ctx(t, time.Minute)
	path := testPath(t)
	p := testutil.Proxy(t, cluster)
	// The server hears the client throughout: the session lives.
	s := testutil.Session(t, p.Servers(), recipes.WithSessionTimeout(4*time.Second), quiet)
	c, err := counter.New(s, path)
	require.NoError(t, err)
	start, err := c.Add(ctx, 5) // the node outlives the test: count from here
	require.NoError(t, err)

	p.BlackholeReplies()
	require.NoError(t, waitFor(ctx, func() bool { return s.Conn().State() == zk.StateConnected }))
	const n = 4
	sums := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { sums[i], errs[i] = c.Add(ctx, 1) })
	}
	testutil.WaitQueued(t, ctx, func(q int) bool { return q >= n }, "Get")
	p.Cut() // the connection fails what it queued
	testutil.WaitQueued(t, ctx, func(q int) bool { return q == 0 }, "Get")
	p.Heal()
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "add %d", i)
	}
	assert.ElementsMatch(t, []int64{start + 1, start + 2, start + 3, start + 4}, sums, "each Add saw a count of its own")
	require.NoError(t, s.Err(), "the session did not live on")
	v, err := counter.New(session(t), path)
	require.NoError(t, err)
	got, err := v.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, start+n, got.N)
}
