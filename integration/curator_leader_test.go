package integration_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/leader"
)

// TestCuratorLeaderLatchAndOursElectOneLeader runs a Curator LeaderLatch
// in a Java process in the same election as our candidates: one leader at
// a time, handed over in queue order, each side seeing the other's value.
func TestCuratorLeaderLatchAndOursElectOneLeader(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/curator-election"
	java := interop.StartCurator(t, cluster.ConnectString())
	e, err := leader.New(session(t), path)
	require.NoError(t, err)

	ours, err := e.Campaign(ctx, []byte("go-1"))
	require.NoError(t, err)
	java.Send("latch " + path + " java-1")
	waitCandidates(t, e, 2)
	select {
	case line := <-java.Lines():
		t.Fatalf("Curator leads while we do: %q", line)
	default:
	}

	require.NoError(t, ours.Resign(ctx))
	_, err = java.Expect(ctx, "leader "+path+" java-1")
	require.NoError(t, err)
	cur, err := e.Leader(ctx)
	require.NoError(t, err)
	assert.Equal(t, "java-1", string(cur.Data), "Curator's latch id is the leader's value")

	type result struct {
		l   *leader.Leadership
		err error
	}
	next := make(chan result, 1)
	go func() {
		l, err := e.Campaign(ctx, []byte("go-2"))
		next <- result{l, err}
	}()
	waitCandidates(t, e, 2)
	assert.Len(t, next, 0, "we lead while Curator does")
	java.Send("unlatch " + path)
	_, err = java.Expect(ctx, "unlatched "+path)
	require.NoError(t, err)
	got := <-next
	require.NoError(t, got.err)
	assert.Greater(t, got.l.Token(), cur.Token)
	require.NoError(t, got.l.Resign(ctx))
}

func waitCandidates(t *testing.T, e *leader.Election, n int) {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	for {
		cs, err := e.Contenders(ctx)
		if err == nil && len(cs) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("want %d candidates, have %d (%v)", n, len(cs), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
