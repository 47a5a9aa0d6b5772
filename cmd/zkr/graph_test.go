package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// queue is a recipe path whose contenders are sessions, in queue order; a
// negative session is a shared contender (a reader), and the first held
// ones are marked Held as the shared rule grants them.
func queue(path string, sessions ...int64) recipePath {
	rp := recipePath{path: path}
	granted := true
	for i, s := range sessions {
		shared := s < 0
		if s < 0 {
			s = -s
		}
		if i > 0 && (!shared || !rp.nodes[i-1].Shared) {
			granted = false
		}
		rp.nodes = append(rp.nodes, recipes.Contender{Name: path + "-" + string(rune('a'+i)), Session: s, Shared: shared, Held: granted})
	}
	return rp
}

func TestWaitForGraphFindsCyclesAndOnlyThem(t *testing.T) {
	tests := []struct {
		name  string
		paths []recipePath
		want  [][]int64
	}{
		{"two sessions, two locks", []recipePath{queue("/x", 1, 2), queue("/y", 2, 1)}, [][]int64{{1, 2}}},
		{"three sessions", []recipePath{queue("/x", 1, 3), queue("/y", 2, 1), queue("/z", 3, 2)}, [][]int64{{1, 2, 3}}},
		{"two cycles", []recipePath{queue("/a", 1, 2), queue("/b", 2, 1), queue("/c", 5, 6), queue("/d", 6, 5)}, [][]int64{{1, 2}, {5, 6}}},
		{"a plain queue", []recipePath{queue("/x", 1, 2, 3, 4)}, nil},
		{"shared readers, a writer waiting", []recipePath{queue("/x", -1, -2, -3, 4)}, nil},
		{"one session's goroutines on one lock", []recipePath{queue("/x", 1, 1, 2)}, nil},
		{"a reader waits behind a waiting writer held up by a reader the first waits on", []recipePath{
			queue("/rw", -1, 2, -3), queue("/m", 3, 1)}, [][]int64{{1, 3, 2}}},
		{"readers pass a downgraded writer: no wait", []recipePath{
			{path: "/rw", nodes: []recipes.Contender{{Name: "w", Session: 1, Shared: true, Held: true}, {Name: "r", Session: 2, Shared: true, Held: true}}},
			queue("/m", 2, 1)}, nil},
		{"a semaphore: its mutex holder waits for every lease", []recipePath{
			{path: "/s", semaphore: true, nodes: []recipes.Contender{{Session: 1, Held: true}, {Session: 2, Held: true}},
				acquirers: []recipes.Contender{{Session: 3}, {Session: 4}}},
			queue("/m", 3, 2)}, [][]int64{{2, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, graph(tt.paths).cycles())
		})
	}
}

func TestWaitForReportSaysWhoHoldsWhatAndOldHolds(t *testing.T) {
	now := time.Unix(10_000, 0)
	x, y := queue("/x", 1, 2), queue("/y", 2, 1)
	x.nodes[0].Created = now.Add(-2 * time.Hour)
	y.nodes[0].Created = now.Add(-time.Minute)
	r := findDeadlocks("/", []recipePath{x, y}, time.Hour, now)
	assert.Equal(t, [][]cycleStep{{
		{Session: "0x1", Holds: []string{"/x"}, WaitsFor: []string{"/y"}, Next: "0x2"},
		{Session: "0x2", Holds: []string{"/y"}, WaitsFor: []string{"/x"}, Next: "0x1"},
	}}, r.Cycles)
	if assert.Len(t, r.Old, 1) {
		assert.Equal(t, "/x", r.Old[0].Path)
		assert.Equal(t, 2*time.Hour, r.Old[0].Age)
	}
	assert.Empty(t, findDeadlocks("/", []recipePath{queue("/x", 1, 2)}, 0, now).Cycles)
}

func TestTopFiguresPerPath(t *testing.T) {
	now := time.Unix(10_000, 0)
	q := queue("/x", 1, 2, 3)
	q.nodes[0].Created, q.nodes[1].Created, q.nodes[2].Created = now.Add(-time.Minute), now.Add(-30*time.Second), now.Add(-time.Second)
	q.nodes[0].Data = []byte("zkrecipes host=h pid=1")
	sem := recipePath{path: "/s", semaphore: true, nodes: []recipes.Contender{{Held: true, Created: now.Add(-time.Hour)}},
		acquirers: []recipes.Contender{{Created: now.Add(-2 * time.Second)}}}
	rw := recipePath{path: `/a"b`, nodes: []recipes.Contender{{Name: "_c_x-__READ__0000000001", Shared: true, Held: true, Created: now}}}
	rs := rows([]recipePath{q, sem, rw}, now)
	assert.Equal(t, []topRow{
		{Path: "/x", Kind: "lock", Holders: 1, HeldFor: 60, Waiters: 2, LongestWait: 30, Clients: []string{"unknown", "zkrecipes"}},
		{Path: "/s", Kind: "semaphore", Holders: 1, HeldFor: 3600, Waiters: 1, LongestWait: 2, Clients: []string{"unknown"}},
		{Path: `/a"b`, Kind: "rwlock", Holders: 1, Clients: []string{"unknown"}},
	}, rs)
	var b strings.Builder
	writeMetrics(&b, rs)
	assert.Contains(t, b.String(), "# TYPE zkr_holders gauge\n")
	assert.Contains(t, b.String(), `zkr_waiters{path="/x",kind="lock"} 2`+"\n")
	assert.Contains(t, b.String(), `zkr_oldest_hold_seconds{path="/s",kind="semaphore"} 3600`+"\n")
	assert.Contains(t, b.String(), `zkr_holders{path="/a\"b",kind="rwlock"} 1`+"\n")
}
