package rwlock_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// TestReadersNeverSeeAPartialWriteAndHoldTogether: writers rewrite a file
// line by line (each rewrite takes a while); readers check that every line
// of what they read comes from one rewrite.
func TestReadersNeverSeeAPartialWriteAndHoldTogether(t *testing.T) {
	const writers, readers, rounds, lines = 2, 4, 8, 5
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	file := filepath.Join(t.TempDir(), "shared.txt")
	require.NoError(t, os.WriteFile(file, []byte(strings.Repeat("v0\n", lines)), 0o644))

	var reading, maxReading, writing atomic.Int32
	var wg sync.WaitGroup
	for w := range writers {
		m := newRW(t, path)
		wg.Go(func() {
			for r := range rounds {
				h, err := m.Lock(ctx)
				if !assert.NoError(t, err) {
					return
				}
				writing.Add(1)
				assert.Zero(t, reading.Load(), "a reader holds while a writer does")
				f, err := os.Create(file)
				if assert.NoError(t, err) {
					for range lines {
						fmt.Fprintf(f, "w%d-r%d\n", w, r)
						f.Sync() // each line hits the file on its own
					}
					f.Close()
				}
				writing.Add(-1)
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	for range readers {
		m := newRW(t, path)
		wg.Go(func() {
			for range rounds {
				h, err := m.RLock(ctx)
				if !assert.NoError(t, err) {
					return
				}
				n := reading.Add(1)
				for old := maxReading.Load(); n > old && !maxReading.CompareAndSwap(old, n); old = maxReading.Load() {
				}
				assert.Zero(t, writing.Load(), "a writer holds while a reader does")
				data, err := os.ReadFile(file)
				if assert.NoError(t, err) {
					got := strings.Split(strings.TrimSpace(string(data)), "\n")
					assert.Len(t, got, lines, "partial write seen")
					for _, l := range got {
						assert.Equal(t, got[0], l, "lines from two writes: %q", got)
					}
				}
				time.Sleep(2 * time.Millisecond) // stay a little, so readers overlap
				reading.Add(-1)
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	wg.Wait()
	assert.GreaterOrEqual(t, maxReading.Load(), int32(2), "readers never held together")
	t.Logf("at most %d readers held together", maxReading.Load())
}

// TestReadersCannotStarveAWriter keeps readers streaming so that at every
// moment some reader holds; a writer still gets its turn, because readers
// that queue behind it wait for it.
func TestReadersCannotStarveAWriter(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 4 {
		m := newRW(t, path)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				h, err := m.RLock(ctx)
				if err != nil {
					return
				}
				reads.Add(1)
				time.Sleep(5 * time.Millisecond)
				h.Unlock(ctx)
			}
		})
	}
	require.NoError(t, waitFor(ctx, func() bool { return reads.Load() > 20 }), "readers did not stream")
	w := newRW(t, path)
	h, err := w.Lock(ctx) // bounded by ctx: starvation fails the test
	require.NoError(t, err)
	readsWhileWaiting := reads.Load()
	require.NoError(t, h.Unlock(ctx))
	close(stop)
	wg.Wait()
	t.Logf("writer acquired after %d reads", readsWhileWaiting)
}

// TestAlternatingQueueIsGrantedInOrder queues R1 W2 R3 W4 R5 behind a
// writer W0: each is granted in turn, readers only with readers, and each
// waiter waits for the right node.
func TestAlternatingQueueIsGrantedInOrder(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	w0 := newRW(t, path)
	h0, err := w0.Lock(ctx)
	require.NoError(t, err)

	r1 := start(t, ctx, w0, 2, newRWRead(t, path))
	w2 := start(t, ctx, w0, 3, newRWWrite(t, path))
	r3 := start(t, ctx, w0, 4, newRWRead(t, path))
	w4 := start(t, ctx, w0, 5, newRWWrite(t, path))
	r5 := start(t, ctx, w0, 6, newRWRead(t, path))

	require.NoError(t, h0.Unlock(ctx))
	got := <-r1
	require.NoError(t, got.err)
	assert.True(t, pending(w2) && pending(r3) && pending(w4) && pending(r5), "only R1 may hold")
	require.NoError(t, got.hold.Unlock(ctx))

	for _, next := range []struct {
		name string
		ch   <-chan acquired
		rest []<-chan acquired
	}{
		{"W2", w2, []<-chan acquired{r3, w4, r5}},
		{"R3", r3, []<-chan acquired{w4, r5}},
		{"W4", w4, []<-chan acquired{r5}},
		{"R5", r5, nil},
	} {
		got := <-next.ch
		require.NoError(t, got.err, next.name)
		for _, ch := range next.rest {
			assert.True(t, pending(ch), "granted while %s holds", next.name)
		}
		require.NoError(t, got.hold.Unlock(ctx))
	}
}

// TestReaderWhoseWatchedWriterGivesUpWaitsForTheRightNode: R3 watches W2;
// W2 gives up; R3 must then wait for W0 (not hold at once), and hold with
// R1 once W0 goes.
func TestReaderWhoseWatchedWriterGivesUpWaitsForTheRightNode(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	w0 := newRW(t, path)
	h0, err := w0.Lock(ctx)
	require.NoError(t, err)
	r1 := start(t, ctx, w0, 2, newRWRead(t, path))
	w2ctx, cancelW2 := context.WithCancel(ctx)
	w2 := start(t, w2ctx, w0, 3, newRWWrite(t, path))
	r3 := start(t, ctx, w0, 4, newRWRead(t, path))

	cancelW2()
	assert.ErrorIs(t, (<-w2).err, context.Canceled)
	waitContenders(t, ctx, w0, 3)
	assert.True(t, pending(r1) && pending(r3), "a reader holds while W0 does")

	require.NoError(t, h0.Unlock(ctx))
	a, b := <-r1, <-r3
	require.NoError(t, a.err)
	require.NoError(t, b.err)
	require.NoError(t, a.hold.Unlock(ctx))
	require.NoError(t, b.hold.Unlock(ctx))
}

// TestDowngradeLeavesNoGapForAQueuedWriter: a write holder downgrades with
// a reader and a writer queued behind. The reader joins at once; the writer
// gets in only after the downgraded hold is released.
func TestDowngradeLeavesNoGapForAQueuedWriter(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	m := newRW(t, path)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	token := h.Token()
	reader := start(t, ctx, m, 2, newRWRead(t, path))
	var released atomic.Bool
	writer := make(chan error, 1)
	wm := newRW(t, path)
	go func() {
		wh, err := wm.Lock(ctx)
		if err == nil {
			if !released.Load() {
				err = fmt.Errorf("writer got in while the downgraded hold was held")
			}
			wh.Unlock(ctx)
		}
		writer <- err
	}()
	waitContenders(t, ctx, m, 3)

	require.NoError(t, h.Downgrade(ctx))
	assert.False(t, h.Write())
	assert.Equal(t, token, h.Token(), "a downgrade keeps node and token")
	got := <-reader // the queued reader now holds with us
	require.NoError(t, got.err)
	cs, err := m.Contenders(ctx)
	require.NoError(t, err)
	assert.Equal(t, h.Path(), cs[0].Path, "the downgraded node left the head of the queue")
	assert.False(t, cs[2].Shared, "the writer's node is exclusive")
	assert.False(t, cs[2].Held, "the writer waits")
	assert.True(t, cs[0].Shared && cs[0].Downgraded && cs[0].Held, "the downgraded node: %+v", cs[0])
	assert.True(t, cs[1].Shared && cs[1].Held, "the reader holds beside it: %+v", cs[1])
	assert.Len(t, writer, 0, "the writer returned while readers hold")

	_, err = newRW(t, path).TryLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked)
	require.NoError(t, got.hold.Unlock(ctx))
	released.Store(true)
	require.NoError(t, h.Unlock(ctx))
	require.NoError(t, <-writer)
}

// TestTryRLockJoinsADowngradedHold: a downgraded write hold is a reader
// for TryRLock as it is for RLock.
func TestTryRLockJoinsADowngradedHold(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	h, err := newRW(t, path).Lock(ctx)
	require.NoError(t, err)
	_, err = newRW(t, path).TryRLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked)
	require.NoError(t, h.Downgrade(ctx))
	r, err := newRW(t, path).TryRLock(ctx)
	require.NoError(t, err, "TryRLock refused beside a downgraded hold")
	_, err = newRW(t, path).TryLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked)
	require.NoError(t, r.Unlock(ctx))
	require.NoError(t, h.Unlock(ctx))
}

func TestTryFormsAndCancelLeaveNoNode(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	m := newRW(t, path)
	r, err := m.TryRLock(ctx)
	require.NoError(t, err)
	r2, err := newRW(t, path).TryRLock(ctx)
	require.NoError(t, err, "readers share")
	_, err = newRW(t, path).TryLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked)
	w := start(t, ctx, m, 3, newRWWrite(t, path))
	_, err = newRW(t, path).TryRLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked, "a reader behind a waiting writer does not jump it")
	waitContenders(t, ctx, m, 3)
	require.NoError(t, r.Unlock(ctx))
	require.NoError(t, r2.Unlock(ctx))
	got := <-w
	require.NoError(t, got.err)
	require.NoError(t, got.hold.Unlock(ctx))
	cs, err := m.Contenders(ctx)
	require.NoError(t, err)
	assert.Empty(t, cs)
}

