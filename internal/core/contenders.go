package core

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Contender is recipes.Contender, field for field, so that one converts
// to the other; its doc is there.
type Contender struct {
	Name       string
	Path       string
	Seq        int32
	Shared     bool
	Downgraded bool
	Held       bool
	Data       []byte
	Session    int64
	Created    time.Time
	Token      int64
	Unreadable bool
}

func contender(n Node, p string, data []byte, st *zk.Stat) Contender {
	return Contender{Name: n.Name, Path: p, Seq: n.Seq, Shared: n.Role == Shared || Downgraded(n, data), Downgraded: Downgraded(n, data),
		Data: withoutMaxHold(data), Session: st.EphemeralOwner, Created: time.UnixMilli(st.Ctime), Token: st.Czxid}
}

// Inspect returns the contenders at path of every recipe and client we
// know, under the rule they share: the read-write rule, with downgraded
// writers yielding to readers. For exclusive nodes it is the mutex's rule.
func Inspect(ctx context.Context, s *Session, path string) ([]Contender, error) {
	q, err := NewQueue(s, path, nil, ReadWriteBlocks, WithYieldRule(DowngradeYields))
	if err != nil {
		return nil, err
	}
	return q.Contenders(ctx)
}

// Head returns the first contender in the queue (for an election, the
// leader), reading only its node; ok is false when the queue is empty.
func (q *Queue) Head(ctx context.Context) (c Contender, ok bool, err error) {
	for {
		children, err := q.children(ctx)
		if errors.Is(err, zk.ErrNoNode) {
			return Contender{}, false, nil
		}
		if err != nil {
			return Contender{}, false, fmt.Errorf("head of %s: %w", q.path, err)
		}
		nodes := ParseChildren(children, q.markers)
		if len(nodes) == 0 {
			return Contender{}, false, nil
		}
		p := q.path + "/" + nodes[0].Name
		r, err := q.s.get(ctx, p)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			continue // gone since the listing: read again
		case err != nil:
			return Contender{}, false, fmt.Errorf("head of %s: %w", q.path, err)
		}
		c := contender(nodes[0], p, r.data, r.stat)
		c.Held = true
		return c, true, nil
	}
}

// Contenders returns the queue's contenders in queue order, with their
// data, each marked Held if nothing ahead of it blocks it (a blocker gone
// since the listing does not). Children it does not understand are left
// out. It reads every contender's node, all at once.
func (q *Queue) Contenders(ctx context.Context) ([]Contender, error) {
	children, err := q.children(ctx)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("contenders of %s: %w", q.path, err)
	}
	nodes := ParseChildren(children, q.markers)
	got, err := q.readAll(ctx, nodes)
	if err != nil {
		return nil, fmt.Errorf("contenders of %s: %w", q.path, err)
	}
	var list []Contender
	for i, n := range nodes {
		if got[i] == nil {
			continue
		}
		c := contender(n, q.path+"/"+n.Name, got[i].data, got[i].stat)
		c.Unreadable = got[i].unreadable
		c.Held = !q.blockedAt(nodes, i, got)
		list = append(list, c)
	}
	return list, nil
}

// readers bounds the reads readAll has in flight: they are pipelined on
// the session's one connection.
const readers = 64

// readAll reads every node of the queue, at most readers at a time; a
// node gone since the listing is nil. It stops at the first error and
// returns it.
func (q *Queue) readAll(ctx context.Context, nodes []Node) ([]*getResult, error) {
	paths := make([]string, len(nodes))
	for i, n := range nodes {
		paths[i] = q.path + "/" + n.Name
	}
	return q.s.readAll(ctx, paths)
}

// ReadAll reads the data and stat of every node at paths, at most 64 at a
// time (pipelined on the session's one connection): nil for a node gone,
// and the stat alone for one whose ACL forbids reading it. It stops at
// the first other error and returns it.
func (s *Session) ReadAll(ctx context.Context, paths []string) ([]*Read, error) {
	got, err := s.readAll(ctx, paths)
	if err != nil {
		return nil, err
	}
	out := make([]*Read, len(got))
	for i, g := range got {
		if g != nil {
			out[i] = &Read{g.data, g.stat}
		}
	}
	return out, nil
}

func (s *Session) readAll(ctx context.Context, paths []string) ([]*getResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	got := make([]*getResult, len(paths))
	slots := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for i, p := range paths {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			r, err := s.get(ctx, p)
			if errors.Is(err, zk.ErrNoAuth) { // its ACL: its stat needs no permission
				r, err = s.stat(ctx, p)
			}
			switch {
			case errors.Is(err, zk.ErrNoNode): // gone since the listing
			case err != nil:
				cancel(fmt.Errorf("read %s: %w", path.Base(p), err)) // the first error stays the cause
			default:
				got[i] = &r
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return got, nil
}

// blockedAt reports whether a node ahead of nodes[i], read as got, blocks
// it.
func (q *Queue) blockedAt(nodes []Node, i int, got []*getResult) bool {
	for j, n := range nodes[:i] {
		switch {
		case got[j] == nil, !q.rule(nodes[i], n):
		case q.yields == nil || !q.yields(nodes[i], n, &Read{got[j].data, got[j].stat}):
			return true
		}
	}
	return false
}

type getResult struct {
	data       []byte
	stat       *zk.Stat
	unreadable bool // stat-ed only: its ACL forbids reading it
}

// stat reads a node's stat only, which its ACL cannot forbid.
func (s *Session) stat(ctx context.Context, p string) (getResult, error) {
	st, err := s.Stat(ctx, p)
	if err == nil && st == nil {
		err = zk.ErrNoNode
	}
	return getResult{stat: st, unreadable: true}, err
}

// Stat reads the stat of the node at p: nil if there is none
// (go-zookeeper gives a zero stat for a missing node).
func (s *Session) Stat(ctx context.Context, p string) (*zk.Stat, error) {
	return call(ctx, s, func() (*zk.Stat, error) {
		ok, st, err := s.Conn().Exists(p)
		if err != nil || !ok {
			return nil, err
		}
		return st, nil
	})
}

// get reads a node's data and stat.
func (s *Session) get(ctx context.Context, p string) (getResult, error) {
	return call(ctx, s, func() (getResult, error) {
		d, st, err := s.Conn().Get(p)
		return getResult{data: d, stat: st}, err
	})
}
