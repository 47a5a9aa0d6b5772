package partition_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/partition"
	"github.com/zkrecipes/zkrecipes/recipes"
)

func TestShareIsKazoos(t *testing.T) {
	items := []string{"j", "a", "c", "b", "e", "d", "g", "f", "i", "h"}
	members := []string{"z", "x", "y"}
	assert.Equal(t, []string{"a", "d", "g", "j"}, partition.Share(items, members, "x"))
	assert.Equal(t, []string{"b", "e", "h"}, partition.Share(items, members, "y"))
	assert.Equal(t, []string{"c", "f", "i"}, partition.Share(items, members, "z"))
	assert.Nil(t, partition.Share(items, members, "w"), "not a member: no share")
	assert.Equal(t, []string{"a"}, partition.Share([]string{"a"}, []string{"x", "y"}, "x"))
	assert.Nil(t, partition.Share([]string{"a"}, []string{"x", "y"}, "y"))
}

// stint is one member's work on one item: from when it held the lock to
// when its work returned (or its session was expired).
type stint struct {
	member   string
	from, to time.Time
	item     string
	open     bool
}

// linger is how long a worker goes on after its context ended.
const linger = 600 * time.Millisecond

// ledger records every member's stints, and each member's current share.
type ledger struct {
	mu      sync.Mutex
	stints  []*stint
	current map[string][]string
}

func (l *ledger) work(member string) func(context.Context, []partition.Item) error {
	return func(ctx context.Context, share []partition.Item) error {
		l.mu.Lock()
		var mine []*stint
		var items []string
		for _, it := range share {
			items = append(items, it.Name)
			s := &stint{member: member, from: time.Now(), item: it.Name, open: true}
			mine = append(mine, s)
			l.stints = append(l.stints, s)
		}
		l.current[member] = items
		l.mu.Unlock()
		<-ctx.Done()
		// A worker slow to stop: it goes on for longer than the stability
		// window, so that only the locks keep the next owner out.
		time.Sleep(linger)
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.current, member)
		for _, s := range mine {
			if s.open {
				s.to, s.open = time.Now(), false
			}
		}
		return nil
	}
}

// cut ends member's open stints at t: its session was expired then, and
// it can no longer trust its locks (the checker's view, as the safety
// suite's).
func (l *ledger) cut(member string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.stints {
		if s.member == member && (s.open || s.to.After(t)) {
			s.to, s.open = t, false
		}
	}
}

// settledOn reports whether exactly the live members work, each on its
// share of items among them.
func (l *ledger) settledOn(items, live []string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.current) != len(live) {
		return false
	}
	for _, id := range live {
		share, ok := l.current[id]
		if !ok || !slices.Equal(share, partition.Share(items, live, id)) {
			return false
		}
	}
	return true
}

// overlaps returns every pair of stints on one item by two members that
// overlap in time.
func (l *ledger) overlaps() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, a := range l.stints {
		for _, b := range l.stints[i+1:] {
			if a.item != b.item || a.member == b.member {
				continue
			}
			aTo, bTo := a.to, b.to
			if a.open {
				aTo = time.Now()
			}
			if b.open {
				bTo = time.Now()
			}
			if a.from.Before(bTo) && b.from.Before(aTo) {
				out = append(out, fmt.Sprintf("%s: %s %v-%v and %s %v-%v", a.item, a.member, a.from, aTo, b.member, b.from, bTo))
			}
		}
	}
	return out
}

