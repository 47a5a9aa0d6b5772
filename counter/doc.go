// Package counter is an optimistic counter on one ZooKeeper node:
// compare-and-set on the node's version, no lock. It reads and writes the
// formats of Apache Curator's DistributedAtomicLong (8-byte big-endian,
// the default) and SharedCount (4-byte big-endian, [WithSharedCountFormat]),
// so Java services using those recipes share the counter with Go ones.
//
// Every write is checked against the version it read: Add reads, adds and
// writes, and reads again if another writer came first, so no update is
// lost however many sessions add at once. Watch delivers the value after
// each change, in order (changes that come close together may be sent as
// the last of them).
package counter
