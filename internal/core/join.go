package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
)

// Join creates our node in q, named with m and holding data (nil: the
// session's identity; with WithMaxHold, declaring it too, and the hold
// ends that long after its grant), and returns its hold, pending: not
// trusted, with no watch set. The caller decides by rules of its own whether the node
// grants anything, then calls [Hold.Grant], or [Hold.Abandon]. It takes
// the same care as Acquire over the create (a lost reply, missing parents,
// cancel) and, where the create's reply did not give the token, reads the
// node, which also proves it is this session's.
func (q *Queue) Join(ctx context.Context, m Marker, data []byte) (*Hold, error) {
	if data == nil {
		data = q.s.cfg.Identity
	}
	data = declare(data, q.maxHold, 0)
	own, first, err := q.enter(ctx, m, data)
	if err != nil {
		return nil, err
	}
	h := q.s.pendingHold(own, first.token, false)
	h.written, h.maxHold, h.measure = data, q.maxHold, q.measure
	if h.token != 0 {
		return h, nil
	}
	for {
		r, err := q.s.get(ctx, own)
		switch {
		case retryable(err):
			if err = q.s.waitConnected(ctx); err == nil {
				continue
			}
		case errors.Is(err, zk.ErrNoNode):
			err = q.gone()
		case err == nil && r.stat.EphemeralOwner != q.s.ID():
			err = fmt.Errorf("join %s: %s: %w", q.path, own, ErrForeignNode)
		case err == nil:
			h.token, h.version = r.stat.Czxid, r.stat.Version
			return h, nil
		}
		h.Abandon()
		return nil, err
	}
}

// Grant makes a pending hold trusted, from now until it is released or
// lost, and starts watching its node.
func (h *Hold) Grant() { h.grant(false) }

// Abandon gives up a pending hold: its node is deleted, within a second or
// in the background.
func (h *Hold) Abandon() {
	h.End(ErrNotHeld)
	h.forget()
	h.s.abandon(h.path)
}
