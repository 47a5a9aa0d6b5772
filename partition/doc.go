// Package partition divides a set of items among the live members of a
// party, each item held by at most one member at a time, in the layout and
// by the algorithm of Kazoo's SetPartitioner, so that Go and Python members
// split one set.
//
// Members join a party at PATH/party (Kazoo's ShallowParty: a node
// <uuid>-<identifier> per member). Once the party's membership has stayed
// the same for a stability window, member i of the n identifiers, sorted,
// takes sorted(items)[i::n], and locks each of its items at
// PATH/locks/<item> with nodes Kazoo's Lock counts (<uuid>__lock__<seq>).
// Holding them all, it works on them under a context that ends when the
// membership changes (or a lock is lost); it then releases them all, waits
// for the membership to settle again, and takes its new share.
//
// Locks make the ownership safe: work is called only while the member
// holds every lock of its share, and an item's lock is held by one member
// at a time, whatever the members believe about the party. A member that
// is paused past its session's expiry may still work when it wakes, after
// the next owner began: each Item carries its lock's fencing token for the
// systems the work writes to. The stability window keeps the locks from
// changing hands on every join.
package partition
