package core

import (
	"context"
	"path"
	"testing"
	"time"

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
	_, err = qb.await(ctx, theirs, created{}, true)
	assert.ErrorIs(t, err, ErrForeignNode)
	ok, _, err := a.Conn().Exists(theirs)
	require.NoError(t, err)
	assert.True(t, ok, "the other session's node was deleted")
	require.NoError(t, a.Conn().Delete(theirs, -1))
}

func TestConnectHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Connect(ctx, cluster.Servers(), DefaultConfig())
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

// TestTokenIsTheNodesCzxid checks the fencing token against the server: it
// is the creation zxid of the hold's node, for a hold granted at once and
// for one granted after waiting; and a create on a Session made by Connect
// learns it from the reply, with the listing sent behind it showing the
// new node.
func TestTokenIsTheNodesCzxid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := testSession(t)
	q, err := NewQueue(s, "/test/token", []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)
	czxid := func(p string) int64 {
		t.Helper()
		_, st, err := s.Conn().Exists(p)
		require.NoError(t, err)
		return st.Czxid
	}
	check := func(h *Hold) {
		t.Helper()
		assert.Equal(t, czxid(h.Path()), h.Token())
	}

	for range 3 { // the first create also creates the parent
		own, c, err := q.create(ctx, "/test/token/"+ProtectedName(uuid.NewString(), MutexMarker), nil)
		require.NoError(t, err)
		assert.Equal(t, czxid(own), c.token, "token from the create's reply")
		require.NotNil(t, c.listing, "no listing sent with the create")
		l := <-c.listing
		require.NoError(t, l.err)
		assert.Contains(t, l.children, path.Base(own), "the listing went out before the create")
		require.NoError(t, s.DeleteEphemeral(ctx, own))
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
