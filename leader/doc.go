// Package leader is leader election on ZooKeeper: one candidate among many
// leads; when it resigns, or its session dies, the next in line takes over.
// Go candidates and Apache Curator LeaderLatch candidates can share one
// election: nodes are named as LeaderLatch names them ("latch-").
//
// Candidates queue as ephemeral sequential nodes; the head leads, and every
// other candidate watches only the one just ahead of it. Before a candidate
// is told it leads, the core checks that the node belongs to its current
// session, so a node left by an expired session never makes a second
// leader.
//
// Leadership is a hold, like a held lock: trusted until [Leadership.Done]
// closes, which happens when the session is lost or closed, when the
// connection is suspended (by default; the server may expire the session
// before this client hears of it), or when the node is deleted. A paused
// process can still believe it leads after the server has moved on, so
// give [Leadership.Token] to whatever the leader writes, and have it refuse
// older tokens. [Election.Run] runs a function only while leading.
package leader
