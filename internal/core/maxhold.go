package core

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// EvictionMargin is how long past a holder's declared max hold the
// contender next in line waits before it deletes the holder's node. It
// times from when it learned that the holder leads the queue, on its own
// monotonic clock; the holder times from its grant, on its own. Both learn
// of the grant from the same deletion (of the node before the holder's),
// each from its own server, so the enforcer may hear of it first, by as
// much as one server lags another plus the holder's own delay in taking
// the grant: milliseconds on a healthy ensemble, and rarely a few hundred.
// A second covers that with room to spare, and stays far below a session
// timeout (10 s by default), so that eviction frees the lock long before
// an expiry would. The holder's context has ended by then; a holder that
// wakes late is refused by fencing (Guard, Multi, its token).
const EvictionMargin = time.Second

// maxHoldTag ends the data of a node whose holder declares a max hold:
// the tag, then the duration as time.Duration prints it.
const maxHoldTag = " zkrecipes-max-hold="

// Declare returns data with the hold's max hold declared, if it declared
// one: what a recipe writes into the node (SetData) to keep the limit.
func (h *Hold) Declare(data []byte) []byte { return declare(data, h.maxHold) }

// declare returns data declaring a max hold of d, or data itself for none.
func declare(data []byte, d time.Duration) []byte {
	if d <= 0 {
		return data
	}
	return fmt.Appendf(slices.Clip(data), "%s%s", maxHoldTag, d)
}

// withoutMaxHold returns data without its max hold, if it declares one:
// what its client wrote for others to read.
func withoutMaxHold(data []byte) []byte {
	if _, ok := DeclaredMaxHold(data); ok {
		return data[:bytes.LastIndex(data, []byte(maxHoldTag))]
	}
	return data
}

// DeclaredMaxHold returns the max hold a node's data declares, if any.
// Data of other clients (Curator's address, Kazoo's, ours without the
// option) declares none, and is never evicted.
func DeclaredMaxHold(data []byte) (time.Duration, bool) {
	i := bytes.LastIndex(data, []byte(maxHoldTag))
	if i < 0 {
		return 0, false
	}
	d, err := time.ParseDuration(string(data[i+len(maxHoldTag):]))
	if err != nil || d <= 0 {
		return 0, false
	}
	return d, true
}

// expireAfter ends the hold d from now with ErrMaxHoldExceeded, unless it
// ends first.
func (h *Hold) expireAfter(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.expiry != nil {
		h.expiry.Stop()
	}
	h.expiry = time.AfterFunc(d, func() { h.cancel(ErrMaxHoldExceeded) })
	h.expires = time.Now().Add(d)
}

// deleted is why the hold's node went: its eviction, once its max hold
// has passed (a process that was stopped sees both at once on waking),
// or else someone else's deletion.
func (h *Hold) deleted() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.expiry != nil && !time.Now().Before(h.expires) {
		return ErrMaxHoldExceeded
	}
	return ErrNodeDeleted
}

// Extend declares a new max hold of d, counted from now: it writes the
// node's data (with SetData's care) so that the contender next in line
// times it anew, then moves the hold's own end. A hold that declared no
// max hold, or is no longer trusted, cannot be extended.
func (h *Hold) Extend(ctx context.Context, d time.Duration) error {
	if h.maxHold == 0 {
		return fmt.Errorf("extend %s: the hold declared no max hold time", h.path)
	}
	if d <= 0 {
		return fmt.Errorf("extend %s: %v: want a positive duration", h.path, d)
	}
	if err := h.SetData(ctx, declare(h.data, d)); err != nil {
		return fmt.Errorf("extend: %w", err)
	}
	h.expireAfter(d)
	return nil
}

// evicting is a waiter's duty towards the holder at the head of the queue
// when that holder is its only blocker and declares a max hold.
type evicting struct {
	name    string // the holder's node
	version int32  // its data's version when the duty began
	at      time.Time
}
