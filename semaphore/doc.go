// Package semaphore is a counting semaphore on ZooKeeper: at most max
// leases at a time across every process that uses the same path, whether
// it runs this package or Apache Curator's InterProcessSemaphoreV2 ("at
// most 5 exporters at once", "3 connections to the legacy database").
//
// The layout is Curator's: acquirers take turns on a mutex at PATH/locks
// (nodes _c_<uuid>-lock-<seq>); the one holding it makes its lease node
// at PATH/leases (_c_<uuid>-lease-<seq>), lists the leases with a watch,
// and is granted once there are at most max, counting its own; then it
// gives the mutex back. Every listing is taken after the lister's nodes
// were made, so of any max+1 leases the newest would have counted them
// all: more than max are never granted, whatever happens to the mutex.
// The mutex keeps acquirers from waiting on each other's pending nodes,
// and has only one acquirer at a time watch the leases: a returned lease
// wakes one waiter. Every child of PATH/leases counts as a lease, as with
// Curator, so a node nobody returns takes a place until its session ends.
//
// The maximum is fixed ([New]: every client of the path must use the same
// one, as with Curator) or read from a count node in the format of
// Curator's SharedCount ([NewCounted]), which operators may change live.
//
// A [Lease] is a hold like a held lock: trusted until its Done channel
// closes (its session is lost or closed, its connection is suspended, or
// its node is deleted), with a token and a guard; Unlock returns it.
// Leases are not exclusive, so its token orders grants but fences nothing
// on its own. [WithMaxHold] limits a lease as lock.WithMaxHold limits a
// hold: the acquirer waiting for a lease evicts one held past its limit.
package semaphore
