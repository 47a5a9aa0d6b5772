package core

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

// cluster is a real ZooKeeper server for the tests of the core that need
// one; the pure-logic tests do not touch it.
var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

func testSession(t *testing.T) *Session {
	t.Helper()
	servers := cluster.Servers() // first: it may start the cluster
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Connect(ctx, servers, DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}
