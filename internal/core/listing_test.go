package core

import (
	"context"
	"net"
	"path"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/wiretest"
)

// TestWaitersAskingWhileAListingIsOutShareTheNext: while a listing is in
// flight (its answer held back), the waiters that ask for one share the
// next, sent once it returns; and that one shows what they did before
// asking, here a node created after the first listing went out.
func TestWaitersAskingWhileAListingIsOutShareTheNext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var w heldWire
	w.init()
	cfg := DefaultConfig()
	cfg.Dial = w.dial
	s, err := Connect(ctx, cluster.Servers(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	q, err := NewQueue(s, "/test/"+t.Name(), []Marker{MutexMarker}, AnyBlocks)
	require.NoError(t, err)
	require.NoError(t, s.CreateParents(ctx, q.path+"/x"))

	w.hold() // answers wait
	first := q.nextListing()
	require.NoError(t, waitFor(ctx, func() bool { return w.listings() == 1 }))
	made := make(chan string, 1)
	go func() {
		p, err := s.Conn().Create(q.path+"/"+ProtectedName("a", MutexMarker), nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		assert.NoError(t, err)
		made <- p
	}()
	require.NoError(t, waitFor(ctx, func() bool { return w.ops[wiretest.OpCreate].Load() == 1 }))
	var asked []*listing
	for range 5 {
		asked = append(asked, q.nextListing())
	}
	for _, l := range asked {
		assert.Same(t, asked[0], l, "waiters asking while a listing is out share the next")
	}
	assert.NotSame(t, first, asked[0], "a waiter shares no listing sent before it asked")
	w.release()

	node := path.Base(<-made)
	nodes, err := asked[0].wait(ctx, s, q.markers)
	require.NoError(t, err)
	assert.True(t, contains(nodes, node), "the shared listing does not show a node made before it was asked for")
	<-first.done
	require.NoError(t, first.err)
	assert.NotContains(t, first.children, node, "the first listing went out before the create")
	assert.Equal(t, int32(2), w.listings(), "listings sent")

	// Asked with none in flight, a listing goes out at once.
	alone := q.nextListing()
	_, err = alone.wait(ctx, s, q.markers)
	require.NoError(t, err)
	assert.NotSame(t, asked[0], alone)
}

func contains(nodes []Node, name string) bool {
	for _, n := range nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}

// heldWire counts the requests a session writes by opcode, and can hold
// back what the server sends until released.
type heldWire struct {
	ops [32]atomic.Int32

	mu    sync.Mutex
	held  bool
	freed chan struct{}
}

func (w *heldWire) init() { w.freed = make(chan struct{}) }
func (w *heldWire) hold() { w.mu.Lock(); w.held = true; w.mu.Unlock() }
func (w *heldWire) release() {
	w.mu.Lock()
	w.held = false
	close(w.freed)
	w.mu.Unlock()
}

func (w *heldWire) listings() int32 {
	return w.ops[wiretest.OpGetChildren].Load() + w.ops[wiretest.OpGetChildren2].Load()
}

func (w *heldWire) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	return wiretest.Dialer(wiretest.Hooks{
		Request: func(op int32, _ []byte) error {
			if op >= 0 && int(op) < len(w.ops) {
				w.ops[op].Add(1)
			}
			return nil
		},
		Read: func() {
			w.mu.Lock()
			held := w.held
			w.mu.Unlock()
			if held {
				<-w.freed
			}
		},
	})(network, address, timeout)
}
