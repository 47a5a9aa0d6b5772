package core

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// Role is what a contender in a queue asks for.
type Role int

const (
	// Exclusive contenders hold alone: mutex holders, writers, leaders.
	Exclusive Role = iota + 1
	// Shared contenders hold together with other shared ones: readers.
	Shared
)

func (r Role) String() string {
	switch r {
	case Exclusive:
		return "exclusive"
	case Shared:
		return "shared"
	}
	return "unknown"
}

// Marker is the lock name inside a child's name that identifies a kind of
// contender: ZooKeeper appends the sequence number right after it.
type Marker struct {
	Name string // for example "lock-", "__READ__", "__rlock__"
	Role Role
}

// Markers used by the recipes, so that Go, Curator, Kazoo and go-zookeeper
// contenders on one path queue in one line.
var (
	MutexMarker     = Marker{"lock-", Exclusive}    // Curator InterProcessMutex, zk.Lock, ours
	KazooLockMarker = Marker{"__lock__", Exclusive} // Kazoo Lock and WriteLock
	KazooReadMarker = Marker{"__rlock__", Shared}   // Kazoo ReadLock
	WriteMarker     = Marker{"__WRIT__", Exclusive} // Curator InterProcessReadWriteLock writer, ours
	ReadMarker      = Marker{"__READ__", Shared}    // Curator InterProcessReadWriteLock reader, ours
	LatchMarker     = Marker{"latch-", Exclusive}   // Curator LeaderLatch, ours
)

// KnownMarkers returns the markers of every recipe and client we know.
// Every queue recognises all of them, whatever recipe it runs, so that no
// node a known recipe or client made is ever overlooked: a mutex and a
// read-write lock's writer on one path exclude each other (a writer's or a
// lock's node blocks everyone behind it; a reader's blocks exclusive
// contenders).
func KnownMarkers() []Marker {
	return []Marker{MutexMarker, KazooLockMarker, KazooReadMarker, WriteMarker, ReadMarker, LatchMarker}
}

// protectedPrefix starts a protected name, as in Curator.
const protectedPrefix = "_c_"

// Node is a parsed child of a recipe path.
type Node struct {
	Name   string // the child's name
	Seq    int32  // the sequence number ZooKeeper appended
	Role   Role
	Marker string // the lock name found in Name
	ID     string // the protected id (a UUID for ours and Curator's), or ""
}

// ProtectedName returns the name to create (ZooKeeper appends the sequence)
// for a contender with the given id, as Curator names protected nodes.
func ProtectedName(id string, m Marker) string {
	return protectedPrefix + id + "-" + m.Name
}

// ParseNode parses a child name made by any client that uses one of
// markers, and reports false for a name it does not understand. It never
// fails on a foreign name.
func ParseNode(name string, markers []Marker) (Node, bool) {
	for _, m := range markers {
		i := strings.LastIndex(name, m.Name)
		if i < 0 || m.Name == "" {
			continue
		}
		seq, ok := parseSequence(name[i+len(m.Name):])
		if !ok {
			continue
		}
		id := strings.TrimSuffix(strings.TrimPrefix(name[:i], protectedPrefix), "-")
		return Node{Name: name, Seq: seq, Role: m.Role, Marker: m.Name, ID: id}, true
	}
	return Node{}, false
}

// parseSequence parses the suffix ZooKeeper appends: a signed 32-bit
// counter printed with %010d, so negative after it wraps.
func parseSequence(s string) (int32, bool) {
	if len(s) < 10 || len(s) > 11 {
		return 0, false
	}
	digits := strings.TrimPrefix(s, "-")
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// SeqBefore reports whether sequence a was issued before b. The counter is
// a signed 32-bit integer that wraps, so the comparison is modular: it is
// right whenever the live sequence numbers span less than 2^31, which a
// queue of live contenders always does.
func SeqBefore(a, b int32) bool { return int32(uint32(a)-uint32(b)) < 0 }

// ParseChildren parses and sorts children into queue order, dropping the
// names it does not understand.
func ParseChildren(children []string, markers []Marker) []Node {
	nodes := make([]Node, 0, len(children))
	for _, c := range children {
		if n, ok := ParseNode(c, markers); ok {
			nodes = append(nodes, n)
		}
	}
	slices.SortFunc(nodes, queueOrder)
	return nodes
}

// queueOrder orders nodes by sequence number (see SeqBefore), then name.
func queueOrder(a, b Node) int {
	switch {
	case a.Seq == b.Seq:
		return strings.Compare(a.Name, b.Name)
	case SeqBefore(a.Seq, b.Seq):
		return -1
	}
	return 1
}

// find returns the index of the node called name in nodes, which
// ParseChildren made with markers, or -1 if it is not there. It searches
// by queue order, and then, if that misses, from the start: sequence
// numbers spread over more than half the counter's range (a name someone
// chose) leave no consistent order to search by.
func find(nodes []Node, name string, markers []Marker) int {
	n, ok := ParseNode(name, markers)
	if !ok {
		return -1 // ParseChildren dropped it
	}
	if i, found := slices.BinarySearchFunc(nodes, n, queueOrder); found {
		return i
	}
	return slices.IndexFunc(nodes, func(x Node) bool { return x.Name == name })
}

// BlockRule reports whether other, queued ahead of me, keeps me from
// holding.
type BlockRule func(me, other Node) bool

// AnyBlocks is the mutex rule: every contender ahead blocks.
func AnyBlocks(me, other Node) bool { return true }

// ReadWriteBlocks is the read-write rule: a shared contender is blocked
// only by exclusive ones ahead, an exclusive one by anyone ahead.
func ReadWriteBlocks(me, other Node) bool { return me.Role == Exclusive || other.Role == Exclusive }

// DowngradeMarker is what a read-write lock's write hold writes into its
// node to downgrade to read (followed by its max hold declaration, if it
// has one).
var DowngradeMarker = []byte("downgraded to read")

// Downgraded reports whether n, holding data, is a read-write lock's write
// hold downgraded to read: a writer's node (__WRIT__) that holds the
// downgrade marker. Readers go by the data, not by a mere change of it: a
// write by anyone else (Curator's revocation request, an operator) leaves
// the writer a writer. A mutex's, a leader's or Kazoo's node blocks
// readers whatever its data.
func Downgraded(n Node, data []byte) bool {
	return n.Marker == WriteMarker.Name && bytes.Equal(withoutMaxHold(data), DowngradeMarker)
}

// DowngradeYields is the read-write lock's [YieldRule]: a write hold
// downgraded to read (see [Downgraded]) blocks our readers (__READ__) no
// more; Kazoo's readers know nothing of downgrades. Asked without a read,
// it says whether other could have downgraded at all: only a writer's node
// (__WRIT__) can.
func DowngradeYields(me, other Node, r *Read) bool {
	if me.Marker != ReadMarker.Name {
		return false
	}
	if r == nil {
		return other.Marker == WriteMarker.Name
	}
	return Downgraded(other, r.Data)
}

// Blockers returns the nodes ahead of nodes[me] that block it under rule,
// in queue order. The last one is the node to watch: when it goes and
// was the only one, the waiter holds.
func Blockers(nodes []Node, me int, rule BlockRule) []Node {
	var out []Node
	for _, n := range nodes[:me] {
		if rule(nodes[me], n) {
			out = append(out, n)
		}
	}
	return out
}
