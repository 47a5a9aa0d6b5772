package testutil

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil/stacks"
	"github.com/zkrecipes/zkrecipes/internal/wiretest"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Reconnect is how a cut-off connection comes back after its session
// expired. go-zookeeper fails the requests it has queued each time it has
// tried every address of its connect string; what is queued meanwhile goes
// out once it has a session, the one it opens in place of the expired one
// if need be.
type Reconnect struct {
	Name      string
	addresses int  // how many times the connect string names the server
	failAgain bool // the connection fails once more before it heals
}

// Reconnects are the ways a connection cut off across its session's
// expiry comes back.
var Reconnects = []Reconnect{
	// The reply to the handshake says that the session expired.
	{"one address", 1, false},
	// As a connect string of a three-server ensemble: requests queued
	// across the expiry go out under the session opened in its place,
	// unless the Session stops them.
	{"three addresses", 3, false},
	// The queued requests are failed with the connection's error while the
	// session, as far as the client knows, may live.
	{"fails again", 1, true},
}

// ForReconnects runs test once for each of Reconnects, as a subtest.
func ForReconnects(t *testing.T, test func(t *testing.T, r Reconnect)) {
	for _, r := range Reconnects {
		t.Run(r.Name, func(t *testing.T) { test(t, r) })
	}
}

// Servers returns p's address as r's connect string names it.
func (r Reconnect) Servers(p *zktest.Proxy) []string {
	var out []string
	for range r.addresses {
		out = append(out, p.Servers()...)
	}
	return out
}

// QueueAcrossExpiry cuts p's clients off and, once s's connection is
// retrying its handshake (which the cut swallows), runs call(i) for i < n,
// one goroutine each on the one Session s, as a service's goroutines share
// it. Once n requests of ops (methods of go-zookeeper's Conn) are queued
// behind the handshake, it expires the session server-side on c, and lets the
// connection come back as r says. It returns the calls' errors.
func QueueAcrossExpiry(t *testing.T, ctx context.Context, c *zktest.Cluster, r Reconnect, p *zktest.Proxy, s *recipes.Session, n int, ops []string, call func(i int) error) []error {
	t.Helper()
	sid := s.ID()
	p.Blackhole()
	// Connected is go-zookeeper's state between dialling and the session's
	// handshake: it has failed what was queued (if it had tried every
	// address), and queues what comes until the handshake is answered.
	require.NoError(t, WaitFor(ctx, func() bool { return s.Conn().State() == zk.StateConnected }))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = call(i) })
	}
	WaitQueued(t, ctx, func(q int) bool { return q >= n }, ops...)
	require.NoError(t, c.ExpireSession(ctx, sid))
	if r.failAgain {
		p.Cut()
		WaitQueued(t, ctx, func(q int) bool { return q == 0 }, ops...)
	}
	p.Heal()
	wg.Wait()
	return errs
}

// WaitQueued waits until cond holds of the number of goroutines waiting in
// go-zookeeper for the answer to a request made by one of ops, Conn's
// methods ("Create", "Get"): requests handed to a connection that cannot send
// them yet. Nothing else tells that a request is queued.
func WaitQueued(t *testing.T, ctx context.Context, cond func(queued int) bool, ops ...string) {
	t.Helper()
	var last int
	err := WaitFor(ctx, func() bool {
		last = 0
		for _, g := range stacks.All() {
			if !strings.Contains(g, "go-zookeeper/zk.(*Conn).request(") {
				continue
			}
			for _, op := range ops {
				if strings.Contains(g, "go-zookeeper/zk.(*Conn)."+op+"(") {
					last++
					break
				}
			}
		}
		return cond(last)
	})
	require.NoError(t, err, "%d %v requests queued", last, ops)
}

// Wrapped returns a Session over a connection the test makes to servers
// (session timeout 2s), as an application with its own *zk.Conn would,
// and that connection; both close when the test ends. Logs are dropped.
func Wrapped(t *testing.T, ctx context.Context, servers []string, opts ...recipes.Option) (*recipes.Session, *zk.Conn) {
	t.Helper()
	conn, _, err := zk.Connect(servers, 2*time.Second, zk.WithLogInfo(false), zk.WithLogger(ZKQuiet{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	s, err := recipes.NewSession(ctx, conn, append([]recipes.Option{recipes.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, conn
}

// ZKQuiet is a go-zookeeper logger that drops what it is given.
type ZKQuiet struct{}

func (ZKQuiet) Printf(string, ...any) {}

// FailWrite returns a dialer (for recipes.WithDialer or zk.WithDialer)
// whose connections fail, once armed is set, the write of the first
// request with opcode op (1 create, 3 exists, ...) as a connection that
// broke would: closed, with a *net.OpError. It clears armed.
func FailWrite(op uint32, armed *atomic.Bool) func(network, address string, timeout time.Duration) (net.Conn, error) {
	return wiretest.Dialer(wiretest.Hooks{Request: func(got int32, _ []byte) error {
		if uint32(got) == op && armed.CompareAndSwap(true, false) {
			return wiretest.ErrBrokenPipe
		}
		return nil
	}})
}

// ReplaceSession expires session sid on c while p cuts its clients off,
// heals, and waits until the application's connection conn has the new
// session go-zookeeper opens in its place.
func ReplaceSession(t *testing.T, ctx context.Context, c *zktest.Cluster, p *zktest.Proxy, conn *zk.Conn, sid int64) {
	t.Helper()
	p.Blackhole()
	require.NoError(t, c.ExpireSession(ctx, sid))
	p.Heal()
	require.NoError(t, WaitFor(ctx, func() bool {
		return conn.State() == zk.StateHasSession && conn.SessionID() != sid
	}), "the application's connection did not get a new session")
}
