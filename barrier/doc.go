// Package barrier coordinates phases across processes on ZooKeeper.
//
// A [Barrier] holds everyone who waits on it until it is removed: set it,
// let workers Wait, remove it to release them all at once. Every waiter
// watches the one barrier node, so a removal wakes each waiter once.
//
// A [DoubleBarrier] starts and finishes a computation together: Enter
// blocks until N members have entered, Leave blocks until every member has
// left. A member whose session dies is gone from the count. The layout is
// Apache Curator's DistributedDoubleBarrier (a member node named by a UUID,
// and a "ready" node), so Java and Go members can share a barrier.
//
// Herd behaviour: while members enter, every waiting member is woken by
// each arrival (it must count them), so entering costs O(N) wake-ups per
// arrival. Leaving does not: the lowest member watches the highest, every
// other member deletes its node and watches the lowest, so only the lowest
// is woken by each departure and the others once, at the end.
package barrier
