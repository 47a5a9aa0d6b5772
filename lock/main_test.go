package lock_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// cluster is one real ZooKeeper server shared by the package's tests and
// examples; each test uses paths of its own.
var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

// session opens a session through servers (the shared cluster's by
// default) and closes it when the test ends.
func session(t testing.TB, servers []string, opts ...recipes.Option) *recipes.Session {
	t.Helper()
	if servers == nil {
		servers = cluster.Servers()
	}
	s, err := recipes.Connect(ctxFor(t, 30*time.Second), servers, opts...)
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

// testPath returns a path no other test uses.
func testPath(t testing.TB) string { return "/test/" + t.Name() }

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// waitContenders waits until the mutex has n contenders.
func waitContenders(t *testing.T, ctx context.Context, m interface {
	Contenders(context.Context) ([]recipes.Contender, error)
}, n int) {
	t.Helper()
	var last int
	err := waitFor(ctx, func() bool {
		cs, err := m.Contenders(ctx)
		last = len(cs)
		return err == nil && len(cs) == n
	})
	require.NoError(t, err, "want %d contenders, have %d", n, last)
}

// plainNode creates a persistent node for the test and deletes it after.
func plainNode(t *testing.T, s *recipes.Session, path string, data []byte) {
	t.Helper()
	_, err := s.Conn().Create(path, data, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	t.Cleanup(func() { s.Conn().Delete(path, -1) })
}