func TestReaderSessionExpiryLetsTheWriterIn(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	rs := session(t, nil)
	rm, err := rwlock.New(rs, path)
	require.NoError(t, err)
	r, err := rm.RLock(ctx)
	require.NoError(t, err)
	w := start(t, ctx, rm, 2, newRWWrite(t, path))
	require.NoError(t, cluster.ExpireSession(ctx, rs.ID()))
	<-r.Done()
	assert.ErrorIs(t, r.Err(), rwlock.ErrLost)
	got := <-w
	require.NoError(t, got.err)
	require.NoError(t, got.hold.Unlock(ctx))
}

func TestCutOffWriterLosesHoldBeforeAReaderIsGranted(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	p := testutil.Proxy(t, cluster)
	wm, err := rwlock.New(session(t, p.Servers(), recipes.WithSessionTimeout(2*time.Second)), path)
	require.NoError(t, err)
	h, err := wm.Lock(ctx)
	require.NoError(t, err)
	r := start(t, ctx, wm, 2, newRWRead(t, path))
	p.Blackhole()
	<-h.Done()
	lost := time.Now()
	assert.ErrorIs(t, h.Err(), recipes.ErrSuspended)
	got := <-r
	granted := time.Now()
	require.NoError(t, got.err)
	assert.True(t, lost.Before(granted))
	require.NoError(t, got.hold.Unlock(ctx))
	p.Heal()
}

