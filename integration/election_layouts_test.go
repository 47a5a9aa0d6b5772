package integration_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/leader"
)

// foreignCandidate is a Java or Python process campaigning in an election.
type foreignCandidate struct {
	d            *interop.Driver
	join, joined string // command, and its reply
	leading      string // its line when it leads
	leave, left  string // command to stop leading, and its reply
	view, queued string // command to list the candidates as it sees them, and the list with ours leading
}

// testSharedElection: ours leads first; the foreign candidate queues and
// is seen with its value; when ours resigns it leads, and our Leader says
// so; ours campaigns again and leads once it lets go.
func testSharedElection(t *testing.T, ctx context.Context, path string, layout leader.Layout, f foreignCandidate, value string) {
	t.Helper()
	e, err := leader.New(session(t), path, leader.WithLayout(layout))
	require.NoError(t, err)
	l, err := e.Campaign(ctx, []byte("go-1"))
	require.NoError(t, err)
	f.d.Send(f.join)
	_, err = f.d.Expect(ctx, f.joined)
	require.NoError(t, err)
	require.NoError(t, testutil.WaitFor(ctx, func() bool { cs, _ := e.Contenders(ctx); return len(cs) == 2 }))
	cs, err := e.Contenders(ctx)
	require.NoError(t, err)
	assert.Equal(t, value, string(cs[1].Data), "the foreign candidate's value")
	f.d.Send(f.view) // the foreign recipe's own view: ours first, leading
	line, err := f.d.Expect(ctx, f.queued[:strings.Index(f.queued, " ")])
	require.NoError(t, err)
	require.Equal(t, f.queued, line, "the foreign candidate does not see ours ahead of it")
	require.NoError(t, l.Resign(ctx))
	_, err = f.d.Expect(ctx, f.leading)
	require.NoError(t, err)
	cur, err := e.Leader(ctx)
	require.NoError(t, err)
	assert.Equal(t, value, string(cur.Data))

	got := make(chan error, 1)
	go func() {
		l, err := e.Campaign(ctx, []byte("go-1"))
		if err == nil {
			err = l.Resign(ctx)
		}
		got <- err
	}()
	require.NoError(t, testutil.WaitFor(ctx, func() bool { cs, _ := e.Contenders(ctx); return len(cs) == 2 }))
	select {
	case err := <-got:
		t.Fatalf("ours led beside the foreign leader (%v)", err)
	default:
	}
	f.d.Send(f.leave)
	_, err = f.d.Expect(ctx, f.left)
	require.NoError(t, err)
	require.NoError(t, <-got)
}

// TestCuratorLeaderSelectorSharesOurElection: with the LeaderSelector
// layout, a Java LeaderSelector and ours queue in one election.
func TestCuratorLeaderSelectorSharesOurElection(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/curator-selector"
	java := interop.StartCurator(t, cluster.ConnectString())
	testSharedElection(t, ctx, path, leader.LeaderSelector, foreignCandidate{
		d: java, join: "selector " + path + " java-1", joined: "selecting " + path,
		leading: "leading " + path + " java-1", leave: "unselect " + path, left: "unselected " + path,
		view: "participants " + path, queued: "participants go-1*,java-1",
	}, "java-1")
}

// TestKazooElectionSharesOurElection: with the KazooElection layout, a
// Python Election candidate and ours queue in one election.
func TestKazooElectionSharesOurElection(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/kazoo-election"
	py := interop.StartKazoo(t, cluster.ConnectString())
	testSharedElection(t, ctx, path, leader.KazooElection, foreignCandidate{
		d: py, join: "elect " + path + " py-1", joined: "electing " + path,
		leading: "leading " + path + " py-1", leave: "unelect " + path, left: "unelected " + path,
		view: "contenders " + path, queued: "contenders go-1,py-1",
	}, "py-1")
}
