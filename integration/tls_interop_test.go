package integration_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestCuratorKazooAndOursQueueOverTLS: Curator (Netty's client socket,
// secure client) and Kazoo (use_ssl) queue with ours on one mutex path of
// a server that serves TLS, each verifying the server with the test's
// authority: one holder at a time, in the order they queued.
func TestCuratorKazooAndOursQueueOverTLS(t *testing.T) {
	c := zktest.Start(t, zktest.WithTLS())
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/tls-mutex"
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, c.TLS().CAPEM, 0o644))
	secure := strings.Join(c.SecureServers(), ",")
	java := interop.StartCuratorTLS(t, secure, ca)
	py := interop.StartKazooTLS(t, secure, ca)
	s, err := recipes.Connect(ctx, c.SecureServers(), recipes.WithTLS(&tls.Config{RootCAs: c.TLS().CA, MinVersion: tls.VersionTLS12}))
	require.NoError(t, err)
	defer s.Close()
	m, err := lock.New(s, path)
	require.NoError(t, err)

	ours, err := m.Lock(ctx)
	require.NoError(t, err)
	java.Send("lock " + path)
	waitContenders(t, ctx, m, 2)
	py.Send("lock " + path)
	waitContenders(t, ctx, m, 3)
	select {
	case line := <-java.Lines():
		t.Fatalf("Curator acquired while we hold: %q", line)
	case line := <-py.Lines():
		t.Fatalf("Kazoo acquired while we hold: %q", line)
	default:
	}
	require.NoError(t, ours.Unlock(ctx))
	_, err = java.Expect(ctx, "locked "+path)
	require.NoError(t, err)
	select {
	case line := <-py.Lines():
		t.Fatalf("Kazoo acquired while Curator holds: %q", line)
	default:
	}
	java.Send("unlock " + path)
	_, err = py.Expect(ctx, "locked "+path)
	require.NoError(t, err)
	_, err = m.TryLock(ctx)
	assert.ErrorIs(t, err, lock.ErrLocked, "we acquired while Kazoo holds")
	py.Send("unlock " + path)
	_, err = py.Expect(ctx, "unlocked "+path)
	require.NoError(t, err)
	h, err := m.TryLock(ctx)
	require.NoError(t, err)
	require.NoError(t, h.Unlock(ctx))
}
