// Package recipes holds what every zkrecipes recipe shares and a user
// types: the [Session] that recipes run on, the [Holding] surface of every
// hold, the sentinel errors, and [Contenders], a view of who holds and
// who waits at a recipe path. The recipes themselves are in packages
// lock, rwlock, semaphore, multilock, leader, barrier, counter, group and
// partition; the machinery
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
//
// A hold that hangs while its session lives is limited by a max hold
// (lock.WithMaxHold and its kin, [Holding.Extend]); any client may ask a
// holder to let go ([Revoke], [Holding.RevokeRequested]), in Curator's
// protocol.
//
// # Metrics and traces
//
// The recipes report through OpenTelemetry's API: to the global providers
// by default, which record nothing until the application installs an SDK,
// or to those given with [WithMeterProvider] and [WithTracerProvider].
// The library depends on no SDK. Its instruments (meter and tracer
// "github.com/zkrecipes/zkrecipes"):
//
//   - zkrecipes.wait.duration (histogram, s): how long each acquisition
//     took, from the call to its outcome;
//   - zkrecipes.acquisitions (counter): acquisitions by zkrecipes.outcome:
//     granted, would_block (a try), cancelled (ctx ended), lost (the
//     session or connection while waiting), error;
//   - zkrecipes.hold.duration (histogram, s): how long holds were trusted,
//     by zkrecipes.end: released or lost;
//   - zkrecipes.losses (counter): holds lost, by zkrecipes.cause:
//     max_hold, suspended, expired, closed, node_deleted, mismatch, other;
//   - zkrecipes.revocation.requests (counter): requests holds were told of;
//   - zkrecipes.session.state_changes (counter): by zkrecipes.session.state.
//
// Each carries zkrecipes.recipe (lock, rwlock, leader, semaphore) and
// zkrecipes.path, unless [WithoutPathAttribute] leaves the path out (one
// lock per item would make a series per item). A multi-lock is measured
// as its parts. Spans: "<recipe> acquire" ("leader campaign") around each
// acquisition, with its outcome and, once granted, zkrecipes.token;
// "<recipe> release" ("leader resign") around each release.
package recipes
