package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Hold is a granted place at the head of a queue: a held lock, a
// leadership. It stays trusted until it is released or lost, and tells its
// owner the moment it is lost: [Hold.Done] closes and [Hold.Err] says why.
//
// Lost means: the session expired or was closed; its connection was
// suspended (with Config.TolerateSuspension, only a suspension lasting
// until the server may expire the session); the node was deleted by
// someone else; or the node, read back, does not match the hold's token
// or owner, or was written by someone else (a hold's node is written only
// through its hold: SetData), unless with a revocation request (see
// RevokeRequested), which ends nothing.
// A lost hold's node may still exist for a while (a suspended session may
// come back): call [Hold.Release] all the same, which deletes it if it
// can.
//
// A Hold is safe for concurrent use.
type Hold struct {
	s         *Session
	path      string
	token     int64
	ctx       context.Context
	cancelCtx context.CancelCauseFunc // through cancel, which measures the end
	granted   bool                    // under s.mu: the Session ends it with its state
	// clear: granted by a waiter that found no node at all ahead of its
	// own, whatever the queue's rule. A waiter of this Session behind it
	// that watches it as second, or finds it gone as its nearest blocker,
	// then knows that nothing is left ahead of it, and needs no listing
	// (see waiter).
	clear atomic.Bool

	mu      sync.Mutex
	version int32 // of the node's data, for the guard
	// unsettled: a write of ours to the node may have been applied without
	// our knowing (in flight, or its answer lost): until its owner settles
	// it, a version other than ours is not taken for someone else's write.
	unsettled bool
	released  bool

	maxHold  time.Duration // declared in the node's data; 0: none
	extended int           // how many times Extend declared it anew
	expiry   *time.Timer   // ends the hold at its max hold
	expires  time.Time     // when it does
	// written is the node's data as of version, as we made it (max hold
	// included): what a revocation request is overwritten with. pending
	// is the data of an unsettled write of ours.
	written, pending []byte
	// unwatched: the hold does not watch its node (see Unwatched)
	unwatched bool
	// events: a waiting contender's, for the events on its node; nil once
	// granted, when the hold takes them itself
	events chan zk.Event
	// arming: the watch on the node is being set; armAgain: an event came
	// meanwhile, so set it once more when done
	arming, armAgain bool

	// writing: one write of ours to the node at a time, and none while a
	// Multi is guarded by its version (see turns)
	writing turns
	revoked chan struct{} // RevokeRequested's; made when first asked for
	asked   bool          // a revocation request came

	measure   *Measure  // nil: not measured; set before the hold is shared
	grantedAt time.Time // when a measured hold was granted; zero once its end is recorded
}

// pendingHold prepares the hold of the node at path while its contender
// waits (waiting) or decides (Join): its context stops the background work
// on the node (the watch being set) if the contender gives up. token is 0
// until known. A waiting contender's hold is registered with the Session
// at once, which routes the events on its node to the hold's events
// channel; a deciding one's, at its grant: until then it reacts to
// nothing. The Session routes them until the hold is released or given
// up.
func (s *Session) pendingHold(path string, token int64, waiting bool) *Hold {
	ctx, cancel := context.WithCancelCause(context.Background())
	h := &Hold{s: s, path: path, token: token, ctx: ctx, cancelCtx: cancel}
	if waiting {
		h.events = make(chan zk.Event, 1)
		s.mu.Lock()
		s.nodes[path] = h
		s.mu.Unlock()
	}
	return h
}

// holdOf returns the hold of this Session's node at path, waiting or
// granted, or nil.
func (s *Session) holdOf(path string) *Hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodes[path]
}

// forget stops routing the events on the hold's node to it.
func (h *Hold) forget() {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes[h.path] == h {
		delete(s.nodes, h.path)
	}
}

// End ends the hold with cause, which should match ErrLost (or be
// ErrNotHeld, for a hold given up), unless it has ended already: its Done
// closes and its context's cause is cause; a measured hold's end is
// recorded. Its node stays until Release.
func (h *Hold) End(cause error) {
	h.cancelCtx(cause)
	h.recordEnd()
}

// arm sets the watch on the hold's node in the background, or sets it
// again once the one being set is, if it is being set already; a failure
// ends the hold (the node is gone, or the session is). The watch's events
// reach the hold through the Session (see Session.nodeEvent).
func (h *Hold) arm() {
	h.mu.Lock()
	if h.arming {
		h.armAgain = true
		h.mu.Unlock()
		return
	}
	h.arming = true
	h.mu.Unlock()
	if !h.s.Go(h.armLoop) {
		h.End(h.s.Err())
	}
}

