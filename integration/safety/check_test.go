package safety

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// hold is a trusted hold on res from ms a to ms b.
func hold(res string, client int, shared bool, token int64, a, b int) Event {
	return Event{Client: client, Resource: res, Kind: Hold, Shared: shared, Token: token, From: at(a), To: at(b)}
}

func TestCheckHoldRules(t *testing.T) {
	for _, tc := range []struct {
		name               string
		events             []Event
		overlaps, disorder int
	}{
		{"mutex holds one after another", []Event{
			hold("mutex", 1, false, 10, 0, 10), hold("mutex", 2, false, 20, 10, 20), hold("mutex", 1, false, 30, 25, 30),
		}, 0, 0},
		{"two mutex holders overlap", []Event{
			hold("mutex", 1, false, 10, 0, 10), hold("mutex", 2, false, 20, 9, 20),
		}, 1, 0},
		{"holds on different resources never conflict", []Event{
			hold("mutex", 1, false, 10, 0, 10), hold("election", 2, false, 5, 0, 10), hold("rwlock", 3, false, 7, 0, 10),
		}, 0, 0},
		{"readers overlap readers", []Event{
			hold("rwlock", 1, true, 10, 0, 10), hold("rwlock", 2, true, 11, 5, 15), hold("rwlock", 3, true, 12, 6, 7),
		}, 0, 0},
		{"a writer overlapping a reader", []Event{
			hold("rwlock", 1, true, 10, 0, 10), hold("rwlock", 2, false, 20, 5, 15),
		}, 1, 0},
		{"a reader overlapping a writer", []Event{
			hold("rwlock", 1, false, 10, 0, 10), hold("rwlock", 2, true, 20, 5, 15),
		}, 1, 0},
		{"a writer overlapping two readers", []Event{
			hold("rwlock", 1, true, 10, 0, 10), hold("rwlock", 3, true, 11, 1, 10), hold("rwlock", 2, false, 20, 5, 15),
		}, 2, 0},
		{"two writers overlap", []Event{
			hold("rwlock", 1, false, 10, 0, 10), hold("rwlock", 2, false, 20, 5, 15),
		}, 1, 0},
		{"a downgraded writer's read stretch admits readers", []Event{
			hold("rwlock", 1, false, 10, 0, 10), hold("rwlock", 1, true, 10, 10, 30),
			hold("rwlock", 2, true, 20, 12, 25), hold("rwlock", 3, false, 30, 30, 40),
		}, 0, 0},
		{"a writer still trusted after its downgrade reached the server", []Event{
			hold("rwlock", 1, false, 10, 0, 10), hold("rwlock", 1, false, 10, 12, 30),
			hold("rwlock", 2, true, 20, 11, 25),
		}, 1, 0},
		{"two leaders overlap", []Event{
			hold("election", 1, false, 10, 0, 10), hold("election", 2, false, 20, 3, 4),
		}, 1, 0},
		{"one node granted to two clients", []Event{
			hold("mutex", 1, false, 10, 0, 10), hold("mutex", 2, false, 10, 5, 15),
		}, 1, 0},
		{"holds that only touch do not overlap", []Event{
			hold("election", 1, false, 10, 0, 10), hold("election", 2, false, 20, 10, 20),
		}, 0, 0},
		{"a hold never trusted takes part in no check", []Event{
			hold("mutex", 1, false, 10, 0, 10), hold("mutex", 2, false, 5, 5, 5), hold("mutex", 2, false, 4, 20, 20),
		}, 0, 0},
		{"an exclusive hold granted after a later token ended", []Event{
			hold("mutex", 1, false, 20, 0, 10), hold("mutex", 2, false, 10, 11, 20),
		}, 0, 1},
		{"a leader granted after a later token ended", []Event{
			hold("election", 1, false, 20, 0, 10), hold("election", 2, false, 30, 12, 15), hold("election", 3, false, 25, 16, 20),
		}, 0, 1},
		{"a writer granted after a later reader ended", []Event{
			hold("rwlock", 1, true, 20, 0, 10), hold("rwlock", 2, false, 10, 11, 20),
		}, 0, 1},
		{"a reader granted after a later writer ended", []Event{
			hold("rwlock", 1, false, 20, 0, 10), hold("rwlock", 2, true, 10, 11, 20),
		}, 0, 1},
		{"readers may be granted in either order", []Event{
			hold("rwlock", 1, true, 20, 0, 10), hold("rwlock", 2, true, 10, 11, 20),
		}, 0, 0},
		{"tokens of different resources are not compared", []Event{
			hold("mutex", 1, false, 20, 0, 10), hold("election", 2, false, 10, 11, 20),
		}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.events)
			assert.Len(t, r.Overlaps, tc.overlaps, "overlaps: %v", r.Overlaps)
			assert.Len(t, r.TokenOrder, tc.disorder, "token order: %v", r.TokenOrder)
			assert.Equal(t, tc.overlaps+tc.disorder, r.Violations())
		})
	}
}

// lease is a trusted lease of a semaphore with limit leases.
func lease(client int, token int64, a, b, limit int) Event {
	e := hold("semaphore", client, true, token, a, b)
	e.Limit = limit
	return e
}

func TestCheckSemaphoreLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []Event
		crowds int
		most   int
	}{
		{"up to the limit at once", []Event{
			lease(1, 10, 0, 10, 2), lease(2, 11, 5, 15, 2), lease(3, 12, 10, 20, 2), lease(4, 13, 15, 25, 2),
		}, 0, 2},
		{"one over the limit", []Event{
			lease(1, 10, 0, 10, 2), lease(2, 11, 5, 15, 2), lease(3, 12, 9, 20, 2),
		}, 1, 3},
		{"a lease that ends as another begins leaves room", []Event{
			lease(1, 10, 0, 10, 1), lease(2, 11, 10, 20, 1),
		}, 0, 1},
		{"granted in any token order", []Event{
			lease(1, 20, 0, 10, 1), lease(2, 10, 11, 20, 1),
		}, 0, 1},
		{"a lease never trusted takes no place", []Event{
			lease(1, 10, 0, 10, 1), lease(2, 11, 5, 5, 1),
		}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.events)
			assert.Len(t, r.Crowds, tc.crowds, "crowds: %v", r.Crowds)
			assert.Equal(t, tc.most, r.MostAtOnce["semaphore"])
			assert.Empty(t, r.Overlaps)
			assert.Empty(t, r.TokenOrder)
			assert.Equal(t, tc.crowds, r.Violations())
		})
	}
}

func write(res string, client int, token int64, a, b int, ok, stale bool) Event {
	return Event{Client: client, Resource: res, Kind: StoreWrite, Token: token, From: at(a), To: at(b), OK: ok, Stale: stale}
}

func TestCheckStore(t *testing.T) {
	fenced := []Event{
		write("mutex", 1, 10, 0, 1, true, false), write("mutex", 2, 20, 2, 3, true, false),
		write("mutex", 1, 10, 4, 5, false, true),
		write("election", 3, 5, 4, 5, true, false), // another resource's store
	}
	r := Check(fenced)
	assert.True(t, r.StoreLinearizable)
	assert.Equal(t, 1, r.StaleRefused)
	assert.Zero(t, r.Violations())

	unfenced := append(fenced[:2:2], write("mutex", 1, 10, 4, 5, true, true))
	r = Check(unfenced)
	assert.False(t, r.StoreLinearizable, "a stale write accepted after a newer one")
	assert.Equal(t, 1, r.StaleAccepted)
	assert.Equal(t, 1, r.Violations())
	require.NoError(t, r.VisualizeStore(t.TempDir()+"/store.html"))

	// A refusal no newer write explains is a violation too.
	r = Check([]Event{write("mutex", 1, 10, 0, 1, false, false)})
	assert.False(t, r.StoreLinearizable)
}

// TestCheckRefusedWhileHeld: the store refused a write its writer made
// while its exclusive hold was trusted, because another holder, whose own
// hold was never trusted (and so overlaps nothing), had written a newer
// token: a violation no other rule sees, the store's history being a
// fenced register all the same. A refusal after the hold ended, or of a
// write made stale on purpose, or among a semaphore's leases, is not.
func TestCheckRefusedWhileHeld(t *testing.T) {
	sneak := []Event{
		hold("mutex", 1, false, 10, 0, 100),
		{Client: 2, Resource: "mutex", Kind: Hold, Token: 20, From: at(50), To: at(50)}, // never trusted
		write("mutex", 2, 20, 60, 61, true, false),
		write("mutex", 1, 10, 70, 71, false, false),
	}
	r := Check(sneak)
	assert.True(t, r.StoreLinearizable)
	assert.Empty(t, r.Overlaps)
	assert.Len(t, r.RefusedWhileHeld, 1)
	assert.Equal(t, 1, r.Violations())

	late := slices.Clone(sneak)
	late[3] = write("mutex", 1, 10, 100, 101, false, false) // as its trust ended
	assert.Zero(t, Check(late).Violations())
	stale := slices.Clone(sneak)
	stale[3] = write("mutex", 1, 10, 70, 71, false, true)
	assert.Zero(t, Check(stale).Violations())
	leases := slices.Clone(sneak)
	leases[0].Limit, leases[1].Limit = 2, 2
	assert.Zero(t, Check(leases).Violations())
}

func TestCheckGuardedWrites(t *testing.T) {
	g := func(res string, ok, unknown, stale bool) Event {
		return Event{Resource: res, Kind: GuardedWrite, Token: 1, From: at(0), To: at(1), OK: ok, Unknown: unknown, Stale: stale}
	}
	r := Check([]Event{g("mutex", true, false, false), g("mutex", false, true, false), g("rwlock", true, false, false),
		g("rwlock", false, false, true)})
	assert.Zero(t, r.Violations())
	assert.Equal(t, Guarded{Acks: 1, Unknown: 1}, r.Guarded["mutex"])
	assert.Equal(t, Guarded{Acks: 1}, r.Guarded["rwlock"])
	assert.Equal(t, 2, r.GuardedAcks)

	r = Check([]Event{g("election", true, false, true)})
	assert.Equal(t, 1, r.StaleGuardedAcked, "a stale guarded write applied")
	assert.Equal(t, 1, r.Violations())
}

func TestStoreServer(t *testing.T) {
	s, err := NewStoreServer(true)
	require.NoError(t, err)
	defer s.Close()
	c, err := DialStore(s.Addr())
	require.NoError(t, err)
	defer c.Close()
	for _, w := range []struct {
		res   string
		token int64
		ok    bool
	}{{"mutex", 10, true}, {"mutex", 20, true}, {"mutex", 10, false}, {"election", 5, true}, {"mutex", 20, true}} {
		ok, err := c.Write(w.res, 7, w.token, false)
		require.NoError(t, err)
		assert.Equal(t, w.ok, ok, "write %d to %s", w.token, w.res)
	}
	_, err = c.Write("bad name", 7, 1, false)
	assert.Error(t, err)
	r := Check(s.Events())
	assert.Equal(t, 5, r.StoreWrites)
	assert.True(t, r.StoreLinearizable)
}
