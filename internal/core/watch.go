package core

import (
	"context"
	"errors"

	"github.com/go-zookeeper/zk"
)

// children lists the queue's children.
func (q *Queue) children(ctx context.Context) ([]string, error) {
	return call(ctx, q.s, func() ([]string, error) {
		c, _, err := q.s.Conn().Children(q.path)
		return c, err
	})
}

// nodeWatch is what an exists-with-watch call learned of a node.
type nodeWatch struct {
	ok    bool
	stat  *zk.Stat
	watch <-chan zk.Event
	data  []byte // watchExisting only
}

// watchNode stats p and sets a watch on it, which fires when p is created,
// changed or deleted.
func (s *Session) watchNode(ctx context.Context, p string) (nodeWatch, error) {
	return call(ctx, s, func() (nodeWatch, error) {
		ok, st, ch, err := s.Conn().ExistsW(p)
		return nodeWatch{ok: ok, stat: st, watch: ch}, err
	})
}

// watchExisting reads p with a watch on it, which fires when p changes or
// is deleted. Unlike watchNode it leaves no watch behind when p is already
// gone: a contender's node, once deleted, is never created again, and a
// watch for its creation would stay on the server and in go-zookeeper
// until the session ends.
func (s *Session) watchExisting(ctx context.Context, p string) (nodeWatch, error) {
	return call(ctx, s, func() (nodeWatch, error) {
		d, st, ch, err := s.Conn().GetW(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nodeWatch{}, nil
		}
		return nodeWatch{err == nil, st, ch, d}, err
	})
}
