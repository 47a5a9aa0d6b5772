// Package multilock takes several locks at once, all or nothing, under one
// ctx: mutexes, read or write holds of read-write locks, and semaphore
// leases ("move stock from warehouse A to B" needs A's and B's locks).
//
// Lock always takes its parts in the order of their paths, so two
// multi-locks over overlapping sets never wait for each other in a cycle,
// whatever order their callers list the parts in. (Curator's
// InterProcessMultiLock takes them in the caller's order.) If it cannot
// take them all, it gives back what it took and leaves no node. TryLock
// takes them all only if none is held against it, and waits for no holder.
//
// The [Hold] is trusted while every part is: its Done channel closes the
// moment one part is lost. Its Multi makes ZooKeeper writes conditional on
// every part still being held; each part's fencing token is in Holds.
package multilock