func (h *Hold) armLoop() {
	for {
		h.s.follow(h.rearm())
		h.mu.Lock()
		again := h.armAgain && h.Err() == nil
		h.armAgain, h.arming = false, again
		h.mu.Unlock()
		if !again {
			return
		}
	}
}

// grant makes the hold trusted. The Session ends it from now on when its
// state says so (see Session.endHolds), and routes the events on its node
// to it: an event the contender did not take yet is taken now. watching:
// the watch on the node is set, or being set; if not, it is set now, in
// the background. On a Session made by Connect an idle hold costs no
// goroutine (on one over the application's connection, see follow).
func (h *Hold) grant(watching bool) *Hold {
	h.mu.Lock()
	var ev zk.Event
	missed := false
	if h.events != nil {
		select {
		case ev = <-h.events:
			missed = true
		default:
		}
		h.events = nil
	}
	h.mu.Unlock()
	s := h.s
	s.mu.Lock()
	s.nodes[h.path] = h
	h.granted = true
	cause := s.holdsEnd()
	s.mu.Unlock()
	if cause != nil {
		h.End(cause)
	}
	switch {
	case missed:
		h.event(ev)
	case !watching && !h.unwatched:
		h.arm()
	}
	if h.maxHold > 0 {
		h.expireAfter(h.maxHold)
	}
	return h
}

// event takes an event on the hold's node: a waiting contender gets it
// through the events channel (one is enough: it reads the node again); a
// granted hold ends if the node is gone, and reads it again (and watches
// it anew) if its data changed, unless it does not watch its node
// (Unwatched): it may get the events of a watch someone else set on the
// connection (a contender behind it), and stays as blind to changes as
// it was meant to be.
func (h *Hold) event(ev zk.Event) {
	h.mu.Lock()
	if h.events != nil {
		select {
		case h.events <- ev:
		default:
		}
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	switch ev.Type {
	case zk.EventNodeDeleted:
		h.End(h.deleted())
	case zk.EventNodeDataChanged:
		if h.Err() == nil && !h.unwatched {
			h.arm()
		}
	}
}

// rearm sets a watch on the hold's node (at first, or again after a watch
// fired because its data changed), retrying through connection loss, and
// judges what it reads. It returns the watch, or nil once the hold has
// ended: it ends it itself if the node is gone.
func (h *Hold) rearm() <-chan zk.Event {
	var w nodeWatch
	err := h.s.retry(h.ctx, "watch "+h.path, func(ctx context.Context) error {
		var err error
		w, err = h.s.watchExisting(ctx, h.path)
		return err
	})
	switch {
	case err != nil:
		h.End(err)
		return nil
	case !w.ok:
		h.End(h.deleted())
		return nil
	case w.stat.Czxid != h.token || w.stat.EphemeralOwner != h.s.ID():
		// The token came from the wire or from an earlier read: a node
		// that does not match is not the one the hold was granted on.
		h.End(fmt.Errorf("%w: token %d, owner 0x%x; the node says %d, 0x%x",
			ErrNodeMismatch, h.token, h.s.ID(), w.stat.Czxid, w.stat.EphemeralOwner))
		return nil
	case h.NoteRevoke(w.data, w.stat):
		// A request to let go, not a change of what the hold means: the
		// hold stays, and its data goes back (which fires this watch).
		h.restore(w.stat.Version)
	case h.landed(w.data, w.stat.Version):
		// An unsettled write of ours, read back: the guard follows it.
	case h.writtenByOther(w.stat.Version):
		// What a node's data means is part of the hold (a writer's node
		// with a new version admits readers): a change the hold did not
		// make is not one it can stand behind.
		h.End(fmt.Errorf("%w: written by another client (version %d, ours %d)",
			ErrNodeMismatch, w.stat.Version, h.guardVersion()))
		return nil
	}
	return w.watch
}

// writtenByOther reports whether the node's version v, as a read gave it,
// can only come from someone else's write: one past ours while none of
// ours is unsettled. A version below ours is a read that raced our own
// write (sent before it, looked at after its answer); the watch it set
// fires for that write.
func (h *Hold) writtenByOther(v int32) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.unsettled && v > h.version
}

