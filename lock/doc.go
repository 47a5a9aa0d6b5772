// Package lock is a distributed mutex on ZooKeeper: at most one trusted
// holder at a time across every process that uses the same path, whether
// it runs this package, Apache Curator's InterProcessMutex, Kazoo's Lock or
// go-zookeeper's zk.Lock. (Kazoo's Lock counts our nodes only when given
// extra_lock_patterns=["-lock-"]; we count its nodes, and Curator's and
// go-zookeeper's, by ourselves.)
//
// Each contender creates an ephemeral sequential node under the lock's
// path. A waiter watches the node just ahead of it, the one before that
// (so that it usually knows it is next before its turn comes) and its own,
// so a release wakes at most two waiters, never a herd, and grants follow
// queue order (first come, first served). A
// holder that crashes or is cut off long enough loses its session, and the
// server deletes its node: the lock releases itself.
//
// What "held" means: a [Hold] is trusted from the moment Lock returns until
// its Done channel closes. The channel closes when the session is lost or
// closed, when the connection to ZooKeeper is suspended (the server may
// expire the session before this client hears of it; see
// recipes.WithTolerateSuspension), or when the node is deleted. A process
// that is paused (GC, SIGSTOP, a VM migration) can still believe it holds
// after the server has moved on: no client-side check closes that window.
// So pass [recipes.Holding.Token], the fencing token, to whatever the lock protects
// and have it refuse older tokens, or make ZooKeeper writes conditional on
// the hold with [recipes.Holding.Multi].
package lock
