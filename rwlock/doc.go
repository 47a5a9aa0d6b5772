// Package rwlock is a distributed read-write lock on ZooKeeper: many
// readers or one writer at a time across every process that uses the same
// path, whether it runs this package or Apache Curator's
// InterProcessReadWriteLock; Kazoo's ReadLock and WriteLock nodes queue in
// the same line.
//
// Fairness: contenders are served in the order they queued. A reader that
// queued behind a waiting writer waits for that writer, so a stream of
// readers cannot starve writers. Each waiter watches its own node, the
// nearest node ahead that blocks it (a reader: the nearest writer; a
// writer: the node just ahead) and the blocker before that one. A release
// wakes the waiters it unblocks, and those for which it was the second
// nearest blocker, which list the queue again while their nearest blocker
// still holds, so that the hand-over itself needs no listing.
//
// Holds belong to lock calls, not to goroutines or sessions: goroutines
// that share a Session (or an RWMutex) exclude each other exactly as
// processes do. As with sync.RWMutex, there is no upgrade and no recursive
// read locking: a goroutine that holds the read lock and calls Lock waits
// for its own read hold until its ctx ends (and readers queued behind its
// writer wait with it), and a second RLock waits for any writer queued in
// between. Unlock the read hold first.
//
// A write hold can be downgraded to a read hold in place ([Hold.Downgrade]):
// its node stays where it is, so no writer queued behind can get in between.
// Our readers recognise the downgrade by the marker Downgrade writes into
// the writer's node ("downgraded to read"); any other write to it (a
// Curator revocation request, an operator's) admits no reader. Curator's
// readers do not know the marker, and wait for the downgraded hold to be
// released: safe, only less concurrent.
//
// Holds are lost, and carry fencing tokens, exactly as the mutex's do: see
// package lock and recipes.Holding.
package rwlock
