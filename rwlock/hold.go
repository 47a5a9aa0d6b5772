package rwlock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// downgradeData is what Downgrade writes into the node: the marker our
// readers go by (core.Downgraded), which also tells a read back that the
// write was ours.
var downgradeData = core.DowngradeMarker

// resolveTimeout bounds each of the two phases in which Downgrade learns
// the outcome of its write past the end of its ctx: waiting for the
// answer, then reading the node back.
var resolveTimeout = core.DefaultSessionTimeout

// Hold is a held read or write lock. See [recipes.Holding] for Done,
// Context, Err, Path, Token, Guard and Multi (a hold that Downgrade ended,
// because it could not learn whether the downgrade was applied, is lost:
// Err tells why); Unlock gives it up.
type Hold struct {
	recipes.Holding
	held *core.Hold

	mu    sync.Mutex // held through Downgrade
	write bool

	emu      sync.Mutex
	ended    error // why Downgrade ended the hold, if it did
	unlocked bool  // Unlock was called
}

// Write reports whether the hold is a write hold (not downgraded). While
// a Downgrade is in progress, Write waits for its outcome.
func (h *Hold) Write() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.write
}

// Downgrade turns a write hold into a read hold in place: other readers
// may then hold with it, while writers queued behind keep waiting, with no
// moment in which one of them could get in. The hold keeps its node and
// fencing token. Downgrading a read hold, or a hold that is no longer
// trusted, is an error.
//
// Downgrade is one version-checked write to the hold's node. If ctx has
// ended already, Downgrade sends nothing and returns ctx.Err(). Once the
// write is sent, the server may apply it, and admit readers, whether or
// not its answer arrives, so Downgrade does not return before it knows:
// if ctx ends first, it waits for the answer up to
// [recipes.DefaultSessionTimeout] longer; if the answer is lost (the
// connection dropped, or none came in time), it reads the node back
// through reconnections, and sends the write again if the node is
// unchanged, for up to as long again. If the write was applied, the hold
// is a read hold and Downgrade returns nil, even if ctx has ended; if the
// server refused it, the hold is still a write hold (or lost) and
// Downgrade returns the error. If the outcome cannot be learned, Downgrade
// ends the hold (Done closes, Err matches ErrLost, the node is deleted, in
// the background if need be) and returns an error matching ErrLost. So a
// hold whose Write is true and whose Err is nil never stands beside
// readers that the server admits. A write to the node by another client
// admits no reader (readers go by the downgrade marker), but ends the hold
// all the same, with recipes.ErrNodeMismatch: its guard no longer matches.
// A revocation request is the exception (see
// [recipes.Holding.RevokeRequested]): Downgrade writes over it. After a
// downgrade, Guard and Multi follow the node's new version, also when
// Downgrade learned it by reading back.
func (h *Hold) Downgrade(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.write {
		return fmt.Errorf("rwlock %s: downgrade: not a write hold", h.Path())
	}
	if err := h.Err(); err != nil {
		return fmt.Errorf("rwlock %s: downgrade: %w", h.Path(), err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := h.setData(ctx)
	switch {
	case err == nil:
		h.write = false
		return nil
	case errors.Is(err, recipes.ErrLost): // the core ended the hold
	case core.Retryable(err), errors.Is(err, context.Canceled):
		return h.resolve(err) // unknown outcome: read the node back
	}
	return fmt.Errorf("rwlock: downgrade: %w", err)
}

// setData writes downgradeData (with the hold's max hold, if any) with
// the core hold's SetData, which checks
// the node's version and makes the guard follow it. A request abandoned
// when its ctx ends still runs (go-zookeeper's requests take no context),
// so the request runs under a context of its own: when ctx ends, its
// answer is awaited for resolveTimeout more; only then is it abandoned,
// and setData returns context.Canceled.
func (h *Hold) setData(ctx context.Context) error {
	rctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.held.SetData(rctx, h.held.Declare(downgradeData)) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(resolveTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		cancel()
		return <-done // at once: SetData returns when rctx ends
	}
}

// resolve learns whether a downgrade whose answer was lost was applied.
// A read back that finds the node changed is final: its version only
// grows. One that finds it unchanged is not (the lost request may still
// be on its way), so the same version-checked write is sent again: once
// either of the two is applied, the other fails on the version, and a
// failure sends resolve back to read the node, whose data then tells
// whose write changed it. It also resolves a first write that failed on
// the version: another client wrote the node. A revocation request found
// there hides whether ours landed before it; the write is then sent again
// over it, and its outcome is the downgrade's. If the outcome cannot be
// learned within resolveTimeout, the hold ends.
func (h *Hold) resolve(cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	s := h.held.Session()
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		if err := s.WaitConnected(ctx); err != nil && !errors.Is(err, recipes.ErrLost) {
			return h.end(ctx, cause, err)
		}
		if err := h.held.Err(); err != nil { // lost meanwhile: not trusted anyway
			return fmt.Errorf("rwlock %s: downgrade: %w", h.Path(), err)
		}
		n, err := core.Call(ctx, s, func(c *zk.Conn) (node, error) {
			data, st, err := c.Get(h.Path())
			return node{data, st}, err
		})
		if err == nil && n.stat.Version == h.Guard().Version {
			err = h.held.SetData(ctx, h.held.Declare(downgradeData)) // the node as it was: write again
			switch {
			case err == nil:
				h.write = false
				return nil
			case errors.Is(err, zk.ErrBadVersion):
				continue // changed since the read, by the lost write or another: read again
			case errors.Is(err, recipes.ErrLost): // the core ended the hold
				return fmt.Errorf("rwlock: downgrade: %w", err)
			}
		}
		switch {
		case err == nil && h.held.NoteRevoke(n.data, n.stat):
			continue // a revocation request took the version: write over it
		case err == nil && bytes.Equal(n.data, h.held.Declare(downgradeData)):
			h.held.Settle(n.stat.Version, n.data) // the guard follows our write
			h.write = false
			return nil
		case err == nil: // changed by another client, not to our marker
			return h.end(ctx, cause, fmt.Errorf("node changed by another client (version %d)", n.stat.Version))
		case errors.Is(err, zk.ErrNoNode):
			return h.end(ctx, cause, fmt.Errorf("%w (%w)", recipes.ErrNodeDeleted, err))
		case !core.Retryable(err): // ctx ended, or a final error
			return h.end(ctx, cause, err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return h.end(ctx, cause, ctx.Err())
		}
	}
}

type node struct {
	data []byte
	stat *zk.Stat
}

// end gives up a hold whose downgrade could not be resolved: it is lost
// from now on, and its node is deleted (in the background once ctx ends).
func (h *Hold) end(ctx context.Context, cause, why error) error {
	err := fmt.Errorf("rwlock %s: downgrade not resolved, hold ended: %w (answer: %v; read back: %v)",
		h.Path(), recipes.ErrLost, cause, why)
	h.emu.Lock()
	if h.unlocked {
		h.emu.Unlock()
		return err
	}
	h.ended = err
	h.held.End(err) // the cause Err and Context tell, before Release's
	h.emu.Unlock()
	h.held.Release(ctx)
	return err
}

// Unlock releases the hold by deleting its node, retrying through connection
// loss until ctx ends (then in the background). Unlocking twice (or a nil
// Hold) returns ErrNotHeld; unlocking a lost hold returns the cause, matching
// ErrLost.
func (h *Hold) Unlock(ctx context.Context) error {
	if h == nil || h.held == nil { // misuse: an Unlock deferred before the error was checked
		return fmt.Errorf("rwlock: unlock: %w", ErrNotHeld)
	}
	h.emu.Lock()
	ended, first := h.ended, !h.unlocked
	h.unlocked = true
	h.emu.Unlock()
	if ended != nil && first {
		return ended // Downgrade has released it
	}
	return h.held.Release(ctx)
}
