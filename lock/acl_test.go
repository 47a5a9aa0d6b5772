package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// digest returns the options of a session that authenticates as user and
// gives its nodes to user alone.
func digest(user string) []recipes.Option {
	return []recipes.Option{
		recipes.WithAuth("digest", []byte(user+":pw-"+user)),
		recipes.WithACL(zk.DigestACL(zk.PermAll, user, "pw-"+user)...),
	}
}

// TestACLKeepsOtherIdentitiesOut: a lock made by a session with a digest
// ACL gives its nodes and the container parents it makes that ACL.
// Another identity can neither delete the holder's node nor queue in the
// lock's path: its Lock fails at once with a clear error, leaves nothing
// behind, and the hold stays trusted.
func TestACLKeepsOtherIdentitiesOut(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	// Under a root of its own, open to all: were alice to make /test, its
	// ACL would close it to every other test until the server reaps it.
	root := "/" + t.Name()
	_, err := session(t, nil).Conn().CreateContainer(root, nil, zk.FlagContainer, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	path := root + "/guarded"
	alice := session(t, nil, digest("alice")...)
	m, err := lock.New(alice, path)
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	want := zk.DigestACL(zk.PermAll, "alice", "pw-alice")
	for _, p := range []string{h.Path(), path} {
		acl, _, err := alice.Conn().GetACL(p)
		require.NoError(t, err)
		assert.Equal(t, want, acl, p)
	}

	for _, other := range [][]recipes.Option{digest("bob"), nil} {
		s := session(t, nil, other...)
		assert.ErrorIs(t, s.Conn().Delete(h.Path(), -1), zk.ErrNoAuth, "another identity deleted the holder's node")
		theirs, err := lock.New(s, path)
		require.NoError(t, err)
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = theirs.Lock(short)
		cancel()
		assert.ErrorIs(t, err, zk.ErrNoAuth)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "waited instead of failing")
	}
	cs, err := m.Contenders(ctx)
	require.NoError(t, err)
	assert.Len(t, cs, 1, "another identity left a node")
	assert.NoError(t, h.Err())
	require.NoError(t, h.Unlock(ctx))
}

// TestAContenderThatCannotReadTheNodeAheadFailsClearly: in a path open to
// all, a holder's node readable by its owner alone: another client queued
// behind it cannot read it, and its Lock fails with an error that says so,
// leaving nothing behind; it is never granted beside the holder. The
// contender view shows the node as unreadable instead of failing.
func TestAContenderThatCannotReadTheNodeAheadFailsClearly(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := "/" + t.Name() // a persistent node open to all, made by the test
	open := session(t, nil)
	plainNode(t, open, path, nil)
	alice := session(t, nil, digest("alice")...)
	m, err := lock.New(alice, path)
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)

	theirs, err := lock.New(open, path)
	require.NoError(t, err)
	_, err = theirs.Lock(ctx)
	require.ErrorIs(t, err, zk.ErrNoAuth)
	assert.Contains(t, err.Error(), "may not be read")
	_, err = theirs.TryLock(ctx)
	assert.Error(t, err, "a try was granted beside the holder")

	cs, err := recipes.Contenders(ctx, open, path)
	require.NoError(t, err, "one unreadable node failed the whole view")
	require.Len(t, cs, 1, "a node was left behind")
	assert.True(t, cs[0].Unreadable)
	assert.True(t, cs[0].Held)
	assert.Equal(t, h.Token(), cs[0].Token)
	assert.Equal(t, alice.ID(), cs[0].Session)
	assert.NoError(t, h.Err())
	require.NoError(t, h.Unlock(ctx))
}
