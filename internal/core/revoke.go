package core

import (
	"bytes"
	"context"

	"github.com/go-zookeeper/zk"
)

// RevokeMessage is what a client writes into a contender's node to ask it
// to let go: Curator's protocol (its Revoker, and InterProcessMutex's
// makeRevocable), which ours speaks both ways.
var RevokeMessage = []byte("__REVOKE__")

// IsRevokeRequest reports whether a node's data is a revocation request.
func IsRevokeRequest(data []byte) bool { return bytes.Equal(data, RevokeMessage) }

// RevokeRequested returns a channel closed once someone asked the hold to
// let go (see RevokeMessage), while it waited or held. The request ends
// nothing by itself: the hold stays trusted until its owner releases it.
// The node's data, overwritten by the request, is restored (a max hold, a
// downgrade and an election's payload mean what they meant), so every
// request is noticed once and none changes what the hold declares. A hold
// that does not watch its node (Unwatched) is never told.
func (h *Hold) RevokeRequested() <-chan struct{} { return h.revoked }

// NoteRevoke takes a read of the hold's node that shows a revocation
// request: the version it is at is the guard's (no write of ours sent
// before it can apply after it: each checked an older version), and the
// owner is told. It reports whether the read is one; data that is not a
// request is left for the caller to judge.
func (h *Hold) NoteRevoke(data []byte, st *zk.Stat) bool {
	if !IsRevokeRequest(data) {
		return false
	}
	h.mu.Lock()
	if st.Version > h.version {
		h.version, h.unsettled = st.Version, false
	}
	h.mu.Unlock()
	h.revokeOnce.Do(func() {
		h.s.log.Info("zkrecipes: revocation requested", "node", h.path)
		if m := h.measure; m != nil {
			m.t.revoked.Add(context.Background(), 1, m.sets().plain)
		}
		close(h.revoked)
	})
	return true
}

// restore writes back the hold's data over the revocation request read at
// version v, unless the node changed since (a write of ours followed it).
// It runs in the background, under the hold's context; a failure is the
// hold's as with any SetData (the node gone, or written by someone else).
func (h *Hold) restore(v int32) {
	h.s.spawn(func() {
		h.writing.Lock()
		defer h.writing.Unlock()
		h.mu.Lock()
		current, data := h.version == v && !h.unsettled, h.written
		h.mu.Unlock()
		if current {
			_ = h.setData(h.ctx, data)
		}
	})
}

// revokedSince reports whether the node, read now, holds a revocation
// request at a version newer than v: what made a write checked against v
// fail, rather than another client's write of its own.
func (h *Hold) revokedSince(ctx context.Context, v int32) bool {
	r, err := h.s.get(ctx, h.path)
	return err == nil && r.stat.Version > v && h.NoteRevoke(r.data, r.stat)
}
