package main

import "strconv"

// serverCounts is what a server (or the sum over an ensemble's members)
// has counted since it started: the requests its clients sent and the
// watch events it sent them.
type serverCounts struct {
	requests, events int
}

// watchEventStats are the mntr summaries of how many watches each change
// to the tree fired, one per kind of change; their sums count the watch
// events a server sent its clients (ZooKeeper 3.6 and later).
var watchEventStats = []string{
	"zk_sum_node_created_watch_count",
	"zk_sum_node_deleted_watch_count",
	"zk_sum_node_changed_watch_count",
	"zk_sum_node_children_watch_count",
}

// countsOf reads a server's counts from its mntr answer. A statistic the
// server does not report counts as 0.
func countsOf(stats map[string]string) serverCounts {
	n := func(name string) int {
		v, err := strconv.Atoi(stats[name])
		if err != nil || v < 0 {
			return 0
		}
		return v
	}
	c := serverCounts{requests: n("zk_packets_received")}
	for _, name := range watchEventStats {
		c.events += n(name)
	}
	return c
}

func (c serverCounts) plus(d serverCounts) serverCounts {
	return serverCounts{c.requests + d.requests, c.events + d.events}
}

func (c serverCounts) minus(d serverCounts) serverCounts {
	return serverCounts{c.requests - d.requests, c.events - d.events}
}

// per divides the counts among n acquisitions (n < 1 counts as 1).
func (c serverCounts) per(n int) (requests, events float64) {
	n = max(n, 1)
	return float64(c.requests) / float64(n), float64(c.events) / float64(n)
}
