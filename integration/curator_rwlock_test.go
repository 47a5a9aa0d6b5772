package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// TestCuratorReadWriteLockAndOursKeepTheRules runs Curator's
// InterProcessReadWriteLock in a Java process on the same path as ours:
// readers of both share, writers of either wait for readers of both, and
// readers of either wait for a writer of the other.
func TestCuratorReadWriteLockAndOursKeepTheRules(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/curator-rwlock"
	java := interop.StartCurator(t, cluster.ConnectString())
	newRW := func() *rwlock.RWMutex {
		m, err := rwlock.New(session(t), path)
		require.NoError(t, err)
		return m
	}
	m := newRW()

	// A Curator reader and ours hold together.
	java.Send("rlock " + path)
	_, err := java.Expect(ctx, "rlocked "+path)
	require.NoError(t, err)
	r, err := m.TryRLock(ctx)
	require.NoError(t, err, "our reader beside Curator's")

	// Our writer waits for both readers.
	type result struct {
		h   *rwlock.Hold
		err error
	}
	wrote := make(chan result, 1)
	w := newRW()
	go func() {
		h, err := w.Lock(ctx)
		wrote <- result{h, err}
	}()
	waitRoles(t, ctx, m, "shared", "shared", "exclusive")
	java.Send("runlock " + path)
	_, err = java.Expect(ctx, "runlocked "+path)
	require.NoError(t, err)
	waitRoles(t, ctx, m, "shared", "exclusive")
	assert.Len(t, wrote, 0, "our writer got in while our reader holds")
	require.NoError(t, r.Unlock(ctx))
	got := <-wrote
	require.NoError(t, got.err)

	// A Curator reader waits for our writer.
	java.Send("rlock " + path)
	waitRoles(t, ctx, m, "exclusive", "shared")
	select {
	case line := <-java.Lines():
		t.Fatalf("Curator read while we write: %q", line)
	default:
	}
	require.NoError(t, got.h.Unlock(ctx))
	_, err = java.Expect(ctx, "rlocked "+path)
	require.NoError(t, err)
	java.Send("runlock " + path)
	_, err = java.Expect(ctx, "runlocked "+path)
	require.NoError(t, err)

	// A Curator writer keeps our readers out.
	java.Send("wlock " + path)
	_, err = java.Expect(ctx, "wlocked "+path)
	require.NoError(t, err)
	_, err = m.TryRLock(ctx)
	assert.ErrorIs(t, err, rwlock.ErrLocked)
	java.Send("wunlock " + path)
	_, err = java.Expect(ctx, "wunlocked "+path)
	require.NoError(t, err)
	r, err = m.RLock(ctx)
	require.NoError(t, err)
	require.NoError(t, r.Unlock(ctx))
}

// waitRoles waits until the lock's queue holds contenders with these
// roles, in this order.
func waitRoles(t *testing.T, ctx context.Context, m *rwlock.RWMutex, roles ...string) {
	t.Helper()
	var have []string
	for {
		cs, err := m.Contenders(ctx)
		have = have[:0]
		for _, c := range cs {
			role := "exclusive"
			if c.Shared {
				role = "shared"
			}
			have = append(have, role)
		}
		if err == nil && assert.ObjectsAreEqual(roles, have) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("want roles %v, have %v", roles, have)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
