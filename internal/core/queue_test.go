package core

import (
	"context"
	"path"
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
	_, err = qb.await(ctx, theirs, created{}, true, nil)
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
		<-c.listing.done
		require.NoError(t, c.listing.err)
		assert.Contains(t, c.listing.children, path.Base(own), "the listing went out before the create")
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

// TestTwinsOfARetriedCreateAreRemoved: a create sent again after one whose
// outcome was unknown may leave two nodes with our prefix (the first seen
// late by a lagging server); the one we did not take is removed, nothing
// else is.
func TestTwinsOfARetriedCreateAreRemoved(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := testSession(t)
	q, err := NewQueue(s, "/test/twins", []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)
	prefix := q.Path() + "/" + ProtectedName(uuid.NewString(), MutexMarker)
	other := q.Path() + "/" + ProtectedName(uuid.NewString(), MutexMarker)
	require.NoError(t, s.CreateParents(ctx, q.Path()))
	var made []string
	for _, p := range []string{prefix, prefix, other} {
		n, err := s.Conn().Create(p, nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
		made = append(made, n)
	}
	q.removeTwins(ctx, prefix, made[1])
	children, err := q.children(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{path.Base(made[1]), path.Base(made[2])}, children)
	for _, p := range made[1:] {
		require.NoError(t, s.Conn().Delete(p, -1))
	}
}