// TestMembersSplitTheSetAndNoItemIsEverHeldTwice: members join, leave and
// lose their sessions while they work; after each change every item is
// owned again, by one live member, within the stability window and a
// bound; and the recorded history never has an item worked on by two
// members at once, though every worker goes on for longer than the
// stability window after it is told to stop (the locks keep the next
// owner waiting).
func TestMembersSplitTheSetAndNoItemIsEverHeldTwice(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	path := testPath(t)
	const stability = 300 * time.Millisecond
	var items []string
	for i := range 12 {
		items = append(items, fmt.Sprintf("item-%02d", i))
	}
	l := &ledger{current: map[string][]string{}}
	type member struct {
		s      *recipes.Session
		cancel context.CancelFunc
		done   chan error
	}
	members := map[string]*member{}
	start := func(id string) {
		s := session(t)
		p, err := partition.New(s, path, items, partition.WithIdentifier(id), partition.WithStability(stability))
		require.NoError(t, err)
		mctx, cancel := context.WithCancel(ctx)
		m := &member{s, cancel, make(chan error, 1)}
		members[id] = m
		go func() { m.done <- p.Run(mctx, l.work(id)) }()
	}
	settled := func(t0 time.Time, what string, live ...string) {
		require.NoError(t, waitFor(ctx, func() bool { return l.settledOn(items, live) }), "%s: the set was never divided among %v", what, live)
		took := time.Since(t0)
		t.Logf("%s: every item owned again after %v", what, took)
		assert.Less(t, took, stability+5*time.Second, what)
	}
	for _, id := range []string{"m1", "m2", "m3"} {
		start(id)
	}
	settled(time.Now(), "three members", "m1", "m2", "m3")
	t0 := time.Now()
	start("m4")
	settled(t0, "a fourth joined", "m1", "m2", "m3", "m4")
	t0 = time.Now()
	members["m2"].cancel()
	assert.ErrorIs(t, <-members["m2"].done, context.Canceled)
	settled(t0, "one left", "m1", "m3", "m4")
	at := time.Now()
	require.NoError(t, cluster.ExpireSession(ctx, members["m3"].s.ID()))
	l.cut("m3", at)
	assert.ErrorIs(t, <-members["m3"].done, recipes.ErrLost)
	settled(at, "one's session expired", "m1", "m4")
	assert.Empty(t, l.overlaps(), "an item worked on by two members at once")
	l.mu.Lock()
	n := len(l.stints)
	l.mu.Unlock()
	assert.Greater(t, n, 12, "the history has too few stints to say anything")
}

