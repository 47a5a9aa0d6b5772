// Package rwlock is a distributed read-write lock on ZooKeeper: many
// readers or one writer at a time across every process that uses the same
// path, whether it runs this package or Apache Curator's
// InterProcessReadWriteLock; Kazoo's ReadLock and WriteLock nodes queue in
// the same line.
//
// Fairness: contenders are served in the order they queued. A reader that
// queued behind a waiting writer waits for that writer, so a stream of
// readers cannot starve writers. Each waiter watches only the nearest node
// ahead that blocks it (a reader: the nearest writer; a writer: the node
// just ahead), so a release wakes only those it unblocks.
//
// A write hold can be downgraded to a read hold in place ([Hold.Downgrade]):
// its node stays where it is, so no writer queued behind can get in between.
// Upgrading is refused: a session that holds the read lock on a path gets
// [ErrUpgrade] from Lock instead of waiting for itself forever.
//
// Holds are lost, and carry fencing tokens, exactly as the mutex's do: see
// package lock and recipes.Hold.
package rwlock
