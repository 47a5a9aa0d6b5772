package barrier_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/recipes"
)

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

// children returns the children of path as a fresh session sees them.
func children(t *testing.T, s *recipes.Session, path string) []string {
	t.Helper()
	c, _, err := s.Conn().Children(path)
	if err != nil {
		return nil
	}
	return c
}
