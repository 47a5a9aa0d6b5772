package integration_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// cluster is one real ZooKeeper server shared by the suites in this
// package; each test uses paths of its own.
var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

func session(t testing.TB) *recipes.Session {
	t.Helper()
	s, err := recipes.Connect(ctxFor(t, 30*time.Second), cluster.Servers())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// quietLogger keeps expected session losses out of the test output.
var quietLogger = slog.New(slog.DiscardHandler)
