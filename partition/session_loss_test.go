package partition_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/partition"
	"github.com/zkrecipes/zkrecipes/recipes"
)

var quiet = recipes.WithLogger(slog.New(slog.DiscardHandler))

// workers records which member works on which items, and which members'
// work was ever called.
type workers struct {
	mu      sync.Mutex
	working map[string][]string // member: its share, while its work runs
	called  map[string]bool
}

func newWorkers() *workers {
	return &workers{working: map[string][]string{}, called: map[string]bool{}}
}

// work works until its context ends, and returns its context's error.
func (w *workers) work(member string) func(context.Context, []partition.Item) error {
	return func(ctx context.Context, share []partition.Item) error {
		var names []string
		for _, it := range share {
			names = append(names, it.Name)
		}
		w.mu.Lock()
		w.working[member], w.called[member] = names, true
		w.mu.Unlock()
		<-ctx.Done()
		w.mu.Lock()
		delete(w.working, member)
		w.mu.Unlock()
		return ctx.Err()
	}
}

// settledOn reports whether exactly the members live work, each on its
// share among them.
func (w *workers) settledOn(items, live []string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.working) != len(live) {
		return false
	}
	for _, id := range live {
		share, ok := w.working[id]
		if !ok || !slices.Equal(share, partition.Share(items, live, id)) {
			return false
		}
	}
	return true
}

func (w *workers) wasCalled(member string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.called[member]
}

// sessionKinds are the two ways to have a Session: one made by Connect,
// which owns its connection, and one over a connection the application
// made, which goes on under a new session after ours expired.
var sessionKinds = map[string]func(t *testing.T, ctx context.Context, servers []string) *recipes.Session{
	"connect": func(t *testing.T, ctx context.Context, servers []string) *recipes.Session {
		return testutil.Session(t, servers, recipes.WithSessionTimeout(2*time.Second), quiet)
	},
	"wrapped": func(t *testing.T, ctx context.Context, servers []string) *recipes.Session {
		s, _ := testutil.Wrapped(t, ctx, servers, recipes.WithSessionTimeout(2*time.Second))
		return s
	},
}

// TestMembersOfALostSessionStopAndLeaveNothing: two members share one
// Session and work on their shares beside a third member on a session of
// its own, when the shared Session is cut off; more members start on it
// (their party nodes' creates queue) and its session expires meanwhile.
// Every Run on the lost Session returns an error matching ErrLost
// (ErrSessionLost on a Session made by Connect), the working members' work
// ends, the members that started cut off never work, and no party node or
// item lock of the lost Session is left: the third member soon works on
// the whole set, and is all that the party and the locks hold.
func TestMembersOfALostSessionStopAndLeaveNothing(t *testing.T) {
	for _, kind := range []string{"connect", "wrapped"} {
		t.Run(kind, func(t *testing.T) {
			testutil.ForReconnects(t, func(t *testing.T, r testutil.Reconnect) {
				testMembersOfALostSession(t, kind, r)
			})
		})
	}
}

func testMembersOfALostSession(t *testing.T, kind string, r testutil.Reconnect) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	items := []string{"a", "b", "c", "d", "e", "f"}
	const stability = 300 * time.Millisecond
	w := newWorkers()
	partitioner := func(s *recipes.Session, id string) *partition.Partitioner {
		pt, err := partition.New(s, path, items, partition.WithIdentifier(id), partition.WithStability(stability))
		require.NoError(t, err)
		return pt
	}
	run := func(ctx context.Context, s *recipes.Session, id string) <-chan error {
		pt := partitioner(s, id)
		done := make(chan error, 1)
		go func() { done <- pt.Run(ctx, w.work(id)) }()
		return done
	}
	survivor := session(t)
	sctx, stop := context.WithCancel(ctx)
	rest := run(sctx, survivor, "survivor")
	defer func() {
		stop()
		assert.ErrorIs(t, <-rest, context.Canceled)
	}()
	p := testutil.Proxy(t, cluster)
	shared := sessionKinds[kind](t, ctx, r.Servers(p))
	lossErr := recipes.ErrLost
	if kind == "connect" {
		lossErr = recipes.ErrSessionLost
	}
	working := map[string]<-chan error{"m1": run(ctx, shared, "m1"), "m2": run(ctx, shared, "m2")}
	require.NoError(t, waitFor(ctx, func() bool { return w.settledOn(items, []string{"m1", "m2", "survivor"}) }),
		"the set was never divided")

	const late = 4
	lateErrs := testutil.QueueAcrossExpiry(t, ctx, cluster, r, p, shared, late, []string{"Create"}, func(i int) error {
		id := fmt.Sprintf("late%d", i)
		return partitioner(shared, id).Run(ctx, w.work(id))
	})
	for id, done := range working {
		select {
		case err := <-done:
			assert.ErrorIs(t, err, lossErr, id)
		case <-ctx.Done():
			t.Fatalf("%s's Run outlived its session", id)
		}
	}
	for i, err := range lateErrs {
		assert.ErrorIs(t, err, lossErr, "late%d", i)
		assert.False(t, w.wasCalled(fmt.Sprintf("late%d", i)), "late%d worked", i)
	}
	w.mu.Lock()
	assert.NotContains(t, w.working, "m1", "m1's work goes on")
	assert.NotContains(t, w.working, "m2", "m2's work goes on")
	w.mu.Unlock()

	// Nothing of the lost Session keeps the set from the third member,
	// and nothing of it is left.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	admin := session(t)
	if err := waitFor(wctx, func() bool { return w.settledOn(items, []string{"survivor"}) }); err != nil {
		t.Fatalf("the surviving member never got the whole set; the party: %v", testutil.Children(t, admin, path+"/party"))
	}
	party := testutil.Children(t, admin, path+"/party")
	if assert.Len(t, party, 1, "party nodes: %v", party) {
		assert.True(t, strings.HasSuffix(party[0], "-survivor"), party[0])
	}
	for _, it := range items {
		locks := testutil.Children(t, admin, path+"/locks/"+it)
		if !assert.Len(t, locks, 1, "item %s's lock nodes: %v", it, locks) {
			continue
		}
		data, st, err := admin.Conn().Get(path + "/locks/" + it + "/" + locks[0])
		require.NoError(t, err)
		assert.Equal(t, "survivor", string(data), "item %s", it)
		assert.Equal(t, survivor.ID(), st.EphemeralOwner, "item %s", it)
	}
}
