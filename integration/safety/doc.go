// Package safety records what holders did under faults and checks the
// record, per recipe's rule: that no exclusive hold (mutex holder, writer,
// leader) overlapped another trusted hold on its resource while shared
// holds (readers) overlapped only each other, that fencing tokens grew in
// grant order, that a fenced store never accepted a stale token (checked
// for linearizability with porcupine) nor refused a write made while its
// exclusive hold was trusted, and that no stale guarded write was applied
// to a ZooKeeper register.
//
// The store lives in the test process and is served to worker processes
// over a loopback socket (StoreServer, DialStore), so that its history is
// recorded on one clock.
package safety