func newRWRead(t *testing.T, path string) func(context.Context) (*rwlock.Hold, error) {
	return newRW(t, path).RLock
}

func newRWWrite(t *testing.T, path string) func(context.Context) (*rwlock.Hold, error) {
	return newRW(t, path).Lock
}

// TestDowngradedHoldEndsWhenCutOff: a downgrade changes the node's data,
// which makes the hold watch its node again; a suspension meanwhile must
// still end the hold at once.
func TestDowngradedHoldEndsWhenCutOff(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	p := testutil.Proxy(t, cluster)
	m, err := rwlock.New(session(t, p.Servers(), recipes.WithSessionTimeout(10*time.Second)), testPath(t))
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	require.NoError(t, h.Downgrade(ctx))
	p.Cut()
	select {
	case <-h.Done():
	case <-ctx.Done():
		t.Fatal("a downgraded hold outlived its connection")
	}
	assert.ErrorIs(t, h.Err(), recipes.ErrSuspended)
	p.Heal()
	assert.ErrorIs(t, h.Unlock(ctx), rwlock.ErrLost)
}

// TestHoldOffersExactlyItsVerbs: the core hold's machinery (Release,
// SetData) does not leak through the recipe's hold.
func TestHoldOffersExactlyItsVerbs(t *testing.T) {
	assert.Equal(t, []string{"Context", "Done", "Downgrade", "Err", "Extend", "Guard", "Multi", "Path", "RevokeRequested", "Token", "Unlock", "Write"}, testutil.Methods[*rwlock.Hold]())
}

// TestHungWriterAndDowngradedHoldAreEvictedAfterTheirMaxHold: a writer
// with a max hold hangs; the writer waiting behind it evicts it once the
// limit and the margin have passed. A hold that downgraded keeps its limit
// (its node still declares it) and is evicted too.
func TestHungWriterAndDowngradedHoldAreEvictedAfterTheirMaxHold(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	limited, err := rwlock.New(session(t, nil), path, rwlock.WithMaxHold(300*time.Millisecond))
	require.NoError(t, err)
	hung, err := limited.Lock(ctx)
	require.NoError(t, err)
	next := newRW(t, path)
	w, err := next.Lock(ctx)
	require.NoError(t, err)
	assert.ErrorIs(t, hung.Err(), rwlock.ErrMaxHoldExceeded)
	assert.Greater(t, w.Token(), hung.Token())
	require.NoError(t, w.Unlock(ctx))

	down, err := limited.Lock(ctx)
	require.NoError(t, err)
	require.NoError(t, down.Downgrade(ctx))
	w, err = next.Lock(ctx)
	require.NoError(t, err, "the downgraded hold lost its limit")
	assert.ErrorIs(t, down.Err(), rwlock.ErrMaxHoldExceeded)
	require.NoError(t, w.Unlock(ctx))
}

// TestHungReadersSideBySideAreEvicted: two read holds with a max hold
// hang, side by side, ahead of a writer. The writer watches both, and
// both hold: it evicts each once its limit and the margin have passed,
// and is granted. Before, only a waiter whose one blocker headed the queue
// evicted, so no one evicted either reader, and the writer waited for
// their sessions to end.
func TestHungReadersSideBySideAreEvicted(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	const maxHold = 300 * time.Millisecond
	var readers []*rwlock.Hold
	for range 2 {
		limited, err := rwlock.New(session(t, nil), path, rwlock.WithMaxHold(maxHold))
		require.NoError(t, err)
		r, err := limited.RLock(ctx)
		require.NoError(t, err)
		readers = append(readers, r)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*maxHold+4*recipes.EvictionMargin)
	defer cancel()
	w, err := newRW(t, path).Lock(wctx)
	require.NoError(t, err, "the hung readers were not evicted")
	for _, r := range readers {
		assert.ErrorIs(t, r.Err(), rwlock.ErrMaxHoldExceeded)
		assert.Greater(t, w.Token(), r.Token())
	}
	require.NoError(t, w.Unlock(ctx))
}

