package core

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allMarkers = []Marker{MutexMarker, KazooLockMarker, KazooReadMarker, WriteMarker, ReadMarker, LatchMarker}

func TestParseNode(t *testing.T) {
	const uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
	tests := []struct {
		name string
		ok   bool
		want Node
	}{
		{"_c_" + uuid + "-lock-0000000042", true, Node{Seq: 42, Role: Exclusive, Marker: "lock-", ID: uuid}},
		{"lock-0000000007", true, Node{Seq: 7, Role: Exclusive, Marker: "lock-"}},
		{"_c_0123456789abcdef0123456789abcdef-lock-0000000003", true, Node{Seq: 3, Role: Exclusive, Marker: "lock-", ID: "0123456789abcdef0123456789abcdef"}},    // go-zookeeper zk.Lock
		{"0123456789abcdef0123456789abcdef__lock__0000000011", true, Node{Seq: 11, Role: Exclusive, Marker: "__lock__", ID: "0123456789abcdef0123456789abcdef"}}, // Kazoo
		{"0123456789abcdef0123456789abcdef__rlock__0000000012", true, Node{Seq: 12, Role: Shared, Marker: "__rlock__", ID: "0123456789abcdef0123456789abcdef"}},
		{"_c_" + uuid + "-__READ__0000000001", true, Node{Seq: 1, Role: Shared, Marker: "__READ__", ID: uuid}},
		{"_c_" + uuid + "-__WRIT__0000000002", true, Node{Seq: 2, Role: Exclusive, Marker: "__WRIT__", ID: uuid}},
		{"_c_" + uuid + "-latch-0000000009", true, Node{Seq: 9, Role: Exclusive, Marker: "latch-", ID: uuid}},
		{"_c_" + uuid + "-lock-2147483647", true, Node{Seq: math.MaxInt32, Role: Exclusive, Marker: "lock-", ID: uuid}},
		{"_c_" + uuid + "-lock--000000005", true, Node{Seq: -5, Role: Exclusive, Marker: "lock-", ID: uuid}},
		{"_c_" + uuid + "-lock--2147483648", true, Node{Seq: math.MinInt32, Role: Exclusive, Marker: "lock-", ID: uuid}},
		{"lock-lock-0000000001", true, Node{Seq: 1, Role: Exclusive, Marker: "lock-", ID: "lock"}},
		// Not contenders: foreign names are skipped, never an error.
		{"leases", false, Node{}},
		{"lock-", false, Node{}},
		{"lock-123", false, Node{}},
		{"lock-00000000001x", false, Node{}},
		{"lock-+000000001", false, Node{}},
		{"lock-2147483648", false, Node{}},
		{"lock-00000000000001", false, Node{}},
		{"_c_" + uuid + "-lease-0000000001", false, Node{}},
		{"", false, Node{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseNode(tt.name, allMarkers)
			assert.Equal(t, tt.ok, ok)
			if tt.ok {
				tt.want.Name = tt.name
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestParseChildrenSortsBySequenceAcrossClientsAndWrap(t *testing.T) {
	children := []string{
		"_c_b-lock--2147483647", // issued after the wrap
		"0123__lock__2147483646",
		"config",
		"_c_a-lock-2147483647",
		"_c_c-lock--2147483648",
		"_c_d-lock-0000000001" + "x",
	}
	var names []string
	for _, n := range ParseChildren(children, allMarkers) {
		names = append(names, n.Name)
	}
	assert.Equal(t, []string{
		"0123__lock__2147483646",
		"_c_a-lock-2147483647",
		"_c_c-lock--2147483648",
		"_c_b-lock--2147483647",
	}, names)
}

func TestSeqBefore(t *testing.T) {
	tests := []struct {
		a, b int32
		want bool
	}{
		{1, 2, true},
		{2, 1, false},
		{5, 5, false},
		{math.MaxInt32, math.MinInt32, true},
		{math.MinInt32, math.MaxInt32, false},
		{math.MaxInt32 - 10, -2147483600, true},
		{-1, 0, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, SeqBefore(tt.a, tt.b), "SeqBefore(%d, %d)", tt.a, tt.b)
	}
}

func TestBlockersAndPredecessor(t *testing.T) {
	r := func(seq int32) Node { return Node{Name: "r", Seq: seq, Role: Shared} }
	w := func(seq int32) Node { return Node{Name: "w", Seq: seq, Role: Exclusive} }
	seqs := func(ns []Node) []int32 {
		var out []int32
		for _, n := range ns {
			out = append(out, n.Seq)
		}
		return out
	}
	tests := []struct {
		name  string
		nodes []Node
		me    int
		rule  BlockRule
		want  []int32 // blockers; the last is the one to watch
	}{
		{"mutex head holds", []Node{w(1), w(2)}, 0, AnyBlocks, nil},
		{"mutex second watches head", []Node{w(1), w(2)}, 1, AnyBlocks, []int32{1}},
		{"mutex waiter watches its predecessor only", []Node{w(1), w(2), w(3), w(4)}, 3, AnyBlocks, []int32{1, 2, 3}},
		{"readers hold together", []Node{r(1), r(2), r(3)}, 2, ReadWriteBlocks, nil},
		{"reader waits for the nearest writer ahead", []Node{w(1), r(2), w(3), r(4), r(5)}, 4, ReadWriteBlocks, []int32{1, 3}},
		{"reader behind a waiting writer waits (no writer starvation)", []Node{r(1), w(2), r(3)}, 2, ReadWriteBlocks, []int32{2}},
		{"writer waits for the reader just ahead", []Node{r(1), r(2), w(3)}, 2, ReadWriteBlocks, []int32{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, seqs(Blockers(tt.nodes, tt.me, tt.rule)))
			// A waiter walks them from the nearest back, one at a time.
			var walked []int32
			for i := blockerBefore(tt.nodes, tt.me, tt.me, tt.rule); i >= 0; i = blockerBefore(tt.nodes, tt.me, i, tt.rule) {
				walked = append([]int32{tt.nodes[i].Seq}, walked...)
			}
			assert.Equal(t, tt.want, walked)
		})
	}
}

// TestFindOurNode: a waiter finds its node in a listing by queue order,
// and still finds it where names someone chose spread the sequence
// numbers too far apart for any order.
func TestFindOurNode(t *testing.T) {
	name := func(id string, seq int32) string { return fmt.Sprintf("_c_%s-lock-%010d", id, seq) }
	markers := KnownMarkers()
	queue := func(names ...string) []Node { return ParseChildren(names, markers) }
	long := make([]string, 1000)
	for i := range long {
		long[i] = name(fmt.Sprintf("%032x", i), int32(i*7))
	}
	tests := []struct {
		name  string
		nodes []Node
		find  string
		found bool
	}{
		{"in a long queue", queue(long...), long[613], true},
		{"first", queue(long...), long[0], true},
		{"last", queue(long...), long[999], true},
		{"gone", queue(long[:500]...), long[613], false},
		{"the same number twice", queue(name("a", 5), name("b", 5), name("c", 5)), name("b", 5), true},
		{"across the counter's wrap", queue(name("a", 2147483600), name("b", -2147483600), name("c", -2147483590)), name("b", -2147483600), true},
		{"numbers spread over the whole range", queue(name("a", -253411721), name("b", 521617046), name("c", 1702253018), name("d", -929533066), name("e", -1156120433), name("f", -2110603932)), name("a", -253411721), true},
		{"not a name we parse", queue(long...), "foreign", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := find(tt.nodes, tt.find, markers)
			if !tt.found {
				assert.Equal(t, -1, i)
				return
			}
			require.GreaterOrEqual(t, i, 0, "not found")
			assert.Equal(t, tt.find, tt.nodes[i].Name)
		})
	}
}

func FuzzParseNode(f *testing.F) {
	f.Add("_c_0f8fad5b-d9cb-469f-a165-70867728950e-lock-0000000042")
	f.Add("abc__rlock__-000000001")
	f.Add("lock-lock-lock-")
	f.Fuzz(func(t *testing.T, name string) {
		n, ok := ParseNode(name, allMarkers)
		if !ok {
			return
		}
		if n.Name != name || n.Role == 0 {
			t.Fatalf("ParseNode(%q) = %+v", name, n)
		}
		// The same id, marker and sequence name the same node.
		again, ok := ParseNode(name, allMarkers)
		if !ok || again != n {
			t.Fatalf("not stable: %+v then %+v", n, again)
		}
	})
}

func FuzzProtectedNameRoundTrip(f *testing.F) {
	f.Add("0f8fad5b-d9cb-469f-a165-70867728950e", int32(42), 0)
	f.Fuzz(func(t *testing.T, id string, seq int32, m int) {
		if len(id) > 64 {
			return
		}
		marker := allMarkers[uint(m)%uint(len(allMarkers))]
		for _, o := range allMarkers {
			if strings.Contains(id, o.Name) {
				return // an id that contains a lock name is not one we make
			}
		}
		name := ProtectedName(id, marker) + fmt.Sprintf("%010d", seq)
		n, ok := ParseNode(name, []Marker{marker})
		if !ok || n.Seq != seq || n.Marker != marker.Name {
			t.Fatalf("ParseNode(%q) = %+v, %v", name, n, ok)
		}
	})
}
