package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
// the tag, then the duration as time.Duration prints it, then, once the
// hold was extended, " extended=N" (the count makes every extension a new
// declaration, even one of the same duration, so that the enforcer times
// it anew; a write that leaves the declaration as it was, such as a
// downgrade or the restore after a revocation request, does not).
const maxHoldTag = " zkrecipes-max-hold="

const extendedTag = " extended="

// Declare returns data with the hold's max hold declared as it stands, if
// it declared one: what a recipe writes into the node (SetData) to change
// what the hold means without changing its limit.
func (h *Hold) Declare(data []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return declare(data, h.maxHold, h.extended)
}

// declare returns data declaring a max hold of d, extended n times, or
// data itself for none.
func declare(data []byte, d time.Duration, n int) []byte {
	if d <= 0 {
		return data
	}
	data = fmt.Appendf(slices.Clip(data), "%s%s", maxHoldTag, d)
	if n > 0 {
		data = fmt.Appendf(data, "%s%d", extendedTag, n)
	}
	return data
}

// withoutMaxHold returns data without its max hold, if it declares one:
// what its client wrote for others to read.
func withoutMaxHold(data []byte) []byte {
	if _, ok := declaration(data); ok {
		return data[:bytes.LastIndex(data, []byte(maxHoldTag))]
	}
	return data
}

// DeclaredMaxHold returns the max hold a node's data declares, if any.
// Data of other clients (Curator's address, Kazoo's, ours without the
// option) declares none, and is never evicted.
func DeclaredMaxHold(data []byte) (time.Duration, bool) {
	decl, ok := declaration(data)
	if !ok {
		return 0, false
	}
	d, _, _ := strings.Cut(decl, extendedTag)
	v, err := time.ParseDuration(d)
	return v, err == nil && v > 0
}

// declaration returns the declaration of a max hold in data (what
// follows the tag), if data has a valid one: an enforcer times a holder
// anew when it changes (see maxHoldTag).
func declaration(data []byte) (string, bool) {
	i := bytes.LastIndex(data, []byte(maxHoldTag))
	if i < 0 {
		return "", false
	}
	decl := string(data[i+len(maxHoldTag):])
	d, n, extended := strings.Cut(decl, extendedTag)
	v, err := time.ParseDuration(d)
	if err != nil || v <= 0 {
		return "", false
	}
	if extended {
		if c, err := strconv.Atoi(n); err != nil || c <= 0 || strconv.Itoa(c) != n {
			return "", false
		}
	}
	return decl, true
}

// expireAfter ends the hold d from now with ErrMaxHoldExceeded, unless it
// ends first.
func (h *Hold) expireAfter(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.expiry != nil {
		h.expiry.Stop()
	}
	h.expiry = time.AfterFunc(d, func() { h.End(ErrMaxHoldExceeded) })
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
	if d <= 0 {
		return fmt.Errorf("extend %s: %v: want a positive duration", h.path, d)
	}
	if err := h.writing.take(ctx, true); err != nil {
		return err
	}
	defer h.writing.give(true)
	// Each Extend counts, written or not: one whose outcome is unknown may
	// have been applied, and the next must not declare the same again.
	h.mu.Lock()
	declared := h.maxHold > 0
	if declared {
		h.extended++
	}
	data := declare(withoutMaxHold(h.written), d, h.extended)
	h.mu.Unlock()
	if !declared {
		return fmt.Errorf("extend %s: the hold declared no max hold time", h.path)
	}
	sent := time.Now() // the enforcer times the new limit from when it sees it: later
	err := h.setData(ctx, data)
	left := d - time.Since(sent)
	switch {
	case err == nil:
		h.mu.Lock()
		h.maxHold = d
		h.mu.Unlock()
		h.expireAfter(left)
		return nil
	case retryable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// It may have landed: the enforcer may time the new limit, so the
		// hold ends by the sooner of the two.
		h.mu.Lock()
		sooner := left < time.Until(h.expires)
		h.mu.Unlock()
		if sooner {
			h.expireAfter(left)
		}
	}
	return fmt.Errorf("extend: %w", err)
}
