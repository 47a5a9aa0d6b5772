package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// inspected is zkr inspect --json's output.
type inspected struct {
	Path     string
	Exists   bool
	Kind     string
	Data     []byte
	Text     *string
	Children int
	Nodes    []struct {
		Name, State, Role, Client, Session string
		Data                               []byte
		Text                               *string
	}
}

func inspectJSON(t *testing.T, ctx context.Context, path string) inspected {
	t.Helper()
	r := run(t, ctx, "inspect", "--json", path)
	require.Equal(t, 0, r.code, r.stderr)
	var out inspected
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	return out
}

func session(t *testing.T) *recipes.Session {
	t.Helper()
	servers := cluster.Servers() // first: it may start the cluster
	s, err := recipes.Connect(ctxFor(t, 30*time.Second), servers)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// contender creates a contender's node by hand, as a client using marker m
// would, and returns its name.
func contender(t *testing.T, ctx context.Context, s *recipes.Session, path string, m core.Marker) string {
	t.Helper()
	p, err := core.Of(s).Create(ctx, path+"/"+core.ProtectedName(uuid.NewString(), m), []byte("test"), zk.FlagEphemeral|zk.FlagSequence)
	require.NoError(t, err)
	return p[len(path)+1:]
}

func TestInspectTellsASetBarrierFromAMissingPath(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	b, err := barrier.New(session(t), "/zkr/inspect-barrier")
	require.NoError(t, err)
	require.NoError(t, b.Set(ctx))
	defer b.Remove(ctx)

	set := run(t, ctx, "inspect", "/zkr/inspect-barrier")
	missing := run(t, ctx, "inspect", "/zkr/inspect-missing")
	assert.Equal(t, 0, set.code, set.stderr)
	assert.Equal(t, 0, missing.code, missing.stderr)
	assert.Equal(t, "/zkr/inspect-barrier: persistent node, data \"\" (0 bytes), 0 children: nothing held, nobody waiting\n", set.stdout)
	assert.Equal(t, "/zkr/inspect-missing: missing (no such node)\n", missing.stdout)
	assert.Empty(t, set.stderr)
	assert.Empty(t, missing.stderr)

	j := inspectJSON(t, ctx, "/zkr/inspect-barrier")
	assert.True(t, j.Exists)
	assert.Equal(t, "persistent", j.Kind)
	assert.Equal(t, 0, j.Children)
	assert.Empty(t, j.Nodes)
	j = inspectJSON(t, ctx, "/zkr/inspect-missing")
	assert.False(t, j.Exists)
	assert.Empty(t, j.Kind)
}

func TestInspectJSONKeepsBinaryDataIntact(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	s := session(t)
	const path = "/zkr/inspect-binary"
	binary := []byte{0xff, 0x00, 0xfe, 'a', 0x80}
	_, err := core.Of(s).Create(ctx, path, binary, 0)
	require.NoError(t, err)
	defer s.Conn().Delete(path, -1)
	for name, data := range map[string][]byte{"bin": binary, "txt": []byte("héllo")} {
		_, err := core.Of(s).Create(ctx, path+"/"+name, data, zk.FlagEphemeral)
		require.NoError(t, err)
		defer core.Of(s).DeleteEphemeral(ctx, path+"/"+name)
	}

	j := inspectJSON(t, ctx, path)
	assert.Equal(t, binary, j.Data)
	assert.Nil(t, j.Text, "binary data has no text")
	require.Len(t, j.Nodes, 2)
	for _, n := range j.Nodes {
		switch n.Name {
		case "bin":
			assert.Equal(t, binary, n.Data)
			assert.Nil(t, n.Text)
		case "txt":
			assert.Equal(t, []byte("héllo"), n.Data)
			require.NotNil(t, n.Text)
			assert.Equal(t, "héllo", *n.Text)
		default:
			t.Errorf("unexpected node %q", n.Name)
		}
		assert.Equal(t, fmt.Sprintf("0x%x", s.ID()), n.Session)
	}
	r := run(t, ctx, "inspect", path)
	assert.Contains(t, r.stdout, `"\xff\x00\xfea\x80"`, "the text output escapes binary data")
}

// TestInspectShowsAMutexAndAWriterOnOnePathTruthfully: every known
// recipe's node is one queue; the writer behind the mutex node waits, and
// so does the reader behind them; a reader behind a downgraded writer
// holds with it, not one behind a mutex node whose data changed.
func TestInspectShowsAMutexAndAWriterOnOnePathTruthfully(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	s := session(t)
	const path = "/zkr/inspect-mixed"
	names := []string{
		contender(t, ctx, s, path, core.MutexMarker),
		contender(t, ctx, s, path, core.WriteMarker),
		contender(t, ctx, s, path, core.ReadMarker),
	}
	j := inspectJSON(t, ctx, path)
	require.Len(t, j.Nodes, 3)
	for i, want := range []struct{ state, role string }{{"holder", "exclusive"}, {"waiting", "exclusive"}, {"waiting", "shared"}} {
		assert.Equal(t, names[i], j.Nodes[i].Name)
		assert.Equal(t, want.state, j.Nodes[i].State, j.Nodes[i].Name)
		assert.Equal(t, want.role, j.Nodes[i].Role, j.Nodes[i].Name)
	}

	const down = "/zkr/inspect-downgraded"
	writer := contender(t, ctx, s, down, core.WriteMarker)
	_, err := core.Call(ctx, core.Of(s), func(c *zk.Conn) (*zk.Stat, error) { return c.Set(down+"/"+writer, []byte("downgraded to read"), 0) })
	require.NoError(t, err)
	contender(t, ctx, s, down, core.ReadMarker)
	contender(t, ctx, s, down, core.WriteMarker)
	j = inspectJSON(t, ctx, down)
	require.Len(t, j.Nodes, 3)
	assert.Equal(t, []string{"holder", "holder", "waiting"}, []string{j.Nodes[0].State, j.Nodes[1].State, j.Nodes[2].State})
	assert.Equal(t, "shared (downgraded writer)", j.Nodes[0].Role)

	const changed = "/zkr/inspect-changed-mutex"
	mutex := contender(t, ctx, s, changed, core.MutexMarker)
	_, err = core.Call(ctx, core.Of(s), func(c *zk.Conn) (*zk.Stat, error) { return c.Set(changed+"/"+mutex, []byte("other"), 0) })
	require.NoError(t, err)
	contender(t, ctx, s, changed, core.ReadMarker)
	j = inspectJSON(t, ctx, changed)
	require.Len(t, j.Nodes, 2)
	assert.Equal(t, []string{"holder", "waiting"}, []string{j.Nodes[0].State, j.Nodes[1].State})
	assert.Equal(t, "exclusive", j.Nodes[0].Role)
}

// TestInspectReadsNodesConcurrently: inspecting 1,000 contenders over a
// slow link costs a few round trips more than inspecting none, not 1,000.
func TestInspectReadsNodesConcurrently(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	s := session(t)
	const path, n = "/zkr/inspect-many", 1000
	require.NoError(t, core.Of(s).CreateParents(ctx, path))
	for batch := 0; batch < n; batch += 100 {
		ops := make([]any, 100)
		for i := range ops {
			ops[i] = &zk.CreateRequest{Path: path + "/" + core.ProtectedName(uuid.NewString(), core.MutexMarker),
				Data: []byte("test"), Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagEphemeral | zk.FlagSequence}
		}
		_, err := core.Call(ctx, core.Of(s), func(c *zk.Conn) ([]zk.MultiResponse, error) { return c.Multi(ops...) })
		require.NoError(t, err)
	}
	const empty = "/zkr/inspect-none"
	_, err := core.Of(s).Create(ctx, empty, nil, 0)
	require.NoError(t, err)
	defer s.Conn().Delete(empty, -1)

	proxy := testutil.Proxy(t, cluster)
	const delay = 50 * time.Millisecond
	proxy.Delay(delay)
	const roundTrip = 2 * delay // the proxy delays requests and replies
	timed := func(path string) (time.Duration, string) {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second) // 1,000 round trips would take 100 s
		defer cancel()
		cmd := exec.CommandContext(cctx, zkr, "inspect", "--json", "--servers", strings.Join(proxy.Servers(), ","), path)
		cmd.Stderr = os.Stderr
		t0 := time.Now()
		out, err := cmd.Output()
		require.NoError(t, err)
		return time.Since(t0), string(out)
	}
	// Best of two, against the noise of a shared machine.
	best := func(path string) (time.Duration, string) {
		d1, out := timed(path)
		d2, _ := timed(path)
		return min(d1, d2), out
	}
	base, _ := best(empty) // connect, one round of reads, close
	took, out := best(path)
	var j inspected
	require.NoError(t, json.Unmarshal([]byte(out), &j))
	require.Len(t, j.Nodes, n)
	assert.Equal(t, "holder", j.Nodes[0].State)
	assert.Equal(t, "waiting", j.Nodes[n-1].State)
	extra := took - base
	t.Logf("none: %v, %d nodes: %v (%.1f round trips more)", base, n, took, float64(extra)/float64(roundTrip))
	assert.Less(t, extra, 50*roundTrip, "reading %d nodes took %v more than reading none: nodes are read one at a time", n, extra)
}

// TestInspectShowsASemaphoresLeasesAndWaiters: at a semaphore's path,
// inspect lists its leases and the acquirers queued for its mutex, and not
// its two container children as unknown nodes.
func TestInspectShowsASemaphoresLeasesAndWaiters(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/zkr/inspect-semaphore"
	m, err := semaphore.New(session(t), path, 1)
	require.NoError(t, err)
	l, err := m.Acquire(ctx)
	require.NoError(t, err)
	defer l.Unlock(ctx)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go m.Acquire(wctx)
	require.NoError(t, waitFor(ctx, func() bool { ls, ws, _ := m.Leases(ctx); return len(ls) == 2 && len(ws) == 1 }))

	j := inspectJSON(t, ctx, path)
	var states []string
	for _, n := range j.Nodes {
		states = append(states, n.State)
	}
	assert.Equal(t, []string{"lease", "lease", "waiting for a lease"}, states)
	assert.Equal(t, "leases/"+l.Path()[len(path+"/leases/"):], j.Nodes[0].Name)
	assert.Equal(t, "zkrecipes", j.Nodes[0].Client)
}
