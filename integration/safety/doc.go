// Package safety records what lock holders did under faults and checks the
// record: that no two trusted holders overlapped, that fencing tokens grew
// in grant order, that a fenced store never accepted a stale token (checked
// for linearizability with porcupine), and that a guarded ZooKeeper
// register counted exactly the guarded writes that were acknowledged.
package safety