func (h *Hold) guardVersion() int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version
}

// Done returns a channel closed when the hold is lost or released.
func (h *Hold) Done() <-chan struct{} { return h.ctx.Done() }

// Context returns a context that is cancelled when the hold is lost or
// released; context.Cause tells which. Do the work the hold protects under
// it, so that the work stops when the hold can no longer be trusted.
func (h *Hold) Context() context.Context { return h.ctx }

// Err returns nil while the hold is trusted; after a loss, the cause (it
// matches ErrLost); after Release, ErrNotHeld.
func (h *Hold) Err() error { return context.Cause(h.ctx) }

// Path returns the full path of the hold's node.
func (h *Hold) Path() string { return h.path }

// Token returns the hold's fencing token: the zxid that created its node.
// Zxids grow across the whole ensemble, so a later hold on the same recipe
// always has a larger token. Hand it to every system the hold protects and
// have them reject writes with a token smaller than one they have seen.
func (h *Hold) Token() int64 { return h.token }

// Session returns the session the hold belongs to.
func (h *Hold) Session() *Session { return h.s }

// Guard returns an operation for zk.Conn.Multi that fails unless the hold's
// node still exists unchanged: put it first in a Multi to make ZooKeeper
// writes conditional on still holding. [Hold.Multi] does that for you.
func (h *Hold) Guard() *zk.CheckVersionRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &zk.CheckVersionRequest{Path: h.path, Version: h.version}
}

// SetData replaces the data of the hold's node, only if the node is still
// the hold's (the server checks its version), and returns once it is
// written. Recipes use it to change what a hold means in place (the
// read-write lock's downgrade); the guard follows the new version.
//
// If the node is gone, the hold ends (ErrNodeDeleted). If its version
// changed while every write of ours was settled, someone else wrote it and
// the hold ends (ErrNodeMismatch), unless what they wrote is a revocation
// request (see RevokeRequested): then the write is sent again over it. If
// the outcome is unknown (the answer was lost, or ctx ended first), or the
// version changed while an earlier write of ours was unsettled (it may
// have landed after all: the error then matches zk.ErrBadVersion), the
// write stays unsettled until the hold reads it back (its watch fires
// when it lands) or its owner does and calls [Hold.Settle]. Meanwhile a
// change of version does not end the hold. If ctx has ended already,
// nothing is sent. Writes of the hold's own (SetData, Extend, a restore)
// go one at a time: SetData waits for one in flight, and for a Multi, or
// until ctx ends (it then returns ctx.Err(), and sends nothing).
func (h *Hold) SetData(ctx context.Context, data []byte) error {
	if err := h.writing.take(ctx, true); err != nil {
		return err
	}
	defer h.writing.give(true)
	return h.setData(ctx, data)
}

// setData is SetData, with h.writing held.
func (h *Hold) setData(ctx context.Context, data []byte) error {
	data = slices.Clone(data)
	for {
		if err := h.Err(); err != nil {
			return fmt.Errorf("set data of %s: %w", h.path, err)
		}
		if err := ctx.Err(); err != nil {
			return err // nothing sent, nothing unsettled
		}
		h.mu.Lock()
		settled, version := !h.unsettled, h.version
		h.unsettled, h.pending = true, data
		h.mu.Unlock()
		st, err := call(ctx, h.s, func() (*zk.Stat, error) { return h.s.Conn().Set(h.path, data, version) })
		bad := errors.Is(err, zk.ErrBadVersion)
		switch {
		case err == nil:
			h.settle(st.Version, data)
			return nil
		case errors.Is(err, zk.ErrNoNode):
			h.End(ErrNodeDeleted)
			return fmt.Errorf("set data of %s: %w (%w)", h.path, ErrNodeDeleted, err)
		case bad && settled:
			// Refused: nothing of ours is in flight. Why did the version move?
			revoked, rerr := h.revokedSince(ctx, version)
			switch {
			case revoked:
				continue // over the request, at its version
			case rerr != nil: // cannot tell: nothing was written, the hold stays
				h.unsettle(false)
				return fmt.Errorf("set data of %s: %w (reading it back: %w)", h.path, err, rerr)
			}
			cause := fmt.Errorf("%w: written by another client", ErrNodeMismatch)
			h.End(cause)
			return fmt.Errorf("set data of %s: %w (%w)", h.path, cause, err)
		case !bad && !retryable(err) && ctx.Err() == nil && settled:
			h.unsettle(false) // refused: nothing of ours is in flight
		}
		return fmt.Errorf("set data of %s: %w", h.path, err)
	}
}

