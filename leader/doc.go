// Package leader is leader election on ZooKeeper: one candidate among many
// leads; when it resigns, or its session dies, the next in line takes over.
// Go candidates and Apache Curator LeaderLatch candidates can share one
// election: nodes are named as LeaderLatch names them ("latch-"). With
// [WithLayout], they are named as Curator's LeaderSelector or Kazoo's
// Election name theirs, to share an election with those instead.
//
// Candidates queue as ephemeral sequential nodes; the head leads, and every
// other candidate watches the one just ahead of it, the one before that,
// and its own, so a resignation wakes at most two candidates. A candidate
// is told it leads only on a node of its own session: on a Session made by
// recipes.Connect, the create's reply came on a connection that serves that
// one session and no other; on one made by recipes.NewSession, the node's
// owner is read and checked first. Either way the node is read back once
// held, and a node whose creation zxid or owner does not match ends the
// leadership (recipes.ErrNodeMismatch). So a node left by an expired
// session never makes a second leader.
//
// Leadership is a hold, like a held lock: trusted until [recipes.Holding.Done]
// closes, which happens when the session is lost or closed, when the
// connection is suspended (by default; the server may expire the session
// before this client hears of it), or when the node is deleted. A paused
// process can still believe it leads after the server has moved on, so
// give [recipes.Holding.Token] to whatever the leader writes, and have it refuse
// older tokens. [Election.Run] runs a function only while leading.
package leader
