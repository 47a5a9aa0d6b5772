package rwlock_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

func session(t testing.TB, servers []string, opts ...recipes.Option) *recipes.Session {
	if servers == nil {
		servers = cluster.Servers()
	}
	return testutil.Session(t, servers, opts...)
}

// newRW returns a read-write lock at path on a session of its own.
func newRW(t testing.TB, path string) *rwlock.RWMutex {
	t.Helper()
	m, err := rwlock.New(session(t, nil), path)
	require.NoError(t, err)
	return m
}

var ctxFor = testutil.Ctx

var testPath = testutil.Path

var waitFor = testutil.WaitFor

func waitContenders(t *testing.T, ctx context.Context, m *rwlock.RWMutex, n int) {
	t.Helper()
	var have int
	err := waitFor(ctx, func() bool {
		cs, err := m.Contenders(ctx)
		have = len(cs)
		return err == nil && have == n
	})
	require.NoError(t, err, "want %d contenders, have %d", n, have)
}

// acquired is the outcome of a lock call made in a goroutine.
type acquired struct {
	hold *rwlock.Hold
	err  error
}

// start runs lock in a goroutine and waits until its node is queued (the
// lock then has n contenders).
func start(t *testing.T, ctx context.Context, m *rwlock.RWMutex, n int, lock func(context.Context) (*rwlock.Hold, error)) <-chan acquired {
	t.Helper()
	ch := make(chan acquired, 1)
	go func() {
		h, err := lock(ctx)
		ch <- acquired{h, err}
	}()
	waitContenders(t, ctx, m, n)
	return ch
}

// pending reports whether a started lock call has not returned yet.
func pending(ch <-chan acquired) bool { return len(ch) == 0 }

// servers returns the ensemble the examples use, as a program would read
// it from its configuration (e.g. "zk1:2181,zk2:2181,zk3:2181"): here the
// shared cluster's.
func servers() []string { return cluster.Servers() }
