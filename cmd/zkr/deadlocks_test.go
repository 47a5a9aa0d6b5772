package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/group"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// connectT opens a session to the test cluster for the test.
func connectT(t *testing.T, ctx context.Context) *recipes.Session {
	t.Helper()
	s, err := recipes.Connect(ctx, cluster.Servers())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// cycleOf makes n sessions, each holding a lock of its own under prefix
// and waiting for the next one's: a cycle of n. It returns the sessions'
// ids; the waits end with the test.
func cycleOf(t *testing.T, ctx context.Context, prefix string, n int) []string {
	t.Helper()
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	var ids []string
	var sessions []*recipes.Session
	for i := range n {
		s := connectT(t, ctx)
		m, err := lock.New(s, fmt.Sprintf("%s/l%d", prefix, i))
		require.NoError(t, err)
		_, err = m.Lock(ctx)
		require.NoError(t, err)
		sessions = append(sessions, s)
		ids = append(ids, fmt.Sprintf("0x%x", s.ID()))
	}
	for i, s := range sessions {
		next, err := lock.New(s, fmt.Sprintf("%s/l%d", prefix, (i+1)%n))
		require.NoError(t, err)
		go next.Lock(wctx)
		require.NoError(t, waitFor(ctx, func() bool { cs, _ := next.Contenders(ctx); return len(cs) == 2 }))
	}
	return ids
}

// TestDeadlocksFindsCyclesOfTwoAndThree: real sessions that hold one lock
// each and wait for the next one's are found, each session named, and zkr
// exits 3.
func TestDeadlocksFindsCyclesOfTwoAndThree(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	for _, n := range []int{2, 3} {
		prefix := fmt.Sprintf("/zkr/deadlocks/cycle%d", n)
		ids := cycleOf(t, ctx, prefix, n)
		r := run(t, ctx, "deadlocks", prefix)
		assert.Equal(t, 3, r.code, "%d: %s %s", n, r.stdout, r.stderr)
		assert.Contains(t, r.stdout, fmt.Sprintf("possible deadlock: %d sessions", n))
		for i, id := range ids {
			assert.Contains(t, r.stdout, fmt.Sprintf("session %s holds %s/l%d and waits for %s/l%d", id, prefix, i, prefix, (i+1)%n))
		}
	}
}

// TestDeadlocksFindsNoCycleInQueuesReadersAndElections: a plain queue,
// readers sharing a lock with a writer waiting, an election with
// candidates, and two goroutines of one session on one lock wait for each
// other in no cycle; with --older-than, the holds are listed, and zkr
// exits 3 for them only.
func TestDeadlocksFindsNoCycleInQueuesReadersAndElections(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const prefix = "/zkr/deadlocks/none"
	wait := func(path string, n int) {
		observer, err := lock.New(connectT(t, ctx), path)
		require.NoError(t, err)
		require.NoError(t, waitFor(ctx, func() bool { cs, _ := observer.Contenders(ctx); return len(cs) == n }), path)
	}
	for range 3 { // a plain queue
		m, err := lock.New(connectT(t, ctx), prefix+"/queue")
		require.NoError(t, err)
		go m.Lock(wctx)
	}
	wait(prefix+"/queue", 3)
	for range 2 { // readers, and a writer waiting
		m, err := rwlock.New(connectT(t, ctx), prefix+"/rw")
		require.NoError(t, err)
		_, err = m.RLock(ctx)
		require.NoError(t, err)
	}
	w, err := rwlock.New(connectT(t, ctx), prefix+"/rw")
	require.NoError(t, err)
	go w.Lock(wctx)
	wait(prefix+"/rw", 3)
	for i := range 3 { // an election
		e, err := leader.New(connectT(t, ctx), prefix+"/election")
		require.NoError(t, err)
		go e.Campaign(wctx, []byte(fmt.Sprint(i)))
	}
	wait(prefix+"/election", 3)
	one, err := lock.New(connectT(t, ctx), prefix+"/own") // two goroutines, one session
	require.NoError(t, err)
	go one.Lock(wctx)
	go one.Lock(wctx)
	wait(prefix+"/own", 2)

	r := run(t, ctx, "deadlocks", prefix)
	assert.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Equal(t, prefix+": no cycle among 4 recipe paths\n", r.stdout)
	r = run(t, ctx, "deadlocks", "--older-than", "1ms", prefix)
	assert.Equal(t, 3, r.code, r.stdout+r.stderr)
	assert.Equal(t, 1+5, strings.Count(r.stdout, "\n"), "the 5 holders, after the line that says there is no cycle: %s", r.stdout)
}

// TestTopShowsHoldersAndWaitersAndServesThem: a lock with a holder and a
// waiter under the prefix, printed once as JSON, and served for
// Prometheus until zkr is interrupted.
func TestTopShowsHoldersAndWaitersAndServesThem(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const prefix = "/zkr/top"
	m, err := lock.New(connectT(t, ctx), prefix+"/a")
	require.NoError(t, err)
	_, err = m.Lock(ctx)
	require.NoError(t, err)
	waiter, err := lock.New(connectT(t, ctx), prefix+"/a")
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go waiter.Lock(wctx)
	require.NoError(t, waitFor(ctx, func() bool { cs, _ := m.Contenders(ctx); return len(cs) == 2 }))

	r := run(t, ctx, "top", "--json", prefix)
	require.Equal(t, 0, r.code, r.stderr)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows), r.stdout)
	require.Len(t, rows, 1)
	assert.Equal(t, prefix+"/a", rows[0]["path"])
	assert.Equal(t, "lock", rows[0]["kind"])
	assert.Equal(t, 1.0, rows[0]["holders"])
	assert.Equal(t, 1.0, rows[0]["waiters"])
	assert.Equal(t, []any{"zkrecipes"}, rows[0]["clients"])

	z := start(t, ctx, "top", "--listen", "127.0.0.1:0", prefix)
	var url string
	require.NoError(t, waitFor(ctx, func() bool {
		out, _ := os.ReadFile(z.stderrFile)
		_, addr, ok := strings.Cut(string(out), "at http://")
		url, _, _ = strings.Cut(addr, "\n")
		return ok && strings.HasSuffix(url, "/metrics")
	}), "zkr top did not say where it serves")
	resp, err := http.Get("http://" + url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), fmt.Sprintf("zkr_waiters{path=%q,kind=\"lock\"} 1\n", prefix+"/a"))
	require.NoError(t, z.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 130, z.wait().code)
}

