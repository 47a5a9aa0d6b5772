package leader_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
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

func election(t testing.TB, s *recipes.Session, path string) *leader.Election {
	t.Helper()
	e, err := leader.New(s, path)
	require.NoError(t, err)
	return e
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

// term is the outcome of a Campaign made in a goroutine.
type term struct {
	l   *leader.Leadership
	err error
	at  time.Time
}

// campaign starts a candidate and waits until it is queued.
func campaign(t *testing.T, ctx context.Context, e *leader.Election, value string, queued int) <-chan term {
	t.Helper()
	ch := make(chan term, 1)
	go func() {
		l, err := e.Campaign(ctx, []byte(value))
		ch <- term{l, err, time.Now()}
	}()
	require.NoError(t, waitFor(ctx, func() bool {
		cs, err := e.Contenders(ctx)
		return err == nil && len(cs) == queued
	}))
	return ch
}
