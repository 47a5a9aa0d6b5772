package recipes

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

// cluster is a real ZooKeeper server for the tests of the core that need
// one; the pure-logic tests do not touch it.
var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := zktest.Run(ctx, zktest.Image(), zktest.Quiet())
	if err != nil {
		fmt.Fprintln(os.Stderr, "start ZooKeeper:", err)
		if c != nil {
			c.Terminate(context.Background())
		}
		return 1
	}
	cluster = c
	// Examples read the servers as a program would.
	os.Setenv("ZK_SERVERS", c.ConnectString())
	code := m.Run()
	if err := c.Terminate(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "terminate ZooKeeper:", err)
		return 1
	}
	if code != 0 {
		return code
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
		return 1
	}
	return 0
}

func testSession(t *testing.T) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Connect(ctx, cluster.Servers())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}
