// Package recipes holds what every zkrecipes recipe shares and a user
// types: the [Session] that recipes run on, the [Holding] surface of every
// hold, the sentinel errors, and [Contenders], a view of who holds and
// who waits at a recipe path. The recipes themselves are in packages
// lock, rwlock, semaphore, multilock, leader and barrier; the machinery
// they share (the queue of sequential nodes, node naming, the wire tap) is
// internal.
//
// Make one Session per process with [Connect] (or, around a *zk.Conn the
// application already has, [NewSession]) and share it among every
// goroutine and recipe. A Session follows exactly one ZooKeeper session.
// When that session expires, the Session is lost for good, and so is
// every hold made through it; make a new Session to go on. By default a
// suspended connection ends holds too (see [WithTolerateSuspension]).
//
// Every recipe's hold embeds [Holding]: Done and Context tell the moment
// the hold can no longer be trusted, Err says why, Token is its fencing
// token, and Guard and Multi make ZooKeeper writes conditional on still
// holding. Each recipe adds its own verbs, one vocabulary for all: Unlock
// gives up a lock or a lease (lock.Hold, rwlock.Hold, semaphore.Lease),
// Resign gives up leadership (leader.Leadership).
//
// Every error of loss matches [ErrLost] with errors.Is; its cause matches
// one of [ErrSessionLost], [ErrSessionClosed], [ErrSuspended],
// [ErrNodeDeleted], [ErrNodeMismatch] and [ErrMaxHoldExceeded].
package recipes
