package leader_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
)

var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

func session(t testing.TB, servers []string, opts ...recipes.Option) *recipes.Session {
	if servers == nil {
		servers = cluster.Servers()
	}
	return testutil.Session(t, servers, opts...)
}

func election(t testing.TB, s *recipes.Session, path string) *leader.Election {
	t.Helper()
	e, err := leader.New(s, path)
	require.NoError(t, err)
	return e
}

var ctxFor = testutil.Ctx

var testPath = testutil.Path

var waitFor = testutil.WaitFor

// term is the outcome of a Campaign made in a goroutine.
type term struct {
	l     *leader.Leadership
	err   error
	at    time.Time
	alone bool // just after the grant, no contender was queued ahead of ours
}

// campaign starts a candidate and waits until it is queued.
func campaign(t *testing.T, ctx context.Context, e *leader.Election, value string, queued int) <-chan term {
	t.Helper()
	ch := make(chan term, 1)
	go func() {
		l, err := e.Campaign(ctx, []byte(value))
		at := time.Now()
		var alone bool
		if err == nil {
			// Nodes join behind ours: one ahead now was there at the grant.
			cs, cerr := e.Contenders(ctx)
			alone = cerr == nil && len(cs) > 0 && cs[0].Path == l.Path()
		}
		ch <- term{l, err, at, alone}
	}()
	require.NoError(t, waitFor(ctx, func() bool {
		cs, err := e.Contenders(ctx)
		return err == nil && len(cs) == queued
	}))
	return ch
}

// servers returns the ensemble the examples use, as a program would read
// it from its configuration (e.g. "zk1:2181,zk2:2181,zk3:2181"): here the
// shared cluster's.
func servers() []string { return cluster.Servers() }
