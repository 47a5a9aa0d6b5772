package recipes

import (
	"context"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/internal/core"
)

// holdRef carries the core hold; recipe packages fill it, users cannot.
type holdRef = core.Ref[core.Hold]

// Holding is the surface every recipe's hold shares: it tells when the
// hold can no longer be trusted, and carries its fencing token and guard.
// Recipe holds (lock.Hold, rwlock.Hold, semaphore.Lease,
// leader.Leadership) embed it and add their own verbs: Unlock for locks
// and leases, Resign for leadership.
//
// A hold is lost when its session expires or is closed; when its
// connection is suspended (with [WithTolerateSuspension], only a
// suspension lasting until the server may expire the session); when its
// node is deleted by someone else (an eviction past its max hold
// included); or when its node, read back, does not match the hold's token
// or was written by another client (a revocation request excepted: it
// ends nothing, see [Holding.RevokeRequested]). A lost hold's node may
// still exist for a while
// (a suspended session may come back): give the hold up all the same,
// which deletes the node if it can.
//
// A Holding is safe for concurrent use.
type Holding struct{ holdRef }

// hold returns the core hold, or for a nil or zero Holding one given up:
// its methods then report ErrNotHeld instead of panicking.
func (v *Holding) hold() *core.Hold {
	if v == nil {
		return core.OrNone(nil)
	}
	return core.OrNone(core.Of(v))
}

// Done returns a channel closed when the hold is lost or given up.
func (v *Holding) Done() <-chan struct{} { return v.hold().Done() }

// Context returns a context cancelled when the hold is lost or given up;
// context.Cause tells which. Do the work the hold protects under it, so
// that the work stops when the hold can no longer be trusted.
func (v *Holding) Context() context.Context { return v.hold().Context() }

// Err returns nil while the hold is trusted; after a loss, the cause (it
// matches [ErrLost]); after it was given up, [ErrNotHeld].
func (v *Holding) Err() error { return v.hold().Err() }

// Path returns the full path of the hold's node.
func (v *Holding) Path() string { return v.hold().Path() }

// Token returns the hold's fencing token: the zxid that created its node.
// Zxids grow across the whole ensemble, so a later hold on the same recipe
// path always has a larger token. Hand it to every system the hold
// protects and have them reject writes with a token smaller than one they
// have seen.
func (v *Holding) Token() int64 { return v.hold().Token() }

// Guard returns an operation for zk.Conn.Multi that fails unless the
// hold's node still exists unchanged: put it first in a Multi to make
// ZooKeeper writes conditional on still holding. [Holding.Multi] does
// that for you, and tells a failed guard apart from a revocation request
// (which changes the node's version too, and ends nothing).
func (v *Holding) Guard() *zk.CheckVersionRequest { return v.hold().Guard() }

// Multi applies ops (*zk.CreateRequest, *zk.SetDataRequest,
// *zk.DeleteRequest, *zk.CheckVersionRequest) atomically, and only if the
// hold's node still exists unchanged: the server checks, so a hold lost
// without the client knowing yet cannot write. It blocks until the server
// answers or ctx ends, and returns one response per op. If the guard
// fails, nothing was written, and the node is read: after a revocation
// request (see [Holding.RevokeRequested]) the Multi is sent again;
// otherwise the hold ends and Multi returns an error matching
// [ErrNodeDeleted] (the node is gone) or [ErrNodeMismatch] (another
// client wrote it); if the node cannot be read, the error says so, and
// the hold stays. If an op fails, nothing was written either: it returns
// the responses, each with its own error, and an error naming the first
// failing op (counting from 0) that matches its error. If ctx ends first
// it returns ctx.Err(), and the ops may or may not have been applied.
func (v *Holding) Multi(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	return v.hold().Multi(ctx, ops...)
}

// RevokeRequested returns a channel closed once another client asked the
// hold to let go ([Revoke], `zkr revoke`, Curator's Revoker): it wrote
// Curator's revocation message into the hold's node, while the hold waited
// or held. A holder opts in by selecting on it, and then gives the hold
// up when its work allows. The request ends nothing by itself: a hold
// whose owner ignores it stays trusted, and the library puts the node's
// data back (a declared max hold, a downgrade, a leader's payload), so
// that a request changes nothing else, nor puts off an eviction. The
// semaphore's leases are told too; the channel of a hold that is not
// asked never closes. One exception ends a hold: two requests that land
// on a read-write lock's write hold before it has read the first (the
// second could hide another client's downgrade marker between them, which
// lets readers in) end it with ErrNodeMismatch.
func (v *Holding) RevokeRequested() <-chan struct{} { return v.hold().RevokeRequested() }

// Extend moves the end of a hold made with a max hold (lock.WithMaxHold,
// rwlock.WithMaxHold, leader.WithMaxTerm, semaphore.WithMaxHold) to d from
// now: it writes the new limit into the hold's node, so that its enforcer
// (the contender next in line, or the acquirer waiting for a lease) times
// it anew, and blocks until the server answers or ctx ends. A hold made
// without a max hold cannot be extended; one whose limit has passed is
// lost, and cannot be either. The new end counts from when the write was
// sent. If the outcome is unknown (ctx ended first, the connection
// dropped), the new limit may have been written: the hold then ends at
// the sooner of its old end and the new one, and Extend returns the
// error.
func (v *Holding) Extend(ctx context.Context, d time.Duration) error {
	return v.hold().Extend(ctx, d)
}
