package recipes_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/counter"
	"github.com/zkrecipes/zkrecipes/group"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/multilock"
	"github.com/zkrecipes/zkrecipes/partition"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// TestRecipesRefuseAMissingSession: a nil Session, or a zero one that
// Connect did not make, is an error from every constructor and from
// Contenders, never a panic later; a bad path is reported first.
func TestRecipesRefuseAMissingSession(t *testing.T) {
	makers := map[string]func(*recipes.Session, string) error{
		"lock":    func(s *recipes.Session, p string) error { _, err := lock.New(s, p); return err },
		"rwlock":  func(s *recipes.Session, p string) error { _, err := rwlock.New(s, p); return err },
		"leader":  func(s *recipes.Session, p string) error { _, err := leader.New(s, p); return err },
		"barrier": func(s *recipes.Session, p string) error { _, err := barrier.New(s, p); return err },
		"double": func(s *recipes.Session, p string) error {
			_, err := barrier.NewDouble(s, p, 2)
			return err
		},
		"Contenders": func(s *recipes.Session, p string) error {
			_, err := recipes.Contenders(context.Background(), s, p)
			return err
		},
	}
	for name, make := range makers {
		for _, s := range []*recipes.Session{nil, {}} {
			assert.ErrorContains(t, make(s, "/ok"), "no session", "%s(%v)", name, s)
			assert.ErrorIs(t, make(s, "bad"), recipes.ErrInvalidPath, "%s(%v)", name, s)
		}
	}
}

// TestANilOptionSetsNothing: every recipe's constructor, and leader's
// Run, take a nil option as none, as Connect does (a caller may build the
// list with options left out as nil). Before, most of them panicked.
func TestANilOptionSetsNothing(t *testing.T) {
	ctx := testutil.Ctx(t, time.Minute)
	s := testutil.Session(t, servers())
	p := testutil.Path(t)
	for name, make := range map[string]func() error{
		"lock":      func() error { _, err := lock.New(s, p, nil); return err },
		"rwlock":    func() error { _, err := rwlock.New(s, p, nil); return err },
		"semaphore": func() error { _, err := semaphore.New(s, p, 1, nil); return err },
		"group":     func() error { _, err := group.New(s, p, nil); return err },
		"counter":   func() error { _, err := counter.New(s, p, nil); return err },
		"partition": func() error { _, err := partition.New(s, p, []string{"a"}, nil); return err },
		"leader Run": func() error {
			e, err := leader.New(s, p, nil)
			if err != nil {
				return err
			}
			return e.Run(ctx, nil, func(context.Context) error { return nil }, nil)
		},
	} {
		assert.NotPanics(t, func() { assert.NoError(t, make(), name) }, name)
	}
}

// TestZeroRecipesAreErrors: a lock.Mutex, rwlock.RWMutex or
// leader.Election that New did not make (nil, or a zero value declared
// as one would declare a sync.Mutex) returns an error matching no
// session from every method, instead of panicking.
func TestZeroRecipesAreErrors(t *testing.T) {
	ctx := context.Background()
	for _, m := range []*lock.Mutex{nil, {}} {
		assert.Empty(t, m.Path())
		_, err := m.Lock(ctx)
		assert.ErrorContains(t, err, "no session")
		_, err = m.TryLock(ctx)
		assert.ErrorContains(t, err, "no session")
		_, err = m.Contenders(ctx)
		assert.ErrorContains(t, err, "no session")
	}
	for _, m := range []*rwlock.RWMutex{nil, {}} {
		assert.Empty(t, m.Path())
		for _, acquire := range []func(context.Context) (*rwlock.Hold, error){m.Lock, m.TryLock, m.RLock, m.TryRLock} {
			_, err := acquire(ctx)
			assert.ErrorContains(t, err, "no session")
		}
		_, err := m.Contenders(ctx)
		assert.ErrorContains(t, err, "no session")
	}
	for _, e := range []*leader.Election{nil, {}} {
		assert.Empty(t, e.Path())
		_, err := e.Campaign(ctx, nil)
		assert.ErrorContains(t, err, "no session")
		_, err = e.Leader(ctx)
		assert.ErrorContains(t, err, "no session")
		_, err = e.Contenders(ctx)
		assert.ErrorContains(t, err, "no session")
		assert.ErrorContains(t, e.Run(ctx, nil, func(context.Context) error { return nil }), "no session")
		_, open := <-e.Observe(ctx)
		assert.False(t, open, "a zero Election's Observe is open")
	}
}

// TestAZeroSessionReportsItselfClosed: the methods of a nil Session, or of
// a zero one, report a closed Session instead of panicking.
func TestAZeroSessionReportsItselfClosed(t *testing.T) {
	for _, s := range []*recipes.Session{nil, {}} {
		assert.ErrorContains(t, s.Close(), "no session")
		assert.ErrorContains(t, s.Err(), "no session")
		assert.ErrorIs(t, s.Err(), recipes.ErrSessionClosed)
		assert.ErrorIs(t, s.Err(), recipes.ErrLost)
		assert.ErrorContains(t, s.WaitConnected(context.Background()), "no session")
		assert.Equal(t, recipes.StateClosed, s.State())
		assert.Zero(t, s.ID())
		assert.Nil(t, s.Conn())
		select {
		case <-s.Done():
		default:
			t.Errorf("Done of %v is open", s)
		}
	}
}