// unsettle records whether a write of ours may be in flight.
func (h *Hold) unsettle(maybe bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unsettled = maybe
	if !maybe {
		h.pending = nil
	}
}

// Settle records that the node's data, read back, is data at version, by
// a write of ours whose answer was lost: the guard follows it, and a later
// change of version is someone else's again. It waits for a write of the
// hold's own in flight (a restore). Versions only grow: a version older
// than one the hold knows changes nothing.
func (h *Hold) Settle(version int32, data []byte) {
	h.writing.take(context.Background(), true)
	defer h.writing.give(true)
	h.settle(version, data)
}

func (h *Hold) settle(version int32, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if version >= h.version {
		h.version, h.written = version, slices.Clone(data)
	}
	h.unsettled, h.pending = false, nil
}

// current reports whether a read of the node at version shows what the
// hold knows it wrote last, settled: a guard taken before a write of ours
// settled (a restore, beside a multi-lock's transaction) failed for it.
func (h *Hold) current(data []byte, version int32) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.unsettled && version == h.version && bytes.Equal(data, h.written)
}

// landed reports whether a read of the node at version shows the data of
// our unsettled write, one version on: the write landed, and is settled.
func (h *Hold) landed(data []byte, version int32) bool {
	h.mu.Lock()
	ours := h.unsettled && version == h.version+1 && bytes.Equal(data, h.pending)
	h.mu.Unlock()
	if ours {
		h.settle(version, data)
	}
	return ours
}

// Multi applies ops (*zk.CreateRequest, *zk.SetDataRequest,
// *zk.DeleteRequest, *zk.CheckVersionRequest) atomically, and only if the
// hold's node still exists unchanged: the server checks, so a hold lost
// without the client knowing yet cannot write. It returns one response per
// op. If the guard fails, nothing was written, and the node is read: if a
// revocation request (or a write of ours whose answer was lost) moved its
// version, the Multi is sent again; if it is gone, or someone else wrote
// it, the hold ends and Multi returns an error matching ErrNodeDeleted or
// ErrNodeMismatch; if the read fails, Multi returns its error, and the
// hold stays. If an op fails, nothing was written either: it returns
// the responses, each with its own error, and an error that names the
// first failing op (counting from 0) and matches its error. If ctx ends
// first it returns ctx.Err(), and the ops may or may not have been
// applied.
func (h *Hold) Multi(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	return MultiUnder(ctx, []*Hold{h}, ops...)
}

// MultiUnder is Multi under every one of holds at once: each hold's guard
// goes first in one transaction, sent on the first hold's session (the
// server checks every guard, whatever session each hold is on). A guard
// that fails is handled as Multi handles its own (see guardFailed), for
// the hold whose guard it is, and the error names that hold's path. Each
// hold's own writes wait for it, as for Multi.
func MultiUnder(ctx context.Context, holds []*Hold, ops ...any) ([]zk.MultiResponse, error) {
	for i, h := range holds {
		if err := h.writing.take(ctx, false); err != nil {
			for _, h := range holds[:i] {
				h.writing.give(false)
			}
			return nil, err
		}
	}
	defer func() {
		for _, h := range holds {
			h.writing.give(false)
		}
	}()
	first := holds[0]
	var res []zk.MultiResponse
	var err error
	for {
		guards := make([]*zk.CheckVersionRequest, len(holds))
		all := make([]any, 0, len(holds)+len(ops))
		for i, h := range holds {
			if err := h.Err(); err != nil {
				return nil, fmt.Errorf("multi under %s: %w", h.path, err)
			}
			guards[i] = h.Guard()
			all = append(all, guards[i])
		}
		all = append(all, ops...)
		res, err = call(ctx, first.s, func() ([]zk.MultiResponse, error) { return first.s.Conn().Multi(all...) })
		failed := slices.IndexFunc(res, func(r zk.MultiResponse) bool { return r.Error != nil })
		if failed < 0 || failed >= len(holds) {
			break
		}
		h := holds[failed]
		again, cause, rerr := h.guardFailed(ctx, guards[failed].Version)
		switch {
		case cause != nil:
			return nil, fmt.Errorf("multi under %s: guard: %w (%w)", h.path, cause, res[failed].Error)
		case !again:
			return nil, fmt.Errorf("multi under %s: guard: %w (reading the node back: %w)", h.path, res[failed].Error, rerr)
		}
	}
	if err != nil {
		for i, r := range res {
			if i >= len(holds) && r.Error != nil {
				return res[len(holds):], fmt.Errorf("multi under %s: op %d: %w", first.path, i-len(holds), r.Error)
			}
		}
		return nil, fmt.Errorf("multi under %s: %w", first.path, err)
	}
	return res[len(holds):], nil
}

