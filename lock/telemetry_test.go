package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestMetricsAndSpansCountWhatHappened: a known sequence on one mutex (a
// grant, a try that would block, a grant after a real wait, a cancelled
// wait, and a hold lost to its node's deletion) gives exactly the
// expected counts and histogram sample counts, and a span per acquisition
// and release, with outcome and token.
func TestMetricsAndSpansCountWhatHappened(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	tel, opts := testutil.NewTelemetry()
	m, err := lock.New(session(t, nil, opts...), path)
	require.NoError(t, err)

	first, err := m.Lock(ctx) // granted
	require.NoError(t, err)
	_, err = m.TryLock(ctx) // would block
	require.ErrorIs(t, err, lock.ErrLocked)
	got := make(chan *lock.Hold, 1)
	go func() {
		h, err := m.Lock(ctx) // granted after a wait
		assert.NoError(t, err)
		got <- h
	}()
	waitContenders(t, ctx, m, 2)
	require.NoError(t, first.Unlock(ctx))
	second := <-got
	require.NotNil(t, second)

	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() { _, err := m.Lock(cctx); cancelled <- err }() // cancelled while waiting
	waitContenders(t, ctx, m, 2)
	cancel()
	require.ErrorIs(t, <-cancelled, context.Canceled)

	require.NoError(t, session(t, nil).Conn().Delete(second.Path(), -1)) // lost
	<-second.Done()
	assert.ErrorIs(t, second.Unlock(ctx), recipes.ErrNodeDeleted)

	assert.Equal(t, map[string]int64{"granted": 2, "would_block": 1, "cancelled": 1}, tel.By(t, "zkrecipes.acquisitions", "zkrecipes.outcome"))
	assert.Equal(t, map[string]int64{"granted": 2, "would_block": 1, "cancelled": 1}, tel.By(t, "zkrecipes.wait.duration", "zkrecipes.outcome"))
	assert.Equal(t, map[string]int64{"released": 1, "lost": 1}, tel.By(t, "zkrecipes.hold.duration", "zkrecipes.end"))
	assert.Equal(t, map[string]int64{"node_deleted": 1}, tel.By(t, "zkrecipes.losses", "zkrecipes.cause"))
	assert.Positive(t, tel.By(t, "zkrecipes.session.state_changes", "zkrecipes.session.state")["connected"])
	assert.Equal(t, map[string]int64{"lock": 4}, tel.By(t, "zkrecipes.acquisitions", "zkrecipes.recipe"))
	assert.Equal(t, map[string]int64{path: 4}, tel.By(t, "zkrecipes.acquisitions", "zkrecipes.path"))

	var outcomes []string
	tokens := map[int64]bool{}
	for _, sp := range tel.Spans("lock acquire") {
		outcomes = append(outcomes, sp["zkrecipes.outcome"].AsString())
		if tok, ok := sp["zkrecipes.token"]; ok {
			tokens[tok.AsInt64()] = true
		}
	}
	assert.ElementsMatch(t, []string{"granted", "would_block", "granted", "cancelled"}, outcomes)
	assert.Equal(t, map[int64]bool{first.Token(): true, second.Token(): true}, tokens)
	releases := tel.Spans("lock release")
	require.Len(t, releases, 2)
	for _, sp := range releases {
		assert.Equal(t, path, sp["zkrecipes.path"].AsString())
	}
}

// TestWithoutPathAttributeLeavesPathsOut: one lock per item, measured
// without the path: one series, whatever the paths.
func TestWithoutPathAttributeLeavesPathsOut(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	tel, opts := testutil.NewTelemetry()
	s := session(t, nil, append(opts, recipes.WithoutPathAttribute())...)
	for i := range 3 {
		m, err := lock.New(s, testPath(t)+"/"+string(rune('a'+i)))
		require.NoError(t, err)
		h, err := m.Lock(ctx)
		require.NoError(t, err)
		require.NoError(t, h.Unlock(ctx))
	}
	points := tel.Points(t, "zkrecipes.acquisitions")
	require.Len(t, points, 1)
	assert.False(t, points[0].Attrs.HasValue("zkrecipes.path"))
	assert.Equal(t, int64(3), points[0].Value)
}