// TestSessionsRefuseBadConfiguration: a connection or option no Session
// can run with is an error before any connection is made (before, a
// session timeout of 0 made Connect retry its handshake until ctx ended,
// and a nil connection or a poll interval of 0 panicked in the Session's
// poller). A nil Option sets nothing.
func TestSessionsRefuseBadConfiguration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nowhere := []string{"127.0.0.1:1"} // never reached: refused first
	for _, d := range []time.Duration{0, -time.Second} {
		_, err := recipes.Connect(ctx, nowhere, recipes.WithSessionTimeout(d))
		assert.ErrorContains(t, err, "session timeout", "%v", d)
	}
	_, err := recipes.NewSession(ctx, nil)
	assert.ErrorContains(t, err, "nil connection")
	conn, _, err := zk.Connect(nowhere, time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, opt := range []recipes.Option{recipes.WithPollInterval(0), recipes.WithSessionTimeout(0)} {
		_, err = recipes.NewSession(ctx, conn, opt)
		assert.ErrorContains(t, err, "want more than 0")
	}
	_, err = recipes.NewSession(ctx, conn, nil, recipes.WithPollInterval(-1))
	assert.ErrorContains(t, err, "poll interval", "a nil Option")
}

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

// TestADialerGetsTheServersAsNamed: a dialer that resolves names its own
// way gets the host Connect was given. Before, Connect resolved it with
// the system's resolver first, and a name only the dialer knew failed
// with "no such host", the dialer never called.
func TestADialerGetsTheServersAsNamed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	real := cluster.Servers()[0]
	var asked []string
	var mu sync.Mutex
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		mu.Lock()
		asked = append(asked, address)
		mu.Unlock()
		if address != "zk1.cluster.invalid:2181" {
			return nil, fmt.Errorf("unknown server %s", address)
		}
		return net.DialTimeout(network, real, timeout)
	}
	s, err := recipes.Connect(ctx, []string{"zk1.cluster.invalid:2181"}, recipes.WithDialer(dial))
	require.NoError(t, err)
	defer s.Close()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "zk1.cluster.invalid:2181", asked[0])
}

// TestCloseWithTheServerSilentLeavesNoGoroutine: the server stops
// answering, and Close gives up on its close request after a second;
// go-zookeeper's goroutines end with it. Before, they waited for the
// connection until its read deadline (two thirds of the session timeout,
// here 20 s) and outlived Close.
func TestCloseWithTheServerSilentLeavesNoGoroutine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := testutil.Goroutines("zk.(*Conn).recvLoop")
	p := testutil.Proxy(t, cluster)
	s, err := recipes.Connect(ctx, p.Servers(), recipes.WithSessionTimeout(30*time.Second))
	require.NoError(t, err)
	p.Blackhole()
	require.NoError(t, s.Close())
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	assert.NoError(t, testutil.WaitFor(wctx, func() bool { return testutil.Goroutines("zk.(*Conn).recvLoop") == before }),
		"go-zookeeper's goroutines outlived Close")
}

// TestNilHoldsAreNotHeld: giving up a nil hold (an Unlock deferred before
// the acquisition's error was checked) or a zero one returns ErrNotHeld,
// and a zero Holding reports itself given up, instead of panicking.
func TestNilHoldsAreNotHeld(t *testing.T) {
	ctx := context.Background()
	var nilLock *lock.Hold
	var nilRW *rwlock.Hold
	var nilLease *semaphore.Lease
	var nilLeader *leader.Leadership
	var nilMulti *multilock.Hold
	for name, release := range map[string]func() error{
		"nil lock":       func() error { return nilLock.Unlock(ctx) },
		"zero lock":      func() error { return (&lock.Hold{}).Unlock(ctx) },
		"nil rwlock":     func() error { return nilRW.Unlock(ctx) },
		"zero rwlock":    func() error { return (&rwlock.Hold{}).Unlock(ctx) },
		"nil lease":      func() error { return nilLease.Unlock(ctx) },
		"zero lease":     func() error { return (&semaphore.Lease{}).Unlock(ctx) },
		"nil leadership": func() error { return nilLeader.Resign(ctx) },
		"nil multilock":  func() error { return nilMulti.Unlock(ctx) },
		"zero multilock": func() error { return (&multilock.Hold{}).Unlock(ctx) },
	} {
		assert.ErrorIs(t, release(), recipes.ErrNotHeld, name)
	}
	var h recipes.Holding
	assert.ErrorIs(t, h.Err(), recipes.ErrNotHeld)
	assert.ErrorIs(t, context.Cause(h.Context()), recipes.ErrNotHeld)
	select {
	case <-h.Done():
	default:
		t.Error("a zero Holding's Done is open")
	}
	assert.Zero(t, h.Token())
	_, err := h.Multi(ctx)
	assert.ErrorIs(t, err, recipes.ErrNotHeld)
	assert.Error(t, h.Extend(ctx, time.Second))
	assert.NotNil(t, h.RevokeRequested())
	for name, err := range map[string]error{
		"zero lock":       (&lock.Hold{}).Err(),
		"zero rwlock":     (&rwlock.Hold{}).Err(),
		"zero lease":      (&semaphore.Lease{}).Err(),
		"zero leadership": (&leader.Leadership{}).Err(),
		"zero multilock":  (&multilock.Hold{}).Err(),
		"nil multilock":   nilMulti.Err(),
	} {
		assert.ErrorIs(t, err, recipes.ErrNotHeld, name)
	}
	select {
	case <-nilMulti.Done():
	default:
		t.Error("a nil multi-lock hold's Done is open")
	}
	_, err = (&multilock.Hold{}).Multi(ctx)
	assert.ErrorIs(t, err, recipes.ErrNotHeld, "a zero multi-lock hold's Multi")
}
