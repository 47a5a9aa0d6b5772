// Package recipes is the core shared by every zkrecipes recipe: a
// [Session] that knows when holds can no longer be trusted, the
// sequential-node [Queue] (protected creates, container parents,
// wrap-safe ordering, no herd: see [Queue]), node naming compatible with
// Apache Curator, Kazoo and go-zookeeper, path validation, sentinel errors,
// and the [Hold] with its fencing token and guard.
//
// Applications use it for one thing directly: making a Session, with
// [Connect] or, around a *zk.Conn they already have, [NewSession]. The
// recipes (lock, and the ones that follow) take the Session.
//
// A Session follows exactly one ZooKeeper session. When that session
// expires, the Session is lost for good, and so is every hold made through
// it; make a new Session to go on. By default a suspended connection ends
// holds too (see [WithTolerateSuspension]).
package recipes
