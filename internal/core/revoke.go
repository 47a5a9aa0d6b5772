package core

import (
	"bytes"
	"context"
	"path"
	"slices"

	"github.com/go-zookeeper/zk"
	"go.opentelemetry.io/otel/attribute"
)

// revokeMessage is what a client writes into a contender's node to ask it
// to let go: Curator's protocol (its Revoker, and InterProcessMutex's
// makeRevocable), which ours speaks both ways.
var revokeMessage = []byte("__REVOKE__")

// isRevokeRequest reports whether a node's data is a revocation request:
// Curator's message, alone or (as ours writes it into a node that
// declares a max hold) followed by the node's declaration.
func isRevokeRequest(data []byte) bool { return bytes.Equal(withoutMaxHold(data), revokeMessage) }

// RevokeRequest returns the request to write into a node that holds data:
// Curator's message, followed by the node's max-hold declaration if it has
// one, so that the request hides no limit from the node's enforcer.
// Curator's holders declare none, and get the message alone.
func RevokeRequest(data []byte) []byte {
	tail := data[len(withoutMaxHold(data)):]
	return append(slices.Clip(revokeMessage), tail...)
}

// RevokeRequested returns a channel closed once someone asked the hold to
// let go (see revokeMessage), while it waited or held. The request ends
// nothing by itself: the hold stays trusted until its owner releases it.
// The node's data, overwritten by the request, is restored (a max hold, a
// downgrade and an election's payload mean what they meant), so every
// request is noticed once and none changes what the hold declares. A hold
// that does not watch its node (Unwatched) is never told.
func (h *Hold) RevokeRequested() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.revoked == nil { // made when first asked for: most holds never are
		h.revoked = make(chan struct{})
		if h.asked {
			close(h.revoked)
		}
	}
	return h.revoked
}

// NoteRevoke takes a read of the hold's node that shows a revocation
// request: the version it is at is the guard's (no write of ours sent
// before it can apply after it: each checked an older version), and the
// owner is told. It reports whether the read is one; data that is not a
// request is left for the caller to judge.
//
// A request read more than one version past ours (two, while a write of
// ours is unsettled) hides what was written in between. On the node of a
// read-write lock's writer that has not downgraded, a write in between may
// have been someone else's downgrade marker, which admits readers: there
// the read is not taken for a request, and the caller ends the hold.
// Elsewhere nothing written in between can let anyone in.
func (h *Hold) NoteRevoke(data []byte, st *zk.Stat) bool {
	if !isRevokeRequest(data) {
		return false
	}
	h.mu.Lock()
	if st.Version > h.version {
		gap := st.Version - h.version
		if h.unsettled {
			gap--
		}
		if gap > 1 && h.admitsByData() {
			h.mu.Unlock()
			return false
		}
		h.version, h.unsettled, h.pending = st.Version, false, nil
	}
	first := !h.asked
	h.asked = true
	if first && h.revoked != nil {
		close(h.revoked)
	}
	h.mu.Unlock()
	if first {
		h.s.log.Info("zkrecipes: revocation requested", "node", h.path)
		if m := h.measure; m != nil && m.t.revoked.Enabled(context.Background()) {
			m.t.revoked.Add(context.Background(), 1, m.with(attribute.KeyValue{}))
		}
	}
	return true
}

// admitsByData reports whether someone else's write to the hold's node
// could let others in beside it: the node of a read-write lock's writer
// that has not downgraded, which a downgrade marker would open to readers.
// Called with h.mu held.
func (h *Hold) admitsByData() bool {
	n, ok := ParseNode(path.Base(h.path), []Marker{WriteMarker})
	return ok && n.Marker == WriteMarker.Name && !Downgraded(n, h.written)
}

// restore writes back the hold's data over the revocation request read at
// version v, unless the node changed since (a write of ours followed it).
// It runs in the background, under the hold's context, and learns the
// outcome of a write whose answer was lost by reading the node back: a
// request still there at v is written over again. A failure is the
// hold's as with any SetData (the node gone, or written by someone else).
func (h *Hold) restore(v int32) {
	h.s.Go(func() {
		if h.writing.take(h.ctx, true) != nil {
			return // the hold ended: nothing to restore
		}
		defer h.writing.give(true)
		h.mu.Lock()
		current, data := h.version == v && !h.unsettled, h.written
		h.mu.Unlock()
		for current && h.ctx.Err() == nil {
			err := h.setData(h.ctx, data)
			if !retryable(err) || h.s.waitConnected(h.ctx) != nil {
				return // done, refused, or unsettled: the node's watch settles it if it lands
			}
			r, err := h.s.get(h.ctx, h.path)
			if err != nil || h.landed(r.data, r.stat.Version) {
				return
			}
			// Still the request at v: ours has not landed (and, checked
			// against v, only one of the two can): send it again.
			current = isRevokeRequest(r.data) && r.stat.Version == v
		}
	})
}

// revokedSince reports whether the node, read now, holds a revocation
// request at a version newer than v: what made a write checked against v
// fail, rather than another client's write of its own. A read that fails
// tells nothing, and is returned.
func (h *Hold) revokedSince(ctx context.Context, v int32) (bool, error) {
	r, err := h.s.get(ctx, h.path)
	if err != nil {
		return false, err
	}
	return r.stat.Version > v && h.NoteRevoke(r.data, r.stat), nil
}