// TestAMemberThatLostItsPlaceStops: a member whose party node is deleted
// (an operator) returns ErrNodeDeleted, releasing its share, instead of
// idling; the items a member works on carry its locks' fencing tokens.
func TestAMemberThatLostItsPlaceStops(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	items := []string{"a", "b", "a"} // an item twice counts once
	p, err := partition.New(session(t), path, items, partition.WithIdentifier("one"), partition.WithStability(200*time.Millisecond))
	require.NoError(t, err)
	got := make(chan []partition.Item, 1)
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(ctx context.Context, share []partition.Item) error {
			got <- share
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	share := <-got
	require.Len(t, share, 2)
	for _, it := range share {
		assert.Positive(t, it.Token, it.Name)
	}

	admin := session(t)
	nodes, _, err := admin.Conn().Children(path + "/party")
	require.NoError(t, err)
	for _, n := range nodes {
		require.NoError(t, admin.Conn().Delete(path+"/party/"+n, -1))
	}
	select {
	case err := <-done:
		assert.ErrorIs(t, err, recipes.ErrNodeDeleted)
	case <-ctx.Done():
		t.Fatal("a member without its party node went on")
	}
	locks, _, err := admin.Conn().Children(path + "/locks/a")
	if !errors.Is(err, zk.ErrNoNode) { // or its container is reaped already
		require.NoError(t, err)
		assert.Empty(t, locks, "the share was not released")
	}
}

// TestAMemberWhoseWaitingLockNodeIsDeletedWaitsAgain: a member waits for
// an item's lock that a Kazoo process holds, and an operator deletes the
// member's waiting node. The round ends, as for a lost lock: the member
// settles, queues again, and works on the item once the Kazoo process
// lets go. Before, Run returned ErrNodeDeleted and left the party.
func TestAMemberWhoseWaitingLockNodeIsDeletedWaitsAgain(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	admin := session(t)
	require.NoError(t, core.Of(admin).CreateParents(ctx, path+"/locks/a"))
	kazoo, err := admin.Conn().Create(path+"/locks/a/"+strings.ReplaceAll(uuid.NewString(), "-", "")+"__lock__", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	p, err := partition.New(session(t), path, []string{"a"}, partition.WithIdentifier("one"), partition.WithStability(100*time.Millisecond))
	require.NoError(t, err)
	got := make(chan []partition.Item, 1)
	done := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	go func() {
		done <- p.Run(rctx, func(ctx context.Context, share []partition.Item) error {
			got <- share
			<-ctx.Done()
			return nil
		})
	}()
	waiting := func() string {
		for _, c := range testutil.Children(t, admin, path+"/locks/a") {
			if path+"/locks/a/"+c != kazoo {
				return c
			}
		}
		return ""
	}
	require.NoError(t, waitFor(ctx, func() bool { return waiting() != "" }))
	first := waiting()
	require.NoError(t, admin.Conn().Delete(path+"/locks/a/"+first, -1))
	require.NoError(t, waitFor(ctx, func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run ended when its waiting node was deleted: %v", err)
		default:
		}
		return waiting() != "" && waiting() != first
	}), "the member did not queue again")
	require.NoError(t, admin.Conn().Delete(kazoo, -1))
	select {
	case share := <-got:
		assert.Equal(t, "a", share[0].Name)
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	}
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// TestNewRefusesAnIdentifierNoNodeNameCarries: an identifier that cannot
// be part of a node's name (a control character) is refused by New,
// before any call to the server. Before, Run made the party's path and
// then failed with the server's error.
func TestNewRefusesAnIdentifierNoNodeNameCarries(t *testing.T) {
	_, err := partition.New(session(t), testPath(t), []string{"a"}, partition.WithIdentifier("one\x00two"))
	assert.ErrorContains(t, err, "identifier")
}

// TestRunWithNoWorkIsAnError: Run with nil work returns an error before
// it joins. Before, it joined, locked its share, and panicked.
func TestRunWithNoWorkIsAnError(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	s := session(t)
	p, err := partition.New(s, path, []string{"a"})
	require.NoError(t, err)
	assert.ErrorContains(t, p.Run(ctx, nil), "nil work")
	_, _, err = s.Conn().Children(path)
	assert.ErrorIs(t, err, zk.ErrNoNode, "it joined")
}

// TestARestartedMemberWaitsForItsPreviousRun: a member restarts under
// the same identifier (a pod's name) while its previous run's party node
// is still there (its session not expired yet). It waits for that node to
// go, then takes its share. Before, Run failed at once.
func TestARestartedMemberWaitsForItsPreviousRun(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	// The previous run's party node, its process gone, its session not
	// expired yet.
	previous := session(t)
	for _, p := range []string{"/test", path, path + "/party"} {
		_, err := previous.Conn().CreateContainer(p, nil, zk.FlagContainer, zk.WorldACL(zk.PermAll))
		if !errors.Is(err, zk.ErrNodeExists) {
			require.NoError(t, err)
		}
	}
	_, err := previous.Conn().Create(path+"/party/"+strings.ReplaceAll(uuid.NewString(), "-", "")+"-pod-0", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	restarted, err := partition.New(session(t), path, []string{"a"}, partition.WithIdentifier("pod-0"), partition.WithStability(100*time.Millisecond))
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan []partition.Item, 1)
	done := make(chan error, 1)
	go func() {
		done <- restarted.Run(rctx, func(ctx context.Context, items []partition.Item) error {
			got <- items
			<-ctx.Done()
			return nil
		})
	}()
	require.NoError(t, waitFor(ctx, func() bool { return len(testutil.Children(t, previous, path+"/party")) == 2 }))
	select {
	case err := <-done:
		t.Fatalf("the restarted member gave up while its previous run's node was there: %v", err)
	case <-got:
		t.Fatal("the restarted member worked while its previous run's node was there")
	case <-time.After(500 * time.Millisecond): // five stability windows
	}
	require.NoError(t, previous.Close()) // the previous run's session expires
	select {
	case items := <-got:
		assert.Equal(t, "a", items[0].Name)
	case err := <-done:
		t.Fatalf("the restarted member gave up: %v", err)
	}
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// TestTwoMembersWithOneIdentifierAreRefused: both would take the same
// share, and the rest of the set nobody: a member that sees its identifier
// twice in the party, for longer than a session timeout of its own (its
// previous run's node would be gone by then), stops with an error that
// says so.
func TestTwoMembersWithOneIdentifierAreRefused(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		s := testutil.Session(t, cluster.Servers(), recipes.WithSessionTimeout(2*time.Second)) // how long a twin is waited for
		p, err := partition.New(s, path, []string{"a", "b"}, partition.WithIdentifier("same"), partition.WithStability(200*time.Millisecond))
		require.NoError(t, err)
		go func() { errs <- p.Run(rctx, func(context.Context, []partition.Item) error { return nil }) }()
	}
	assert.ErrorContains(t, <-errs, "another member has the identifier")
	cancel()
	// The other stopped too, or, its twin gone first, ran on until now.
	if err := <-errs; !errors.Is(err, context.Canceled) {
		assert.ErrorContains(t, err, "another member has the identifier")
	}
}
