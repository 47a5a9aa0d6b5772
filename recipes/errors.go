package recipes

import "github.com/zkrecipes/zkrecipes/internal/core"

// Errors shared by every recipe; test them with errors.Is. Recipe packages
// re-export the ones their callers meet, so either name matches.
var (
	// ErrInvalidPath reports a recipe path that ZooKeeper would reject or
	// that would put nodes somewhere surprising. It is returned before any
	// call to the server.
	ErrInvalidPath = core.ErrInvalidPath // "zkrecipes: invalid path"

	// ErrLost reports that a hold can no longer be trusted. Every cause of
	// loss (ErrSessionLost, ErrSessionClosed, ErrSuspended, ErrNodeDeleted,
	// ErrNodeMismatch, ErrMaxHoldExceeded) matches it.
	ErrLost = core.ErrLost // "zkrecipes: hold lost"

	// ErrSessionLost reports that the ZooKeeper session expired or was
	// replaced by a new one: every ephemeral node it made is gone or going.
	ErrSessionLost = core.ErrSessionLost // "zkrecipes: session expired"

	// ErrSessionClosed reports use of a session after Close.
	ErrSessionClosed = core.ErrSessionClosed // "zkrecipes: session closed"

	// ErrSuspended reports that the connection to ZooKeeper dropped while a
	// hold was trusted. The session may still be alive, but the server may
	// expire it before the client hears of it, so by default a hold is lost.
	ErrSuspended = core.ErrSuspended // "zkrecipes: connection suspended"

	// ErrNodeDeleted reports that a hold's node was deleted by someone else
	// (or that a write guarded by the hold found it gone; one that found
	// it changed is ErrNodeMismatch).
	ErrNodeDeleted = core.ErrNodeDeleted // "zkrecipes: node deleted"

	// ErrNodeMismatch reports that a hold's node, read back, does not carry
	// the hold's fencing token or is not owned by the hold's session (the
	// token the hold was handed cannot be trusted), or was written by
	// another client (its guard no longer matches; a revocation request is
	// not such a write, see Holding.RevokeRequested).
	ErrNodeMismatch = core.ErrNodeMismatch // "zkrecipes: node does not match the hold"

	// ErrMaxHoldExceeded reports that a hold declared a maximum hold time
	// (lock.WithMaxHold) and it has passed: its context has ended, and the
	// contender next in line deletes its node once EvictionMargin has
	// passed too. It matches ErrLost.
	ErrMaxHoldExceeded = core.ErrMaxHoldExceeded // "zkrecipes: max hold time exceeded"

	// ErrNotHeld reports a release of a hold that was already released.
	ErrNotHeld = core.ErrNotHeld // "zkrecipes: not held"

	// ErrWouldBlock is returned by a non-blocking acquire when another
	// contender blocks it. Recipes return their own sentinel (lock.ErrLocked)
	// that wraps it.
	ErrWouldBlock = core.ErrWouldBlock // "zkrecipes: would block"

	// ErrForeignNode reports that the node found for this acquisition
	// belongs to another session (for example one that expired): it is
	// never taken for ours.
	ErrForeignNode = core.ErrForeignNode // "zkrecipes: node owned by another session"
)
