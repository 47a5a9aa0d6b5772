// Package group is group membership on ZooKeeper: a member is an ephemeral
// node with a payload, gone when its member leaves or its session ends,
// and anyone can list the members or watch the membership change.
//
// The layout is Apache Curator's GroupMember: the member with id ID is the
// node PATH/ID, its payload the node's data. Kazoo's Party nodes
// (PATH/<hex uuid>__party__, holding the member's identifier) are members
// too, with that identifier as ID and payload, and [WithKazooParty] joins
// as one. Each peer sees the others only as far as its own layout goes:
// our members see every member of either layout; Kazoo's Party counts
// only Party nodes (join WithKazooParty for Python services to see you);
// Curator's GroupMember lists a Party node under its node name, with the
// identifier as its data.
package group
