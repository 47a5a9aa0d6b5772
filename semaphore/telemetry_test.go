package semaphore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// TestLeasesAreMeasuredAsTheSemaphores: a lease granted, a try that would
// block, a revocation request and the lease's return are counted under
// the semaphore's path (not its leases' node), with spans.
func TestLeasesAreMeasuredAsTheSemaphores(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	tel, opts := testutil.NewTelemetry()
	s := session(t, nil, opts...)
	m := newSem(t, s, path, 1)
	l, err := m.Acquire(ctx)
	require.NoError(t, err)
	_, err = m.TryAcquire(ctx)
	require.ErrorIs(t, err, semaphore.ErrNoLease)
	_, err = session(t, nil).Conn().Set(l.Path(), []byte("__REVOKE__"), -1) // as Curator's Revoker asks
	require.NoError(t, err)
	<-l.RevokeRequested()
	require.NoError(t, l.Unlock(ctx))

	assert.Equal(t, map[string]int64{"granted": 1, "would_block": 1}, tel.By(t, "zkrecipes.acquisitions", "zkrecipes.outcome"))
	assert.Equal(t, map[string]int64{path: 2}, tel.By(t, "zkrecipes.acquisitions", "zkrecipes.path"))
	assert.Equal(t, map[string]int64{"semaphore": 1}, tel.By(t, "zkrecipes.revocation.requests", "zkrecipes.recipe"))
	assert.Equal(t, map[string]int64{"released": 1}, tel.By(t, "zkrecipes.hold.duration", "zkrecipes.end"))
	assert.Len(t, tel.Spans("semaphore acquire"), 2)
	assert.Len(t, tel.Spans("semaphore release"), 1)
}
