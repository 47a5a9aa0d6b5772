package integration_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/lock"
)

// TestKazooLockAndOursExcludeEachOther runs Kazoo's Lock (told of our
// nodes with extra_lock_patterns, as the README says) in a Python process
// on the same path as our mutex: each waits for the other.
func TestKazooLockAndOursExcludeEachOther(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/kazoo-mutex"
	py := interop.StartKazoo(t, cluster.ConnectString())
	m, err := lock.New(session(t), path)
	require.NoError(t, err)

	ours, err := m.Lock(ctx)
	require.NoError(t, err)
	py.Send("lock " + path)
	waitContenders(t, ctx, m, 2)
	cs, err := m.Contenders(ctx)
	require.NoError(t, err)
	assert.Contains(t, cs[1].Name, "__lock__", "Kazoo's node queues behind ours")
	assert.True(t, cs[0].Held)
	assert.False(t, cs[1].Held)
	select {
	case line := <-py.Lines():
		t.Fatalf("Kazoo acquired while we hold: %q", line)
	default:
	}
	require.NoError(t, ours.Unlock(ctx))
	_, err = py.Expect(ctx, "locked "+path)
	require.NoError(t, err)

	_, err = m.TryLock(ctx)
	assert.ErrorIs(t, err, lock.ErrLocked, "we acquired while Kazoo holds")
	py.Send("unlock " + path)
	_, err = py.Expect(ctx, "unlocked "+path)
	require.NoError(t, err)
	h, err := m.TryLock(ctx)
	require.NoError(t, err)
	require.NoError(t, h.Unlock(ctx))
}