// TestTopListenSaysSoWhenItsSessionIsLost: zkr top --listen whose
// session expires stops serving and exits 4 with one line.
func TestTopListenSaysSoWhenItsSessionIsLost(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	before := sessionsOnServers(t, ctx)
	z := start(t, ctx, "top", "--listen", "127.0.0.1:0", "/zkr/top-lost")
	require.NoError(t, waitFor(ctx, func() bool {
		out, _ := os.ReadFile(z.stderrFile)
		return strings.Contains(string(out), "/metrics")
	}), "zkr top did not say where it serves")
	var ours []int64 // the sessions that zkr top opened: those not there before
	for id := range sessionsOnServers(t, ctx) {
		if !before[id] {
			ours = append(ours, id)
		}
	}
	require.Len(t, ours, 1, "zkr top's session")
	require.NoError(t, cluster.ExpireSession(ctx, ours[0]))
	r := z.wait()
	assert.Equal(t, 4, r.code, r.stderr)
	assert.Contains(t, r.stderr, "stopped serving the figures of /zkr/top-lost")
}

// sessionsOnServers returns the ids of the sessions connected to the
// cluster's servers (their cons).
func sessionsOnServers(t *testing.T, ctx context.Context) map[int64]bool {
	t.Helper()
	ids := map[int64]bool{}
	for _, m := range cluster.Members() {
		out, err := m.FourLetterWord(ctx, "cons")
		require.NoError(t, err)
		for _, line := range strings.Split(out, "\n") {
			_, sid, ok := strings.Cut(line, "sid=0x")
			if !ok {
				continue
			}
			sid, _, _ = strings.Cut(sid, ",")
			id, err := strconv.ParseUint(sid, 16, 64)
			require.NoError(t, err, line)
			ids[int64(id)] = true
		}
	}
	return ids
}

// TestGroupListsAndWatchesMembers: zkr group lists a group's members, and
// with --watch prints the membership again when one joins.
func TestGroupListsAndWatchesMembers(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/zkr/group"
	g, err := group.New(connectT(t, ctx), path)
	require.NoError(t, err)
	_, err = g.Join(ctx, "a", []byte("10.0.0.1:80"))
	require.NoError(t, err)
	r := run(t, ctx, "group", path)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "a  \"10.0.0.1:80\"")
	z := start(t, ctx, "group", "--watch", path)
	other, err := group.New(connectT(t, ctx), path)
	require.NoError(t, err)
	require.NoError(t, waitFor(ctx, func() bool { out, _ := os.ReadFile(z.stdoutFile); return strings.Contains(string(out), "1 members") }))
	_, err = other.Join(ctx, "b", nil)
	require.NoError(t, err)
	require.NoError(t, waitFor(ctx, func() bool { out, _ := os.ReadFile(z.stdoutFile); return strings.Contains(string(out), "2 members") }))
	require.NoError(t, z.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 130, z.wait().code)
}
