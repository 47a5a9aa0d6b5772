package recipes

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNodeOfAnotherSessionIsNeverTakenForOurs hands a queue a node with a
// name it could have made but that another session owns (as a stale node
// left by an expired session would be, seen through a lagging server):
// it must refuse the node, and leave it alone.
func TestNodeOfAnotherSessionIsNeverTakenForOurs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const path = "/test/foreign"
	a, b := testSession(t), testSession(t)
	qa, err := NewQueue(a, path, []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)
	qb, err := NewQueue(b, path, []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)

	theirs, _, err := qa.create(ctx, path+"/"+ProtectedName(uuid.NewString(), MutexMarker), nil)
	require.NoError(t, err)
	_, err = qb.await(ctx, theirs, true, nil) // as if found by its protected name
	assert.ErrorIs(t, err, ErrForeignNode)
	ok, _, err := a.Conn().Exists(theirs)
	require.NoError(t, err)
	assert.True(t, ok, "the other session's node was deleted")
	require.NoError(t, a.Conn().Delete(theirs, -1))
}

func TestConnectHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Connect(ctx, cluster.Servers())
	assert.ErrorIs(t, err, context.Canceled)
}

func TestStateTransitionsAreReported(t *testing.T) {
	s := testSession(t)
	assert.Equal(t, StateConnected, s.State())
	assert.NotZero(t, s.ID())
	require.NoError(t, s.Close())
	assert.Equal(t, StateClosed, s.State())
	assert.ErrorIs(t, s.Err(), ErrSessionClosed)
	assert.ErrorIs(t, s.Err(), ErrLost)
}

func TestTokenFromListing(t *testing.T) {
	own := Node{Seq: 41}
	tests := []struct {
		name   string
		l      *listing
		token  int64
		proven bool
	}{
		{"nothing changed since our create", &listing{parent: &zk.Stat{Cversion: 42, Pzxid: 0x500}}, 0x500, true},
		{"a child changed since", &listing{parent: &zk.Stat{Cversion: 43, Pzxid: 0x600}}, 0, false},
		{"no listing", nil, 0, false},
		{"no parent stat", &listing{}, 0, false},
	}
	for _, tt := range tests {
		token, ok := tokenFromListing(own, tt.l)
		assert.Equal(t, tt.proven, ok, tt.name)
		assert.Equal(t, tt.token, token, tt.name)
	}
	wrapped, ok := tokenFromListing(Node{Seq: math.MaxInt32}, &listing{parent: &zk.Stat{Cversion: math.MinInt32, Pzxid: 7}})
	assert.True(t, ok, "the cversion wraps like the sequence")
	assert.Equal(t, int64(7), wrapped)
}

// TestTokenIsTheNodesCzxid checks the fencing token against the server:
// whether it came from the listing or from a stat, it is the creation zxid
// of the hold's node.
func TestTokenIsTheNodesCzxid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := testSession(t)
	q, err := NewQueue(s, "/test/token", []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)
	check := func(h *Hold) {
		t.Helper()
		_, st, err := s.Conn().Exists(h.Path())
		require.NoError(t, err)
		assert.Equal(t, st.Czxid, h.Token())
	}
	first, err := q.Acquire(ctx, MutexMarker, true, nil)
	require.NoError(t, err)
	check(first)
	got := make(chan *Hold, 1)
	go func() {
		h, err := q.Acquire(ctx, MutexMarker, true, nil)
		assert.NoError(t, err)
		got <- h
	}()
	require.NoError(t, waitFor(ctx, func() bool { cs, _ := q.Contenders(ctx); return len(cs) == 2 }))
	require.NoError(t, first.Release(ctx))
	second := <-got
	check(second)
	require.NoError(t, second.Release(ctx))
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
