package recipes

import (
	"context"

	"github.com/go-zookeeper/zk"
)

// Holding is the surface every recipe's hold shares: it tells when the
// hold can no longer be trusted, and carries its fencing token and guard.
// Recipe holds (lock.Hold, rwlock.Hold, leader.Leadership) embed it and add
// their own verbs (Unlock, Resign, Downgrade); nothing else of the core
// [Hold] reaches their users.
type Holding struct{ h *Hold }

// NewHolding returns the shared surface of h, for recipe packages.
func NewHolding(h *Hold) Holding { return Holding{h} }

// Done returns a channel closed when the hold is lost or released.
func (v Holding) Done() <-chan struct{} { return v.h.Done() }

// Context returns a context cancelled when the hold is lost or released;
// context.Cause tells which. Do the protected work under it.
func (v Holding) Context() context.Context { return v.h.Context() }

// Err returns nil while the hold is trusted; after a loss, the cause (it
// matches ErrLost); after it was given up, ErrNotHeld.
func (v Holding) Err() error { return v.h.Err() }

// Path returns the full path of the hold's node.
func (v Holding) Path() string { return v.h.Path() }

// Token returns the hold's fencing token: the zxid that created its node.
// See [Hold.Token].
func (v Holding) Token() int64 { return v.h.Token() }

// Guard returns an operation for zk.Conn.Multi that fails unless the
// hold's node still exists unchanged. See [Hold.Guard].
func (v Holding) Guard() *zk.CheckVersionRequest { return v.h.Guard() }

// Multi applies ops atomically, and only if the hold's node still exists.
// See [Hold.Multi].
func (v Holding) Multi(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	return v.h.Multi(ctx, ops...)
}
