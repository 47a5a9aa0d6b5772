package core

import "errors"

// Errors shared by every recipe. Recipe packages re-export the ones their
// callers meet, so errors.Is works with either name.
var (
	// ErrInvalidPath reports a recipe path that ZooKeeper would reject or
	// that would put nodes somewhere surprising. It is returned before any
	// call to the server.
	ErrInvalidPath = errors.New("zkrecipes: invalid path")

	// ErrLost reports that a hold can no longer be trusted. Every cause of
	// loss (ErrSessionLost, ErrSessionClosed, ErrSuspended, ErrNodeDeleted,
	// ErrNodeMismatch, ErrMaxHoldExceeded) matches it with errors.Is.
	ErrLost = errors.New("zkrecipes: hold lost")

	// ErrSessionLost reports that the ZooKeeper session expired or was
	// replaced by a new one: every ephemeral node it made is gone or going.
	ErrSessionLost = lossError("session expired")

	// ErrSessionClosed reports use of a session after Close.
	ErrSessionClosed = lossError("session closed")

	// ErrSuspended reports that the connection to ZooKeeper dropped while a
	// hold was trusted. The session may still be alive, but the server may
	// expire it before the client hears of it, so by default a hold is lost.
	ErrSuspended = lossError("connection suspended")

	// ErrNodeDeleted reports that a hold's node was deleted by someone else.
	ErrNodeDeleted = lossError("node deleted")

	// ErrNodeMismatch reports that a hold's node, read back, does not carry
	// the hold's fencing token or is not owned by the hold's session (the
	// token the hold was handed cannot be trusted), or was written by
	// another client (its guard no longer matches; a revocation request is
	// not such a write, see RevokeRequested).
	ErrNodeMismatch = lossError("node does not match the hold")

	// ErrMaxHoldExceeded reports that a hold declared a maximum hold time
	// and it has passed: the holder is to stop, and the contender next in
	// line deletes the node once the margin past it has passed too.
	ErrMaxHoldExceeded = lossError("max hold time exceeded")

	// ErrNotHeld reports a release of a hold that was already released.
	ErrNotHeld = errors.New("zkrecipes: not held")

	// ErrWouldBlock is returned by a non-blocking acquire when another
	// contender blocks it. Recipes return their own sentinel (lock.ErrLocked)
	// that wraps it.
	ErrWouldBlock = errors.New("zkrecipes: would block")

	// ErrForeignNode reports that the node found for this acquisition
	// belongs to another session (for example one that expired): it is
	// never taken for ours.
	ErrForeignNode = errors.New("zkrecipes: node owned by another session")
)

// lossError is a cause of loss that also matches ErrLost.
type lossError string

func (e lossError) Error() string { return "zkrecipes: " + string(e) }
func (e lossError) Unwrap() error { return ErrLost }