// TestAForeignWriteToAWritersNodeAdmitsNoReader: another client writes the
// write holder's node. Readers go by the downgrade marker, not by any
// change of the data: none is admitted, and the writer's hold ends (its
// guard no longer matches). Readers used to take any write for a
// downgrade.
func TestAForeignWriteToAWritersNodeAdmitsNoReader(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	w, err := newRW(t, path).Lock(ctx)
	require.NoError(t, err)
	_, err = session(t, nil).Conn().Set(w.Path(), []byte("an operator's"), -1)
	require.NoError(t, err)
	_, err = newRW(t, path).TryRLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked, "a reader admitted beside a writer whose node was written")
	select {
	case <-w.Done():
	case <-ctx.Done():
		t.Fatal("the writer's hold outlived a foreign write to its node")
	}
	assert.ErrorIs(t, w.Err(), recipes.ErrNodeMismatch)
	cs, err := newRW(t, path).Contenders(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.False(t, cs[0].Shared, "shown as a reader")
	w.Unlock(ctx)
}

// TestRevokeRequestsLeaveWritersAndDowngradesAsTheyWere: a revocation
// request to a writer (Curator's Revoker writes __REVOKE__ into its node)
// admits no reader and ends nothing; one to a downgraded hold leaves it a
// read hold that readers join, once its data is back.
func TestRevokeRequestsLeaveWritersAndDowngradesAsTheyWere(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	asker := session(t, nil)
	w, err := newRW(t, path).Lock(ctx)
	require.NoError(t, err)
	_, err = asker.Conn().Set(w.Path(), []byte("__REVOKE__"), -1)
	require.NoError(t, err)
	_, err = newRW(t, path).TryRLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked, "a reader admitted beside a writer asked to let go")
	<-w.RevokeRequested()
	assert.NoError(t, w.Err(), "the request ended the write hold")

	require.NoError(t, w.Downgrade(ctx))
	_, err = recipes.Revoke(ctx, asker, path)
	require.NoError(t, err)
	reader := newRW(t, path)
	require.NoError(t, waitFor(ctx, func() bool {
		r, err := reader.TryRLock(ctx)
		if err == nil {
			assert.NoError(t, r.Unlock(ctx))
		}
		return err == nil
	}), "the downgraded hold stayed a writer after the request")
	assert.NoError(t, w.Err())
	assert.False(t, w.Write())
	require.NoError(t, w.Unlock(ctx))
}

// TestARequestThatHidesAForeignDowngradeEndsTheWriter: another client
// writes a downgrade marker into the writer's node and a revocation
// request over it, in one transaction: readers may have been let in by
// the marker, and the request must not hide it. The writer's hold ends
// (ErrNodeMismatch). Two requests in one transaction to a mutex holder,
// whose node no write can open, end nothing.
func TestARequestThatHidesAForeignDowngradeEndsTheWriter(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	other := session(t, nil)
	w, err := newRW(t, path).Lock(ctx)
	require.NoError(t, err)
	_, err = other.Conn().Multi(
		&zk.SetDataRequest{Path: w.Path(), Data: []byte("downgraded to read"), Version: -1},
		&zk.SetDataRequest{Path: w.Path(), Data: []byte("__REVOKE__"), Version: -1})
	require.NoError(t, err)
	select {
	case <-w.Done():
		assert.ErrorIs(t, w.Err(), recipes.ErrNodeMismatch)
	case <-ctx.Done():
		t.Fatal("a request hid a foreign downgrade: the writer is still trusted")
	}
	w.Unlock(ctx)

	m, err := lock.New(session(t, nil), testPath(t)+"-mutex")
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	_, err = other.Conn().Multi(
		&zk.SetDataRequest{Path: h.Path(), Data: []byte("__REVOKE__"), Version: -1},
		&zk.SetDataRequest{Path: h.Path(), Data: []byte("__REVOKE__"), Version: -1})
	require.NoError(t, err)
	<-h.RevokeRequested()
	_, err = h.Multi(ctx, &zk.CheckVersionRequest{Path: "/", Version: -1})
	assert.NoError(t, err)
	assert.NoError(t, h.Err(), "two requests at once ended a mutex hold")
	require.NoError(t, h.Unlock(ctx))
}