// guardFailed learns, by reading the node, why a guard of h checked
// against version v failed (see MultiUnder): again if a revocation request or a write of
// ours moved the version (h.Guard() follows it now); else cause, with
// which the hold has ended. A read that fails tells nothing: it returns
// the read's error, and ends nothing.
func (h *Hold) guardFailed(ctx context.Context, v int32) (again bool, cause, err error) {
	defer func() {
		if cause != nil {
			h.End(cause)
		}
	}()
	r, err := h.s.get(ctx, h.path)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return false, ErrNodeDeleted, nil
	case err != nil:
		return false, nil, err
	case r.stat.Czxid != h.token || r.stat.EphemeralOwner != h.s.ID():
		return false, ErrNodeMismatch, nil
	case r.stat.Version > v && h.NoteRevoke(r.data, r.stat):
		h.restore(r.stat.Version)
		return true, nil, nil
	case h.landed(r.data, r.stat.Version), h.current(r.data, r.stat.Version):
		return true, nil, nil
	}
	return false, fmt.Errorf("%w: written by another client", ErrNodeMismatch), nil
}

// OrNone returns h, or, for nil, a hold already given up, each of whose
// calls returns ErrNotHeld: what the methods of a nil or zero recipe hold
// act on, so that misuse (an Unlock deferred before the error was
// checked) is an error, not a panic.
func OrNone(h *Hold) *Hold {
	if h == nil {
		return none
	}
	return h
}

var none = func() *Hold {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(ErrNotHeld)
	return &Hold{ctx: ctx, cancelCtx: cancel, released: true}
}()

// Release gives the hold up by deleting its node, retrying through
// connection loss until ctx ends; if ctx ends first, the deletion goes on
// in the background until it succeeds or the session ends. Releasing again
// returns ErrNotHeld. Releasing a hold that was lost still deletes its node
// if it exists, and returns the cause of the loss (it matches ErrLost).
func (h *Hold) Release(ctx context.Context) (err error) {
	h.mu.Lock()
	if h.released {
		h.mu.Unlock()
		return fmt.Errorf("release %s: %w", h.path, ErrNotHeld)
	}
	h.released = true
	h.mu.Unlock()

	h.mu.Lock()
	if h.expiry != nil {
		h.expiry.Stop()
	}
	h.mu.Unlock()
	span := h.releaseSpan(ctx)
	defer func() { endSpan(span, err) }()
	lost := h.Err()
	h.End(ErrNotHeld)
	h.forget()

	switch derr := h.s.deleteNode(ctx, h.path); {
	case lost != nil:
		return fmt.Errorf("release %s: %w", h.path, lost)
	case derr != nil:
		return fmt.Errorf("release %s: %w", h.path, derr)
	}
	return nil
}

// deleteNode deletes an ephemeral node of this session, retrying through
// connection loss (waiting for the connection to come back) until ctx
// ends; then it hands the deletion to a background cleanup and returns
// ctx.Err(). A node already gone, or a session already lost, is success: the
// server deletes a lost session's nodes, and on a connection the Session
// did not make, the sweep deletes what is still tracked (see sweep.go).
func (s *Session) deleteNode(ctx context.Context, path string) error {
	del := s.removeNode(path)
	err := s.retry(ctx, "delete "+path, del)
	switch {
	case err == nil, errors.Is(err, ErrLost):
		return nil
	case ctx.Err() != nil:
		s.Cleanup("delete "+path, del)
		return ctx.Err()
	}
	return err
}

// removeNode returns a task that deletes p if it is ours (see
// deleteOurs); a node already gone, or another session's, is success.
func (s *Session) removeNode(p string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := call(ctx, s, func() (struct{}, error) { return struct{}{}, s.deleteOurs(s.Conn(), p) })
		if errors.Is(err, zk.ErrNoNode) {
			err = nil
		}
		if err == nil {
			s.untrackNode(p)
		}
		return err
	}
}
