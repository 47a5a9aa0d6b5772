package lock_test

import (
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/wiretest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestRequestsPerAcquisitionStayConstantAsWaitersGrow counts, on the
// server, every request made while n waiters queue behind a holder and then
// take the lock one after another. Each waiter watches only its
// predecessor and the node before it, so a release wakes at most two
// waiters and the count per acquisition does not grow from 20 to 200
// waiters; a herd (everyone re-listing on every release) would make it
// grow with n. (It may fall: the waiters of one Session share listings,
// and need none behind their own Session's holds.)
func TestRequestsPerAcquisitionStayConstantAsWaitersGrow(t *testing.T) {
	per := map[int]float64{}
	for _, n := range []int{20, 200} {
		per[n] = requestsPerAcquisition(t, n, 10, false, false)
		t.Logf("%d waiters: %.2f requests per acquisition", n, per[n])
	}
	// create + list (one round trip); watch own node; watch predecessor
	// and the one before it; re-list when that one goes (the predecessor
	// then leads, so its going needs no listing); delete: 7, plus pings.
	assert.LessOrEqual(t, per[20], 7.5)
	assert.LessOrEqual(t, per[200], per[20]+0.5, "requests per acquisition grow with waiters")
}

// TestWaitersOfOneSessionSendFewerRequests: goroutines of one process
// queued on one lock through one Session share their listings, and list
// nothing as they move up behind each other's holds: create, the watches
// on their own node and the two ahead, delete. So do goroutines that each
// make a lock value of their own for the path, as a handler that locks
// the item of its request does, and waiters on a Session over the
// application's connection (NewSession), who read their node back.
func TestWaitersOfOneSessionSendFewerRequests(t *testing.T) {
	for _, shape := range []struct{ own, app bool }{{false, false}, {true, false}, {true, true}} {
		per := requestsPerAcquisition(t, 200, 1, shape.own, shape.app)
		t.Logf("200 waiters on one Session, a lock value each: %v, NewSession: %v: %.2f requests per acquisition", shape.own, shape.app, per)
		assert.LessOrEqual(t, per, 5.5, "a lock value each: %v, NewSession: %v", shape.own, shape.app)
	}
}

// requestsPerAcquisition counts the requests per acquisition of n waiters
// on the given number of Sessions, queued behind a holder on another; with
// own, each waiter makes a lock value of its own; with app, the Sessions
// are made by NewSession.
func requestsPerAcquisition(t *testing.T, n, sessions int, own, app bool) float64 {
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t) + "-" + strconv.Itoa(n)
	holder, err := lock.New(session(t, nil), path)
	require.NoError(t, err)
	var ss []*recipes.Session
	for range sessions {
		if !app {
			ss = append(ss, session(t, nil, recipes.WithSessionTimeout(30*time.Second)))
			continue
		}
		conn, _, err := zk.Connect(cluster.Servers(), 30*time.Second, zk.WithLogInfo(false))
		require.NoError(t, err)
		t.Cleanup(conn.Close)
		s, err := recipes.NewSession(ctx, conn, recipes.WithSessionTimeout(30*time.Second))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		ss = append(ss, s)
	}
	values := sessions
	if own {
		values = n
	}
	var mutexes []*lock.Mutex
	for i := range values {
		m, err := lock.New(ss[i%sessions], path)
		require.NoError(t, err)
		mutexes = append(mutexes, m)
	}
	h, err := holder.Lock(ctx)
	require.NoError(t, err)
	base := ephemerals(t, ctx)

	before := packets(t, ctx)
	var wg sync.WaitGroup
	for i := range n {
		m := mutexes[i%len(mutexes)]
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

// TestAWaiterThirdInLineListsOnce: a waiter third in line watches the two
// nodes ahead of it. When the first goes, the second leads, and no node can
// join ahead of it: the waiter knows that without listing the queue again,
// so it lists once, with its create. Before, it listed again.
func TestAWaiterThirdInLineListsOnce(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	second, err := lock.New(session(t, nil), testPath(t))
	require.NoError(t, err)
	q := queueOfThree(t, ctx, second, false)
	require.NoError(t, q.head.Unlock(ctx))
	q.takeTurns(t, ctx)
	assert.Equal(t, int32(1), q.wire.listings.Load(), "the third listed the queue again")
}

// TestAWaiterThirdInLineFindingTheFirstGoneListsOnce: the same, when the
// first is gone already as the third comes to watch it, as it often is
// when holds are short.
func TestAWaiterThirdInLineFindingTheFirstGoneListsOnce(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	second, err := lock.New(session(t, nil), testPath(t))
	require.NoError(t, err)
	q := queueOfThree(t, ctx, second, true)
	require.NoError(t, q.head.Unlock(ctx))
	h := <-q.granted // the first is gone
	require.NotNil(t, h)
	close(q.wire.open)
	require.NoError(t, h.Unlock(ctx))
	h = <-q.granted
	require.NotNil(t, h)
	require.NoError(t, h.Unlock(ctx))
	assert.Equal(t, int32(1), q.wire.listings.Load(), "the third listed the queue again")
}

// TestAWaiterThirdInLineTakesUpTheDuty: the third learns that the second
// leads without a listing, and so must take up the duty to evict it from
// that alone: the second, which declared a max hold, hangs once granted,
// and the third evicts it after its max hold and the margin.
func TestAWaiterThirdInLineTakesUpTheDuty(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const maxHold = 300 * time.Millisecond
	second, err := lock.New(session(t, nil), testPath(t), lock.WithMaxHold(maxHold))
	require.NoError(t, err)
	q := queueOfThree(t, ctx, second, false)
	require.NoError(t, q.head.Unlock(ctx))
	hung := <-q.granted
	require.NotNil(t, hung)
	t0 := time.Now()
	h := <-q.granted
	require.NotNil(t, h)
	took := time.Since(t0)
	assert.GreaterOrEqual(t, took, recipes.EvictionMargin, "evicted before the margin")
	// Due a max hold and the margin after the third saw the second lead,
	// at about t0; 2 s more for a loaded machine. Without the duty, the
	// second would hold until the test's end.
	assert.Less(t, took, maxHold+recipes.EvictionMargin+2*time.Second, "evicted late")
	assert.ErrorIs(t, hung.Err(), lock.ErrMaxHoldExceeded)
	assert.Equal(t, int32(1), q.wire.listings.Load(), "the third listed the queue again")
	require.NoError(t, h.Unlock(ctx))
}

// TestWaitersOfOneSessionTakeTheirTurnsWithoutListing: goroutines of one
// process queue on one path through one Session, the users' shape. A
// waiter learns from the Session that the node two ahead of it was granted
// with nothing ahead of it, so when that node goes, its predecessor leads:
// the queue drains with no listing. Before, every waiter from the third on
// listed the queue again as it moved up, each listing as long as the queue.
func TestWaitersOfOneSessionTakeTheirTurnsWithoutListing(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	w := &wire{}
	m, err := lock.New(session(t, nil, recipes.WithDialer(w.dial)), testPath(t))
	require.NoError(t, err)
	head, err := m.Lock(ctx)
	require.NoError(t, err)
	const waiters = 6
	done := make(chan error, waiters)
	reads, before := w.reads.Load(), w.listings.Load()
	for i := range waiters {
		go func() {
			h, err := m.Lock(ctx)
			if err == nil {
				err = h.Unlock(ctx)
			}
			done <- err
		}()
		// Queued when its watches are set, each with a getData: on its own
		// node, its predecessor's and, from the second waiter on, the
		// node before that. The next one then queues behind it.
		reads += 3
		if i == 0 {
			reads--
		}
		require.NoError(t, waitFor(ctx, func() bool { return w.reads.Load() >= reads }),
			"waiter %d: %d reads, want %d", i+1, w.reads.Load(), reads)
	}
	listed := w.listings.Load()
	require.Equal(t, int32(waiters), listed-before, "each waiter lists with its create")
	require.NoError(t, head.Unlock(ctx))
	for range waiters {
		require.NoError(t, <-done)
	}
	assert.Equal(t, int32(0), w.listings.Load()-listed, "listings while the queue drained")
}

// threeInLine is a holder and two waiters behind it on one path, each on a
// session of its own.
type threeInLine struct {
	head    *lock.Hold
	granted <-chan *lock.Hold // the waiters' holds, in the order granted (nil: failed)
	wire    *wire             // the third's connection
}

// takeTurns takes the two waiters' holds as they are granted, in turn, and
// releases each.
func (q threeInLine) takeTurns(t *testing.T, ctx context.Context) {
	t.Helper()
	for range 2 {
		h := <-q.granted
		require.NotNil(t, h)
		require.NoError(t, h.Unlock(ctx))
	}
}

// queueOfThree takes the lock at second's path, then queues second and a
// third waiter behind it, in this order. It returns once every watch is
// set or, with gated, once the third's read of the head's node is held
// back (until q.wire.open is closed).
func queueOfThree(t *testing.T, ctx context.Context, second *lock.Mutex, gated bool) threeInLine {
	t.Helper()
	q := threeInLine{wire: &wire{reached: make(chan struct{}), open: make(chan struct{})}}
	head, err := lock.New(session(t, nil), second.Path())
	require.NoError(t, err)
	third, err := lock.New(session(t, nil, recipes.WithDialer(q.wire.dial)), second.Path())
	require.NoError(t, err)
	watches := func() int { return mntr(t, ctx, "zk_watch_count") }
	before := watches()
	q.head, err = head.Lock(ctx)
	require.NoError(t, err)
	if gated {
		q.wire.gate.Store(q.head.Path())
	}
	granted := make(chan *lock.Hold, 2)
	for i, m := range []*lock.Mutex{second, third} {
		go func() {
			h, err := m.Lock(ctx)
			assert.NoError(t, err)
			granted <- h
		}()
		waitContenders(t, ctx, head, i+2)
	}
	q.granted = granted
	if gated {
		<-q.wire.reached
	} else {
		// Each contender's watch on its own node, the second's on the
		// head, the third's on the two ahead of it.
		require.NoError(t, waitFor(ctx, func() bool { return watches() == before+6 }), "watches: %d, want %d", watches(), before+6)
	}
	require.Equal(t, int32(1), q.wire.listings.Load(), "the third lists with its create")
	return q
}

// wire is what a session sends on its connections: it counts the children
// listings and the reads, and holds back a read of the node at gate, if
// set, until open is closed.
type wire struct {
	listings      atomic.Int32
	reads         atomic.Int32 // getData requests
	gate          atomic.Value // string
	reached, open chan struct{}
}

func (w *wire) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	return wiretest.Dialer(wiretest.Hooks{Request: w.request})(network, address, timeout)
}

// request looks at a request before it goes out; a read's frame has its
// path after the opcode: length, then the bytes.
func (w *wire) request(op int32, b []byte) error {
	switch op {
	case wiretest.OpGetChildren, wiretest.OpGetChildren2:
		w.listings.Add(1)
	case wiretest.OpGetData:
		w.reads.Add(1)
		if len(b) < 16 {
			return nil
		}
		n := int(binary.BigEndian.Uint32(b[12:16]))
		if gate, _ := w.gate.Load().(string); gate != "" && len(b) >= 16+n && string(b[16:16+n]) == gate {
			w.gate.Store("")
			close(w.reached)
			<-w.open
		}
	}
	return nil
}
