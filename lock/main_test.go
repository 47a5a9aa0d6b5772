package lock_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// cluster is one real ZooKeeper server shared by the package's tests and
// examples; each test uses paths of its own.
var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

// session opens a session through servers (the shared cluster's by
// default) and closes it when the test ends.
func session(t testing.TB, servers []string, opts ...recipes.Option) *recipes.Session {
	if servers == nil {
		servers = cluster.Servers()
	}
	return testutil.Session(t, servers, opts...)
}

var ctxFor = testutil.Ctx

var testPath = testutil.Path

var waitFor = testutil.WaitFor

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

// churn has every mutex lock and unlock n times, all at once, and returns
// when they are done.
func churn(t *testing.T, ctx context.Context, mutexes []*lock.Mutex, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for _, m := range mutexes {
		wg.Go(func() {
			for range n {
				h, err := m.Lock(ctx)
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	wg.Wait()
}

// servers returns the ensemble the examples use, as a program would read
// it from its configuration (e.g. "zk1:2181,zk2:2181,zk3:2181"): here the
// shared cluster's.
func servers() []string { return cluster.Servers() }
