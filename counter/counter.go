package counter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// ErrFormat reports a node whose data is not a count in the counter's
// format.
var ErrFormat = errors.New("counter: not a count in this format")

// ErrOverflow reports an Add whose result does not fit the format.
var ErrOverflow = errors.New("counter: overflow")

// Counter is a counter at one ZooKeeper node. It is cheap: no server call
// until one of its methods. A missing node counts 0; the first write makes
// it (a persistent node, its parents CONTAINER nodes). A Counter is safe
// for concurrent use.
type Counter struct {
	s     *core.Session
	path  string
	width int // bytes: 8 (DistributedAtomicLong) or 4 (SharedCount)
}

// Option configures a Counter.
type Option func(*Counter)

// WithSharedCountFormat reads and writes the node as Curator's SharedCount
// does: a 4-byte big-endian int32. The default is DistributedAtomicLong's
// 8-byte big-endian int64.
func WithSharedCountFormat() Option { return func(c *Counter) { c.width = 4 } }

// New returns the counter at path on session s. It checks its arguments
// and makes no server call.
func New(s *recipes.Session, path string, opts ...Option) (*Counter, error) {
	cs, err := core.Prepare(s, path)
	if err != nil {
		return nil, fmt.Errorf("counter: %w", err)
	}
	c := &Counter{s: cs, path: path, width: 8}
	core.Apply(c, opts)
	return c, nil
}

// Path returns the counter's path.
func (c *Counter) Path() string { return c.path }

// Value is a count as read: N, at the node's Version, if the node Exists
// (a missing node counts 0). CompareAndSet takes it back.
type Value struct {
	N       int64
	Version int32
	Exists  bool
}

// Get reads the count. It blocks until the server answers or ctx ends.
func (c *Counter) Get(ctx context.Context) (Value, error) {
	v, _, err := c.read(ctx, false)
	return v, err
}

// read reads the node, and with watch sets a watch on it (or on its
// creation, if it is missing).
func (c *Counter) read(ctx context.Context, watch bool) (Value, <-chan zk.Event, error) {
	type got struct {
		data []byte
		st   *zk.Stat
		ch   <-chan zk.Event
	}
	g, err := core.Call(ctx, c.s, func(conn *zk.Conn) (got, error) {
		if !watch {
			d, st, err := conn.Get(c.path)
			return got{d, st, nil}, err
		}
		d, st, ch, err := conn.GetW(c.path)
		if errors.Is(err, zk.ErrNoNode) {
			var ok bool
			ok, st, ch, err = conn.ExistsW(c.path)
			if err == nil && ok { // made meanwhile: the next read gets it
				return got{nil, nil, ch}, errAgain
			}
			if err == nil {
				err = zk.ErrNoNode
			}
		}
		return got{d, st, ch}, err
	})
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return Value{}, g.ch, nil
	case err != nil:
		return Value{}, g.ch, fmt.Errorf("counter %s: %w", c.path, err)
	}
	n, err := c.parse(g.data)
	return Value{n, g.st.Version, true}, g.ch, err
}

var errAgain = errors.New("counter: read again")

func (c *Counter) parse(data []byte) (int64, error) {
	switch {
	case len(data) == 0: // Curator reads an empty node as 0
		return 0, nil
	case len(data) >= c.width && c.width == 8:
		return int64(binary.BigEndian.Uint64(data)), nil
	case len(data) >= c.width: // SharedCount reads the first 4 bytes
		return int64(int32(binary.BigEndian.Uint32(data))), nil
	}
	return 0, fmt.Errorf("counter %s: %d bytes: %w", c.path, len(data), ErrFormat)
}

func (c *Counter) format(n int64) ([]byte, error) {
	if c.width == 4 {
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("counter %s: %d: %w", c.path, n, ErrOverflow)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(int32(n))), nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
}

// CompareAndSet writes n if the node is still as prev read it (its
// version; or, if prev found none, if it still does not exist), and
// reports whether it did. It blocks until the server answers or ctx ends;
// if ctx ends first, or the connection drops, the write may or may not
// have been applied, and it returns the error: read again to learn.
func (c *Counter) CompareAndSet(ctx context.Context, prev Value, n int64) (bool, error) {
	data, err := c.format(n)
	if err != nil {
		return false, err
	}
	if !prev.Exists {
		_, err = c.s.Create(ctx, c.path, data, 0)
		if errors.Is(err, zk.ErrNodeExists) {
			return false, nil
		}
	} else {
		_, err = core.Call(ctx, c.s, func(conn *zk.Conn) (*zk.Stat, error) { return conn.Set(c.path, data, prev.Version) })
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("counter %s: %w", c.path, err)
	}
	return true, nil
}

// Add adds delta to the count and returns the new count: it reads, and
// writes the sum checked against the version read, again until no other
// writer came in between. It blocks until it has written or ctx ends,
// reading again through connection loss; once the Session knows its
// session is lost, it returns an error matching ErrLost. (On a Session
// over the application's connection, an Add queued across an expiry may
// run under the session go-zookeeper opens in its place: its count is
// still right.) An error after a write was sent (ctx ended, the connection
// dropped) leaves its outcome unknown, as with CompareAndSet.
func (c *Counter) Add(ctx context.Context, delta int64) (int64, error) {
	for {
		v, err := c.Get(ctx)
		if core.Retryable(err) { // nothing written yet: read again once connected
			if err := c.s.WaitConnected(ctx); err != nil {
				return 0, fmt.Errorf("counter %s: %w", c.path, err)
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		sum := v.N + delta
		if (delta > 0 && sum < v.N) || (delta < 0 && sum > v.N) {
			return 0, fmt.Errorf("counter %s: %d%+d: %w", c.path, v.N, delta, ErrOverflow)
		}
		ok, err := c.CompareAndSet(ctx, v, sum)
		switch {
		case err != nil:
			return 0, err
		case ok:
			return sum, nil
		}
	}
}

// Watch sends the count, then the count after every change, in order: a
// value is never sent after one read later (changes that come close
// together may be sent as the last of them). Versions grow while the node
// lives; one deleted and made again starts again from 0 (after a value
// whose Exists is false, if a read came between the two). The channel
// closes when ctx ends, the session is lost, or a read fails for another
// reason than a dropped connection (it reads again once the connection is
// back); it holds one value, and a slow reader gets the latest when it
// reads.
func (c *Counter) Watch(ctx context.Context) <-chan Value {
	out := make(chan Value, 1)
	watch := func() {
		defer close(out)
		last, sent := Value{}, false
		for {
			v, ch, err := c.read(ctx, true)
			switch {
			case errors.Is(err, errAgain):
				continue
			case core.Retryable(err): // a dropped connection: read again once it is back
				if c.s.WaitConnected(ctx) != nil {
					return
				}
				continue
			case err != nil:
				return
			}
			if v != last || !sent {
				select {
				case <-out: // unread: the newer one replaces it
				default:
				}
				out <- v
				last, sent = v, true
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return
			case <-c.s.Done():
				return
			}
		}
	}
	if !c.s.Go(watch) {
		close(out)
	}
	return out
}
