package integration_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestCuratorAndOursAskEachOtherToLetGo: Curator's Revoker asks our
// holder to let go (its RevokeRequested closes; the hold stays trusted
// until it unlocks), then our recipes.Revoke asks a revocable Curator
// InterProcessMutex (its listener is told, and its release passes the
// lock to our waiter). Tokens keep growing through both hand-overs.
func TestCuratorAndOursAskEachOtherToLetGo(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/curator-revoke"
	java := interop.StartCurator(t, cluster.ConnectString())
	s := session(t)
	m, err := lock.New(s, path, lock.WithMaxHold(time.Minute))
	require.NoError(t, err)

	// Curator asks ours.
	ours, err := m.Lock(ctx)
	require.NoError(t, err)
	java.Send("revoke " + ours.Path())
	_, err = java.Expect(ctx, "revoke-sent "+ours.Path())
	require.NoError(t, err)
	select {
	case <-ours.RevokeRequested():
	case <-ctx.Done():
		t.Fatal("Curator's Revoker did not reach our holder")
	}
	java.Send("revlock " + path) // the driver runs one command at a time: it waits here
	waitContenders(t, ctx, m, 2)
	assert.NoError(t, ours.Err(), "a request ended the hold by itself")
	require.NoError(t, ours.Unlock(ctx))
	line, err := java.Expect(ctx, "locked "+path)
	require.NoError(t, err)
	javaToken := lastInt(t, line)
	assert.Greater(t, javaToken, ours.Token())

	// Ours asks Curator's.
	got := make(chan *lock.Hold, 1)
	go func() {
		h, err := m.Lock(ctx)
		assert.NoError(t, err)
		got <- h
	}()
	waitContenders(t, ctx, m, 2)
	asked, err := recipes.Revoke(ctx, s, path)
	require.NoError(t, err)
	require.Len(t, asked, 1)
	assert.Equal(t, javaToken, asked[0].Token, "asked another node than Curator's holder")
	_, err = java.Expect(ctx, "revoke-requested "+path)
	require.NoError(t, err, "Curator's listener was not told")
	select {
	case <-got:
		t.Fatal("granted while Curator holds: a request ended its hold")
	default:
	}
	java.Send("unlock " + path)
	_, err = java.Expect(ctx, "unlocked "+path)
	require.NoError(t, err)
	h := <-got
	require.NotNil(t, h)
	assert.Greater(t, h.Token(), javaToken)
	require.NoError(t, h.Unlock(ctx))
	cs, err := m.Contenders(ctx)
	require.NoError(t, err)
	assert.Empty(t, cs)
}
