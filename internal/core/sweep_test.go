package core

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseDeletesOnlyOurNodes: a Session over the application's
// connection deletes at Close the ephemeral nodes it created, and never
// another client's: not one whose create it lost to (ErrNodeExists), not a
// sequential sibling made by someone else.
func TestCloseDeletesOnlyOurNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	other := testSession(t)
	conn, _, err := zk.Connect(cluster.Servers(), 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer conn.Close()
	s, err := NewSession(ctx, conn, DefaultConfig())
	require.NoError(t, err)

	const dir = "/test/sweep-only-ours"
	theirs, err := other.Create(ctx, dir+"/taken", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	theirSeq, err := other.Create(ctx, dir+"/n-", nil, zk.FlagEphemeral|zk.FlagSequence)
	require.NoError(t, err)
	_, err = s.Create(ctx, theirs, nil, zk.FlagEphemeral)
	require.ErrorIs(t, err, zk.ErrNodeExists)
	mine, err := s.Create(ctx, dir+"/n-", nil, zk.FlagEphemeral|zk.FlagSequence)
	require.NoError(t, err)
	mineToo, err := s.Create(ctx, dir+"/mine", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	// A name anyone may use (a double barrier's ready node): ours once, then
	// deleted behind the Session's back and made again by another client.
	shared, err := s.Create(ctx, dir+"/ready", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	require.NoError(t, conn.Delete(shared, -1))
	_, err = other.Create(ctx, shared, nil, zk.FlagEphemeral)
	require.NoError(t, err)

	require.NoError(t, s.Close())
	exists := func(p string) bool {
		ok, _, err := other.Conn().Exists(p)
		require.NoError(t, err)
		return ok
	}
	assert.True(t, exists(theirs), "Close deleted a node whose create it lost")
	assert.True(t, exists(theirSeq), "Close deleted another client's sequential sibling")
	assert.True(t, exists(shared), "Close deleted another client's node of a name it had used")
	assert.False(t, exists(mine), "Close left our sequential node")
	assert.False(t, exists(mineToo), "Close left our node")
	assert.Empty(t, s.tracked())
}

// TestRegistryEmptiesAfterFailedCreates: creates that fail for good leave
// no entry behind (the answer is counted before the caller untracks).
func TestRegistryEmptiesAfterFailedCreates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := zk.Connect(cluster.Servers(), 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer conn.Close()
	s, err := NewSession(ctx, conn, DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	parent, err := s.Create(ctx, "/test/sweep-eph-parent", nil, zk.FlagEphemeral)
	require.NoError(t, err)
	for i := range 200 {
		_, err := s.Create(ctx, parent+"/c"+string(rune('a'+i%26)), nil, zk.FlagEphemeral)
		require.ErrorIs(t, err, zk.ErrNoChildrenForEphemerals)
	}
	assert.Equal(t, []string{parent}, s.tracked())
}

// TestParseUniqueNames: which names carry an id made for one create, so
// that a node of that name is ours whatever session owns it, and which
// anyone may make.
func TestParseUniqueNames(t *testing.T) {
	hex := strings.ReplaceAll(uuid.NewString(), "-", "")
	for name, unique := range map[string]bool{
		ProtectedName(uuid.NewString(), MutexMarker) + "0000000001": true,
		uuid.NewString():              true, // a double barrier member
		hex + "-pod-0":                true, // a partition's party node
		hex + "__party__":             true, // a Kazoo-style group member
		"worker-1":                    false,
		"ready":                       false,
		hex:                           true, // uuid.Parse takes it
		hex + "x-pod-0":               false,
		strings.ToUpper(hex) + "-pod": false,
		"":                            false,
	} {
		assert.Equal(t, unique, uniqueName(name), "%q", name)
	}
}
