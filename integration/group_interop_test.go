package integration_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/group"
	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
)

// askUntil sends cmd to d until its reply is want, or ctx ends: a
// member's view may lag its group by a moment (Curator's cache).
func askUntil(t *testing.T, ctx context.Context, d *interop.Driver, cmd, want string) {
	t.Helper()
	var last string
	err := testutil.WaitFor(ctx, func() bool {
		d.Send(cmd)
		line, err := d.Expect(ctx, "members ")
		last = line
		return err == nil && line == want
	})
	require.NoError(t, err, "%s: got %q, want %q", cmd, last, want)
}

// TestCuratorGroupMemberAndKazooPartyShareOurGroups: Curator's GroupMember
// and ours are members of one group, each seen by the other; Kazoo's Party
// and ours (WithKazooParty) likewise.
func TestCuratorGroupMemberAndKazooPartyShareOurGroups(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	ids := func(ms []group.Member) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return strings.Join(out, ",")
	}

	const curatorPath = "/interop/curator-group"
	java := interop.StartCurator(t, cluster.ConnectString())
	java.Send("groupjoin " + curatorPath + " java-1")
	_, err := java.Expect(ctx, "joined "+curatorPath)
	require.NoError(t, err)
	g, err := group.New(session(t), curatorPath)
	require.NoError(t, err)
	_, err = g.Join(ctx, "go-1", []byte("go-1"))
	require.NoError(t, err)
	ms, err := g.Members(ctx)
	require.NoError(t, err)
	assert.Equal(t, "go-1,java-1", ids(ms))
	askUntil(t, ctx, java, "groupmembers "+curatorPath, "members go-1,java-1")

	const kazooPath = "/interop/kazoo-party"
	py := interop.StartKazoo(t, cluster.ConnectString())
	py.Send("party " + kazooPath + " py-1")
	_, err = py.Expect(ctx, "joined "+kazooPath)
	require.NoError(t, err)
	party, err := group.New(session(t), kazooPath, group.WithKazooParty())
	require.NoError(t, err)
	_, err = party.Join(ctx, "go-1", nil)
	require.NoError(t, err)
	ms, err = party.Members(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"go-1", "py-1"}, strings.Split(ids(ms), ","))
	askUntil(t, ctx, py, "members "+kazooPath, "members go-1,py-1")
}
