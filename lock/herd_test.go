package lock_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestRequestsPerAcquisitionStayConstantAsWaitersGrow counts, on the
// server, every request made while n waiters queue behind a holder and then
// take the lock one after another. Each waiter watches only its
// predecessor, so a release wakes one waiter and the count per acquisition
// is the same for 20 and for 200 waiters; a herd (everyone re-listing on
// every release) would make it grow with n.
func TestRequestsPerAcquisitionStayConstantAsWaitersGrow(t *testing.T) {
	per := map[int]float64{}
	for _, n := range []int{20, 200} {
		per[n] = requestsPerAcquisition(t, n)
		t.Logf("%d waiters: %.2f requests per acquisition", n, per[n])
	}
	// create + list (one round trip); watch own node; watch predecessor
	// and the one before it; re-list when that one goes (the predecessor
	// then leads, so its going needs no listing); delete: 7, plus pings.
	assert.LessOrEqual(t, per[200], 7.5)
	assert.InDelta(t, per[20], per[200], 0.5, "requests per acquisition grow with waiters")
}

func requestsPerAcquisition(t *testing.T, n int) float64 {
	const sessions = 10
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t) + "-" + strconv.Itoa(n)
	holder, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	var mutexes []*lock.Mutex
	for range sessions {
		m, err := lock.New(session(t, nil, recipes.WithSessionTimeout(30*time.Second)), path)
		require.NoError(t, err)
		mutexes = append(mutexes, m)
	}
	h, err := holder.Lock(ctx)
	require.NoError(t, err)
	base := ephemerals(t, ctx)

	before := packets(t, ctx)
	var wg sync.WaitGroup
	for i := range n {
		m := mutexes[i%sessions]
		wg.Go(func() {
			h, err := m.Lock(ctx)
			if assert.NoError(t, err) {
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	// All queued: the server holds one ephemeral node per waiter. (mntr is
	// a four-letter word, not a request, and is not counted.)
	require.NoError(t, waitFor(ctx, func() bool { return ephemerals(t, ctx) >= base+n }), "waiters did not queue")
	require.NoError(t, h.Unlock(ctx))
	wg.Wait()
	after := packets(t, ctx)
	return float64(after-before) / float64(n)
}

func mntr(t *testing.T, ctx context.Context, key string) int {
	t.Helper()
	stats, err := cluster.Members()[0].Mntr(ctx)
	require.NoError(t, err)
	v, err := strconv.Atoi(stats[key])
	require.NoError(t, err, "mntr %s = %q", key, stats[key])
	return v
}

func packets(t *testing.T, ctx context.Context) int    { return mntr(t, ctx, "zk_packets_received") }
func ephemerals(t *testing.T, ctx context.Context) int { return mntr(t, ctx, "zk_ephemerals_count") }

// TestNoWatchOutlivesItsAcquisition counts the server's watches while
// sessions stay open: after many quick acquisitions (the watch on a hold's
// own node is set in the background and may come after the release) and
// contended ones (a waiter's predecessor may be gone before it is
// watched), none may be left. A watch for the creation of a deleted
// contender node would never fire and stay until the session ends.
func TestNoWatchOutlivesItsAcquisition(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	var mutexes []*lock.Mutex
	for range 4 {
		m, err := lock.New(session(t, nil), path)
		require.NoError(t, err)
		mutexes = append(mutexes, m)
	}
	base := mntr(t, ctx, "zk_watch_count")
	churn(t, ctx, mutexes, 100)
	// Watches whose node went are removed as their events are sent; give
	// the server the moment that takes.
	require.NoError(t, waitFor(ctx, func() bool { return mntr(t, ctx, "zk_watch_count") <= base }),
		"watches left: %d, before: %d", mntr(t, ctx, "zk_watch_count"), base)
}
