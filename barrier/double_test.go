package barrier_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestMembersEnterAndLeaveTogetherManyRounds: nobody passes Enter before
// the N-th member has arrived, nobody passes Leave before the last one has
// started to leave, round after round on one path, and nothing is left.
func TestMembersEnterAndLeaveTogetherManyRounds(t *testing.T) {
	const n, rounds = 4, 6
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	var arrived, leaving [rounds]atomic.Int32
	var wg sync.WaitGroup
	for range n {
		d, err := barrier.NewDouble(session(t), path, n)
		require.NoError(t, err)
		wg.Go(func() {
			for r := range rounds {
				arrived[r].Add(1)
				if !assert.NoError(t, d.Enter(ctx)) {
					return
				}
				assert.EqualValues(t, n, arrived[r].Load(), "round %d: passed Enter before all arrived", r)
				time.Sleep(time.Millisecond) // the phase's work
				leaving[r].Add(1)
				if !assert.NoError(t, d.Leave(ctx)) {
					return
				}
				assert.EqualValues(t, n, leaving[r].Load(), "round %d: passed Leave before all left", r)
			}
		})
	}
	wg.Wait()
	observer := session(t)
	assert.Empty(t, children(t, observer, path), "nodes left behind")
}

// TestMemberKilledWhileEnteringLeavesTheCountAndAFreshMemberCompletes: of
// three members, two are waiting when one of them dies; the count drops,
// nobody passes, a waiter's deadline still ends its wait, and two fresh
// members complete the round with the survivor.
func TestMemberKilledWhileEnteringLeavesTheCountAndAFreshMemberCompletes(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	const n = 3
	observer := session(t)
	count := func(k int) {
		t.Helper()
		require.NoError(t, waitFor(ctx, func() bool { return len(children(t, observer, path)) == k }))
	}
	survivor, err := barrier.NewDouble(session(t), path, n)
	require.NoError(t, err)
	entered := make(chan error, 1)
	go func() { entered <- survivor.Enter(ctx) }()
	doomed := session(t)
	dd, err := barrier.NewDouble(doomed, path, n)
	require.NoError(t, err)
	doomedDone := make(chan error, 1)
	go func() { doomedDone <- dd.Enter(ctx) }()
	count(2)
	require.NoError(t, cluster.ExpireSession(ctx, doomed.ID()))
	assert.Error(t, <-doomedDone, "the dead member's Enter")
	count(1)

	// A waiter is not stuck forever: its deadline ends its wait.
	impatient, err := barrier.NewDouble(session(t), path, n)
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, impatient.Enter(short), context.DeadlineExceeded)
	assert.Len(t, entered, 0, "passed with a dead member counted")

	var wg sync.WaitGroup
	fresh := []*barrier.DoubleBarrier{}
	for range 2 {
		f, err := barrier.NewDouble(session(t), path, n)
		require.NoError(t, err)
		fresh = append(fresh, f)
		wg.Go(func() { assert.NoError(t, f.Enter(ctx)) })
	}
	wg.Wait()
	require.NoError(t, <-entered)
	for _, d := range append(fresh, survivor) {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	assert.Empty(t, children(t, observer, path))
}

func TestMemberKilledMidPhaseLetsTheOthersLeave(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	const n = 3
	var members []*barrier.DoubleBarrier
	var sessions []*recipes.Session
	for range n {
		s := session(t)
		d, err := barrier.NewDouble(s, path, n)
		require.NoError(t, err)
		members = append(members, d)
		sessions = append(sessions, s)
	}
	var wg sync.WaitGroup
	for _, d := range members {
		wg.Go(func() { assert.NoError(t, d.Enter(ctx)) })
	}
	wg.Wait()
	require.NoError(t, cluster.ExpireSession(ctx, sessions[0].ID()))
	for _, d := range members[1:] {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	assert.Empty(t, children(t, session(t), path))
}

func TestCancelledEnterRemovesItsNode(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	d, err := barrier.NewDouble(session(t), path, 2)
	require.NoError(t, err)
	ectx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Enter(ectx) }()
	require.NoError(t, waitFor(ctx, func() bool { return len(children(t, session(t), path)) == 1 }))
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.Empty(t, children(t, session(t), path))
}

func TestTooManyMembersIsAnError(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	var wg sync.WaitGroup
	var in []*barrier.DoubleBarrier
	for range 2 {
		d, err := barrier.NewDouble(session(t), path, 2)
		require.NoError(t, err)
		in = append(in, d)
		wg.Go(func() { assert.NoError(t, d.Enter(ctx)) })
	}
	wg.Wait()
	extra, err := barrier.NewDouble(session(t), path, 2)
	require.NoError(t, err)
	assert.ErrorIs(t, extra.Enter(ctx), barrier.ErrTooManyMembers)
	for _, d := range in {
		wg.Go(func() { assert.NoError(t, d.Leave(ctx)) })
	}
	wg.Wait()
	assert.Empty(t, children(t, session(t), path))
}
