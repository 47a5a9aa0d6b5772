package rwlock_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

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

// newRW returns a read-write lock at path on a session of its own.
func newRW(t testing.TB, path string) *rwlock.RWMutex {
	t.Helper()
	m, err := rwlock.New(session(t, nil), path)
	require.NoError(t, err)
	return m
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func testPath(t testing.TB) string { return "/test/" + t.Name() }

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
