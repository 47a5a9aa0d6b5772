package core

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHoldWhoseNodeDoesNotMatchItsTokenEnds is defect 10 of issue 15: the
// token a hold was handed (from the wire, or an earlier read) is compared
// with the node's stat when the hold's watch reads it; a hold whose token
// or owner does not match is ended, never trusted with a wrong token.
func TestHoldWhoseNodeDoesNotMatchItsTokenEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := testSession(t)
	q, err := NewQueue(s, "/test/mismatch", []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)
	h, err := q.Acquire(ctx, MutexMarker, true, nil)
	require.NoError(t, err)

	// A hold on the same node that believes a wrong token, as one would
	// if a reply were misread. It takes the path's events over from h (one
	// hold per node) until it is forgotten.
	wrong := s.pendingHold(h.Path(), h.Token()+1, false).grant(false)
	select {
	case <-wrong.Done():
	case <-ctx.Done():
		t.Fatal("a hold with a wrong token stayed trusted")
	}
	assert.ErrorIs(t, wrong.Err(), ErrNodeMismatch)
	assert.ErrorIs(t, wrong.Err(), ErrLost)
	wrong.forget()
	s.mu.Lock()
	s.nodes[h.Path()] = h
	s.mu.Unlock()
	assert.NoError(t, h.Err(), "the right hold was ended too")
	// ... and it is still told what happens to its node.
	_, err = testSession(t).Conn().Set(h.Path(), []byte("someone else"), -1)
	require.NoError(t, err)
	select {
	case <-h.Done():
	case <-ctx.Done():
		t.Fatal("the right hold was not told of a foreign write")
	}
	assert.ErrorIs(t, h.Err(), ErrNodeMismatch)
	h.Release(ctx)
}

// TestAHoldThatDoesNotDecideYetHearsNothing: a hold made by Join reacts
// to nothing before its Grant, even to a watch the application set on its
// node through the same connection; once granted it learns what happened.
func TestAHoldThatDoesNotDecideYetHearsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, other := testSession(t), testSession(t)
	q, err := NewQueue(s, "/test/undecided", []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)
	h, err := q.Join(ctx, MutexMarker, nil)
	require.NoError(t, err)
	_, _, _, err = s.Conn().GetW(h.Path())
	require.NoError(t, err)
	require.NoError(t, other.Conn().Delete(h.Path(), -1))
	// The watch's event comes before this read's answer on the same
	// connection, and a hold that heard it would have ended at once.
	_, _, err = s.Conn().Exists(h.Path())
	require.NoError(t, err)
	assert.NoError(t, h.Err(), "a pending hold reacted to an event")
	h.Grant()
	select {
	case <-h.Done():
	case <-ctx.Done():
		t.Fatal("the granted hold did not learn that its node is gone")
	}
	assert.ErrorIs(t, h.Err(), ErrNodeDeleted)
	h.Release(ctx)
}

// TestSuspensionBetweenTwoLooksEndsTheHold: a suspension that came and
// went before anyone looked at the state still ends the hold
// (by default a suspension ends every hold: the server may have expired
// the session meanwhile).
func TestSuspensionBetweenTwoLooksEndsTheHold(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := testSession(t)
	q, err := NewQueue(s, "/test/blink", []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)
	h, err := q.Acquire(ctx, MutexMarker, true, nil)
	require.NoError(t, err)
	s.mu.Lock() // both changes before anyone can look
	s.setState(StateSuspended)
	s.setState(StateConnected)
	s.mu.Unlock()
	select {
	case <-h.Done():
	case <-ctx.Done():
		t.Fatal("a suspension that came and went left the hold trusted")
	}
	assert.ErrorIs(t, h.Err(), ErrSuspended)
	h.Release(ctx)
}

// TestHoldWhoseNodeAnotherClientWritesEnds: what a node's data means is
// part of the hold (a writer's node with a new version admits readers), so
// a write by anyone but the hold ends it, and a write through the hold
// never does: the guard follows it, also when the watch fires before the
// write's answer arrives (ZooKeeper sends the event first).
func TestHoldWhoseNodeAnotherClientWritesEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, other := testSession(t), testSession(t)
	q, err := NewQueue(s, "/test/written", []Marker{WriteMarker}, ReadWriteBlocks)
	require.NoError(t, err)
	h, err := q.Acquire(ctx, WriteMarker, true, nil)
	require.NoError(t, err)
	for i := range 20 {
		require.NoError(t, h.SetData(ctx, []byte{byte(i)}))
	}
	_, err = h.Multi(ctx)
	require.NoError(t, err, "the guard does not follow the hold's own writes")
	require.NoError(t, h.Err(), "the hold's own write ended it")

	_, err = other.Conn().Set(h.Path(), []byte("someone else"), -1)
	require.NoError(t, err)
	select {
	case <-h.Done():
	case <-ctx.Done():
		t.Fatal("a hold whose node another client wrote stayed trusted")
	}
	assert.ErrorIs(t, h.Err(), ErrNodeMismatch)
	assert.ErrorIs(t, h.Err(), ErrLost)
	assert.ErrorIs(t, h.SetData(ctx, []byte("mine")), ErrLost)
	assert.ErrorIs(t, h.Release(ctx), ErrNodeMismatch)
	ok, _, err := other.Conn().Exists(h.Path())
	require.NoError(t, err)
	assert.False(t, ok, "the node outlived its release")
}

// TestWrittenByOtherIgnoresReadsThatRacedOurWrite: the watch's read of the
// node may have been sent before the hold's own write and looked at after
// that write's answer: its version is older than the hold's, and is no
// foreign write. Taking it for one ended holds at random (a CI run of
// TestExtendMovesTheLimit). Only a version past ours, with no write of ours
// unsettled, is someone else's.
func TestWrittenByOtherIgnoresReadsThatRacedOurWrite(t *testing.T) {
	h := &Hold{version: 1}
	assert.False(t, h.writtenByOther(0), "a read that raced our write")
	assert.False(t, h.writtenByOther(1))
	assert.True(t, h.writtenByOther(2))
	h.unsettled = true
	assert.False(t, h.writtenByOther(2), "our own unsettled write")
}

// TestAnUnwatchedHoldStaysBlind: a hold that does not watch its node
// (Unwatched) may still get the events of a watch someone else in its
// Session set on the node (a contender behind it); it does not act on
// them: no revocation request is noted, and nothing is written back.
func TestAnUnwatchedHoldStaysBlind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, other := testSession(t), testSession(t)
	q, err := NewQueue(s, "/test/blind", []Marker{MutexMarker}, AnyBlocks, Unwatched())
	require.NoError(t, err)
	h, err := q.Acquire(ctx, MutexMarker, true, nil)
	require.NoError(t, err)
	defer h.Release(ctx)
	_, _, _, err = s.Conn().GetW(h.Path())
	require.NoError(t, err)
	_, err = other.Conn().Set(h.Path(), RevokeRequest(nil), -1)
	require.NoError(t, err)
	// The event comes before this read's answer, and a hold that acts on
	// it starts reading its node at once (arming), before the answer is
	// handed out.
	data, _, err := s.Conn().Get(h.Path())
	require.NoError(t, err)
	assert.True(t, isRevokeRequest(data))
	h.mu.Lock()
	arming := h.arming
	h.mu.Unlock()
	assert.False(t, arming, "an unwatched hold reads its node again on another watch's event")
	select {
	case <-h.RevokeRequested():
		t.Fatal("an unwatched hold acted on another watch's event")
	default:
	}
	assert.NoError(t, h.Err())
}
