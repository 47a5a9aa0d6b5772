package integration_test

import (
	"context"
	"crypto/tls"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/multilock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// TestRecipesOverTLS runs on a server that serves TLS (its secure client
// port, certificates made at test time): every recipe's basic path over
// TLS sessions, the fencing token read from the wire above the TLS layer,
// a client without the authority or with a wrong server name refused with
// an error that says why, and an ACL naming a client certificate's
// identity (ZooKeeper's x509 provider) that keeps other clients out.
func TestRecipesOverTLS(t *testing.T) {
	c := zktest.Start(t, zktest.WithTLS())
	ctx := ctxFor(t, 2*time.Minute)
	certs := c.TLS()
	connect := func(cfg *tls.Config, opts ...recipes.Option) *recipes.Session {
		s, err := recipes.Connect(ctx, c.SecureServers(), append(opts, recipes.WithTLS(cfg))...)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	anonymous := &tls.Config{RootCAs: certs.CA, MinVersion: tls.VersionTLS12}

	t.Run("recipes", func(t *testing.T) {
		a, b := connect(anonymous), connect(anonymous)
		ma, err := lock.New(a, "/tls/lock")
		require.NoError(t, err)
		mb, err := lock.New(b, "/tls/lock")
		require.NoError(t, err)
		h, err := ma.Lock(ctx)
		require.NoError(t, err)
		_, st, err := a.Conn().Exists(h.Path())
		require.NoError(t, err)
		assert.Equal(t, st.Czxid, h.Token(), "the token read from the wire under TLS")
		_, err = mb.TryLock(ctx)
		assert.ErrorIs(t, err, lock.ErrLocked)
		require.NoError(t, h.Unlock(ctx))
		hb, err := mb.Lock(ctx)
		require.NoError(t, err)
		require.NoError(t, hb.Unlock(ctx))

		rw, err := rwlock.New(a, "/tls/rw")
		require.NoError(t, err)
		w, err := rw.Lock(ctx)
		require.NoError(t, err)
		require.NoError(t, w.Downgrade(ctx))
		r, err := rwlock.New(b, "/tls/rw")
		require.NoError(t, err)
		rh, err := r.TryRLock(ctx)
		require.NoError(t, err, "a reader beside a downgraded writer, over TLS")
		require.NoError(t, rh.Unlock(ctx))
		require.NoError(t, w.Unlock(ctx))

		e, err := leader.New(b, "/tls/election")
		require.NoError(t, err)
		l, err := e.Campaign(ctx, []byte("b"))
		require.NoError(t, err)
		require.NoError(t, l.Resign(ctx))

		sem, err := semaphore.New(a, "/tls/sem", 1)
		require.NoError(t, err)
		lease, err := sem.Acquire(ctx)
		require.NoError(t, err)
		require.NoError(t, lease.Unlock(ctx))

		m1, err := lock.New(a, "/tls/multi/a")
		require.NoError(t, err)
		m2, err := lock.New(a, "/tls/multi/b")
		require.NoError(t, err)
		mh, err := multilock.Lock(ctx, multilock.Mutex(m1), multilock.Mutex(m2))
		require.NoError(t, err)
		require.NoError(t, mh.Unlock(ctx))

		bar, err := barrier.New(a, "/tls/barrier")
		require.NoError(t, err)
		require.NoError(t, bar.Set(ctx))
		waited := make(chan error, 1)
		bb, err := barrier.New(b, "/tls/barrier")
		require.NoError(t, err)
		go func() { waited <- bb.Wait(ctx) }()
		require.NoError(t, bar.Remove(ctx))
		require.NoError(t, <-waited)
		var wg sync.WaitGroup
		for _, s := range []*recipes.Session{a, b} {
			d, err := barrier.NewDouble(s, "/tls/double", 2)
			require.NoError(t, err)
			wg.Go(func() {
				assert.NoError(t, d.Enter(ctx))
				assert.NoError(t, d.Leave(ctx))
			})
		}
		wg.Wait()
	})

	t.Run("refused", func(t *testing.T) {
		for name, cfg := range map[string]*tls.Config{
			"without the authority":  {MinVersion: tls.VersionTLS12},
			"with a wrong host name": {RootCAs: certs.CA, ServerName: "zk.example.invalid", MinVersion: tls.VersionTLS12},
		} {
			short, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := recipes.Connect(short, c.SecureServers(), recipes.WithTLS(cfg))
			cancel()
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), "TLS with", name)
			assert.Contains(t, err.Error(), "certificate", name)
		}
	})

	t.Run("x509 identity", func(t *testing.T) {
		acl := []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: certs.ClientSubject}}
		owner := connect(certs.Config(), recipes.WithACL(acl...))
		m, err := lock.New(owner, "/tls/x509")
		require.NoError(t, err)
		h, err := m.Lock(ctx)
		require.NoError(t, err)
		got, _, err := owner.Conn().GetACL(h.Path())
		require.NoError(t, err)
		assert.Equal(t, acl, got)
		other := connect(anonymous)
		assert.ErrorIs(t, other.Conn().Delete(h.Path(), -1), zk.ErrNoAuth, "a client without the certificate deleted the node")
		theirs, err := lock.New(other, "/tls/x509")
		require.NoError(t, err)
		_, err = theirs.TryLock(ctx)
		assert.ErrorIs(t, err, zk.ErrNoAuth)
		require.NoError(t, h.Unlock(ctx))
	})
}

// TestTLSSessionsOutliveAMemberRestart: on a 3-node ensemble serving TLS,
// sessions spread over the members by the proxies; every member is
// restarted in turn, and each session reconnects over TLS (to another
// member while its own is down) and keeps its id, and a lock still passes
// between them.
func TestTLSSessionsOutliveAMemberRestart(t *testing.T) {
	c := zktest.Start(t, zktest.WithEnsemble(3), zktest.WithTLS())
	ctx := ctxFor(t, 3*time.Minute)
	cfg := &tls.Config{RootCAs: c.TLS().CA, MinVersion: tls.VersionTLS12}
	var sessions []*recipes.Session
	ids := map[*recipes.Session]int64{}
	for range 3 {
		s, err := recipes.Connect(ctx, c.SecureServers(), recipes.WithTLS(cfg), recipes.WithSessionTimeout(20*time.Second),
			recipes.WithTolerateSuspension())
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		sessions = append(sessions, s)
		ids[s] = s.ID()
	}
	for _, m := range c.Members() {
		require.NoError(t, m.Restart(ctx))
		require.NoError(t, c.WaitServing(ctx))
		for i, s := range sessions {
			require.NoError(t, s.WaitConnected(ctx), "session %d", i)
			assert.Equal(t, ids[s], s.ID(), "session %d is another session", i)
			mu, err := lock.New(s, "/tls/restart")
			require.NoError(t, err)
			h, err := mu.Lock(ctx)
			require.NoError(t, err, "session %d after member %d restarted", i, m.ID())
			require.NoError(t, h.Unlock(ctx))
		}
	}
}
